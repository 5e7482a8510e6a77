/**
 * The gateway runs as root and works inside folders the agent owns: its
 * workspace, inbox, engine state and memory. Here the agent's moves are
 * played directly on disk (a symlink to a host folder, a dangling one, a
 * FIFO, a huge file) against the real functions, and the host folder is
 * stat-ed before and after: nothing outside the agent's trees may change.
 * planted-links-container.test.ts plays the same moves from inside real containers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, truncateSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureHome } from '../src/config/home.ts';
import { writeInbox } from '../src/inbox/inbox.ts';
import { closeDir, listOutbox, makeDir, openDir, readAgentFile, removeTree, UnsafePathError } from '../src/inbox/safe-fs.ts';
import { MemoryRepo } from '../src/memory/memory-repo.ts';
import { MEMORY_LIMITS, MemoryCommitRefused } from '../src/memory/work-tree-check.ts';
import { dataDirs, prepareDataDirs } from '../src/sandbox/data-dirs.ts';
import { AGENT_UID } from '../src/sandbox/profile.ts';
import { hostFolder } from './support/host-folder.ts';

const root = mkdtempSync(join(tmpdir(), 'nct-links-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const asRoot = process.getuid?.() === 0;


function workspace() {
  const ws = join(root, `ws-${++n}`);
  mkdirSync(ws);
  return ws;
}

const plants = {
  'a symlink to a host folder': (path: string, host: string) => symlinkSync(host, path),
  'a dangling symlink': (path: string) => symlinkSync(join(root, 'not-there'), path),
  'a FIFO': (path: string) => execFileSync('mkfifo', [path]),
};

describe('folders the gateway makes in agent trees', () => {
  for (const [what, plant] of Object.entries(plants)) {
    it(`makeDir refuses ${what} in place of the folder, and changes nothing it points to`, () => {
      const host = hostFolder(root);
      const ws = workspace();
      plant(join(ws, 'inbox'), host.dir);
      const parent = openDir(ws);
      try {
        assert.throws(() => makeDir(parent, 'inbox', { owner: AGENT_UID, reown: true }), UnsafePathError);
      } finally {
        closeDir(parent);
      }
      assert.deepEqual(host.snap(), host.before);
    });
  }

  it('prepareDataDirs gives a resumed workspace to the agent and leaves a planted inbox link (and its target) alone', () => {
    const host = hostFolder(root);
    const layout = ensureHome(join(root, `home-${++n}`));
    const dirs = dataDirs(layout, 'conv-a');
    prepareDataDirs(dirs);
    if (asRoot) assert.equal(statSync(join(dirs.workspace, 'inbox')).uid, AGENT_UID);
    rmSync(join(dirs.workspace, 'inbox'), { recursive: true });
    symlinkSync(host.dir, join(dirs.workspace, 'inbox'));
    const reported: string[] = [];
    prepareDataDirs(dirs, (err) => reported.push(err.message));
    assert.deepEqual(host.snap(), host.before);
    assert.match(reported.join(), /inbox is a symlink; it is never followed/);
    assert.ok(lstatSync(join(dirs.workspace, 'inbox')).isSymbolicLink(), 'the link is left for the agent to remove');
    if (asRoot) for (const d of [dirs.workspace, dirs.state]) assert.equal(statSync(d).uid, AGENT_UID);
  });

  it('prepareDataDirs refuses a workspace that is a symlink: the container does not start on it', () => {
    const host = hostFolder(root);
    const layout = ensureHome(join(root, `home-${++n}`));
    const dirs = dataDirs(layout, 'conv-b');
    mkdirSync(dirs.dataDir);
    symlinkSync(host.dir, dirs.workspace);
    assert.throws(() => prepareDataDirs(dirs), /workspace is a symlink/);
    assert.deepEqual(host.snap(), host.before);
  });
});

describe('attachments into a replaced inbox', () => {
  for (const [what, plant] of Object.entries(plants)) {
    it(`refuses every attachment when the inbox is ${what}, tells the agent and audits it`, () => {
      const host = hostFolder(root);
      const ws = workspace();
      plant(join(ws, 'inbox'), host.dir);
      const audit: Array<[string, Record<string, unknown>]> = [];
      const { notes: note, saved } = writeInbox([{ name: 'cron', data: Buffer.from('* * * * * evil') }, { name: 'b.txt', data: Buffer.from('x') }], ws, { maxBytes: 1024, audit: (t, d) => audit.push([t, d]) });
      assert.deepEqual(saved, []);
      assert.match(note, /An attachment could not be saved: the inbox is not a real folder: \/workspace\/inbox .*remove \/workspace\/inbox/);
      assert.doesNotMatch(note, new RegExp(root), 'the host path is not shown to the agent');
      assert.deepEqual(audit.map(([t]) => t), ['attachment.refused', 'attachment.refused']);
      assert.deepEqual(host.snap(), host.before);
    });
  }

  it('makes a deleted inbox again (for the agent) and stores the attachment', () => {
    const ws = workspace();
    const { saved, notes } = writeInbox([{ name: 'a.txt', data: Buffer.from('hello') }], ws, { maxBytes: 1024 });
    assert.deepEqual(saved, [{ path: '/workspace/inbox/a.txt', bytes: 5 }]);
    assert.equal(notes, '');
    assert.equal(readFileSync(join(ws, 'inbox', 'a.txt'), 'utf8'), 'hello');
    if (asRoot) assert.equal(statSync(join(ws, 'inbox')).uid, AGENT_UID);
  });
});

describe('files the agent leaves in its outbox', () => {
  const limits = { maxFileBytes: 1024, maxTotalBytes: 4096, maxFiles: 10 };
  const outbox = () => {
    const ws = workspace();
    mkdirSync(join(ws, 'outbox'));
    return { ws, box: join(ws, 'outbox') };
  };

  it('reads regular files under sanitised, unique names and refuses links, FIFOs, folders and huge files without blocking', () => {
    const host = hostFolder(root);
    const { ws, box } = outbox();
    writeFileSync(join(box, 'report.txt'), 'the report');
    writeFileSync(join(box, '-rf \u202Etxt.exe'), 'x');
    writeFileSync(join(box, '.rf \u202Etxt.exe'), 'y');
    symlinkSync(join(host.dir, 'keep.txt'), join(box, 'secret.txt'));
    symlinkSync(join(root, 'not-there'), join(box, 'dangling'));
    execFileSync('mkfifo', [join(box, 'pipe')]);
    mkdirSync(join(box, 'folder'));
    writeFileSync(join(box, 'huge.bin'), '');
    truncateSync(join(box, 'huge.bin'), 10 * 1024 ** 3);
    const got = listOutbox(ws, limits);
    const sent = got.filter((e) => e.ok);
    assert.deepEqual(sent.map((e) => [e.name, e.data.toString()]).sort(), [['_rf txt.exe', 'x'], ['report.txt', 'the report'], ['rf txt.exe', 'y']]);
    const refused = Object.fromEntries(got.filter((e) => !e.ok).map((e) => [e.original, e.reason]));
    assert.deepEqual(Object.keys(refused).sort(), ['dangling', 'folder', 'huge.bin', 'pipe', 'secret.txt']);
    assert.match(refused['secret.txt'], /symlink; it is never followed/);
    assert.match(refused.pipe, /not a regular file/);
    assert.match(refused['huge.bin'], /10737418240 bytes, over the limit of 1024/);
    for (const reason of Object.values(refused)) assert.doesNotMatch(reason, new RegExp(root), 'host paths are not shown to the agent');
    assert.deepEqual(host.snap(), host.before);
  });

  it('gives sanitised names that collide distinct names, and stops at the total and count limits', () => {
    const { ws, box } = outbox();
    for (const name of ['a.txt', '.a.txt', 'b1', 'b2', 'b3', 'b4', 'b5']) writeFileSync(join(box, name), 'z'.repeat(1000));
    const got = listOutbox(ws, { maxFileBytes: 1024, maxTotalBytes: 4096, maxFiles: 3 });
    const sent = got.filter((e) => e.ok);
    assert.equal(sent.length, 3);
    assert.equal(new Set(sent.map((e) => e.name)).size, 3, 'no two files share a name');
    assert.ok(got.filter((e) => !e.ok).every((e) => /more than 3 files|over the limit/.test(e.reason)));
    const total = listOutbox(ws, { maxFileBytes: 1024, maxTotalBytes: 2500, maxFiles: 10 });
    assert.equal(total.filter((e) => e.ok).length, 2, 'the third 1000-byte file would pass the 2500-byte total');
  });

  for (const [what, plant] of Object.entries(plants)) {
    it(`refuses an outbox that is ${what}, and reads nothing through it`, () => {
      const host = hostFolder(root);
      const ws = workspace();
      plant(join(ws, 'outbox'), host.dir);
      assert.throws(() => listOutbox(ws, limits), UnsafePathError);
      assert.deepEqual(host.snap(), host.before);
    });
  }

  it('treats a missing outbox as empty', () => {
    assert.deepEqual(listOutbox(workspace(), limits), []);
  });
});

describe('memory commits', () => {
  const tiny = { ...MEMORY_LIMITS, maxFileBytes: 1024, maxTotalBytes: 4096, maxEntries: 50 };
  async function repo() {
    const layout = ensureHome(join(root, `home-${++n}`));
    const mem = new MemoryRepo(layout, 'conv-m', tiny);
    await mem.ensure();
    writeFileSync(join(mem.workTree, 'note.md'), 'remember');
    return mem;
  }
  const git = (mem: MemoryRepo, ...args: string[]) => execFileSync('git', [`--git-dir=${mem.gitDir}`, ...args], { encoding: 'utf8' });

  it('records a planted link as a link, never what it points to', async () => {
    const host = hostFolder(root);
    const mem = await repo();
    symlinkSync(host.dir, join(mem.workTree, 'host'));
    symlinkSync(join(root, 'not-there'), join(mem.workTree, 'dangling'));
    const commit = await mem.commit('turn 1');
    assert.deepEqual(commit?.files.sort(), ['dangling', 'host', 'note.md']);
    assert.match(git(mem, 'ls-tree', 'HEAD', 'host'), /^120000 blob/);
    assert.equal(git(mem, 'show', 'HEAD:host'), host.dir);
    assert.deepEqual(host.snap(), host.before);
  });

  for (const [what, setup] of Object.entries({
    'a FIFO named .gitattributes (git would wait on it forever)': (wt: string) => execFileSync('mkfifo', [join(wt, '.gitattributes')]),
    'a FIFO deep in a folder': (wt: string) => { mkdirSync(join(wt, 'a/b'), { recursive: true }); execFileSync('mkfifo', [join(wt, 'a/b/pipe')]); },
    'a file over the per-file cap': (wt: string) => writeFileSync(join(wt, 'big.bin'), Buffer.alloc(1025)),
    'files over the total cap': (wt: string) => { for (let i = 0; i < 5; i++) writeFileSync(join(wt, `f${i}`), Buffer.alloc(1000)); },
    'too many entries': (wt: string) => { for (let i = 0; i < 60; i++) writeFileSync(join(wt, `e${i}`), ''); },
  })) {
    it(`refuses the commit, with what to fix, for ${what}; the next commit works once it is gone`, async () => {
      const mem = await repo();
      const before = readdirSync(mem.workTree);
      setup(mem.workTree);
      await assert.rejects(mem.commit('turn 1'), (err: Error) => err instanceof MemoryCommitRefused && /Memory was not committed: .*Fix it in \/memory/.test(err.message));
      for (const entry of readdirSync(mem.workTree)) if (!before.includes(entry)) rmSync(join(mem.workTree, entry), { recursive: true });
      assert.deepEqual((await mem.commit('turn 2'))?.files, ['note.md']);
    });
  }

  it('ensure refuses a work tree that is a symlink instead of re-owning its target', async () => {
    const host = hostFolder(root);
    const layout = ensureHome(join(root, `home-${++n}`));
    symlinkSync(host.dir, join(layout.memory, 'conv-l'));
    await assert.rejects(new MemoryRepo(layout, 'conv-l').ensure(), UnsafePathError);
    assert.deepEqual(host.snap(), host.before);
  });
});

describe('deleting a workspace', () => {
  it('removes planted links, dangling links and FIFOs without touching what they point to', () => {
    const host = hostFolder(root);
    const data = join(root, `data-${++n}`);
    mkdirSync(join(data, 'workspace/deep'), { recursive: true });
    symlinkSync(host.dir, join(data, 'workspace/host'));
    symlinkSync(join(host.dir, 'keep.txt'), join(data, 'workspace/deep/keep-link'));
    symlinkSync(join(root, 'not-there'), join(data, 'workspace/dangling'));
    execFileSync('mkfifo', [join(data, 'workspace/fifo')]);
    removeTree(data);
    assert.ok(!existsSync(data));
    assert.deepEqual(host.snap(), host.before);
  });

  it('refuses a data folder that is itself a link', () => {
    const host = hostFolder(root);
    const link = join(root, `data-${++n}`);
    symlinkSync(host.dir, link);
    assert.throws(() => removeTree(link), /not a folder/);
    assert.deepEqual(host.snap(), host.before);
  });
});

describe('reading a file the agent hands out', () => {
  it('reads a regular file under the cap', () => {
    const ws = workspace();
    mkdirSync(join(ws, 'outbox'));
    writeFileSync(join(ws, 'outbox/r.txt'), 'report');
    assert.equal(readAgentFile(ws, 'outbox/r.txt', 100).toString(), 'report');
  });

  it('refuses a link (as the file or a folder on the way), a FIFO without blocking, "..", and a file over the cap', () => {
    const host = hostFolder(root);
    const ws = workspace();
    mkdirSync(join(ws, 'outbox'));
    symlinkSync(join(host.dir, 'keep.txt'), join(ws, 'outbox/link.txt'));
    symlinkSync(host.dir, join(ws, 'linked'));
    execFileSync('mkfifo', [join(ws, 'outbox/pipe')]);
    writeFileSync(join(ws, 'outbox/big'), Buffer.alloc(101));
    assert.throws(() => readAgentFile(ws, 'outbox/link.txt', 100), /is a symlink/);
    assert.throws(() => readAgentFile(ws, 'linked/keep.txt', 100), /linked is a symlink/);
    assert.throws(() => readAgentFile(ws, 'outbox/pipe', 100), /not a regular file/);
    assert.throws(() => readAgentFile(ws, '../x', 100), /without "\.\."/);
    assert.throws(() => readAgentFile(ws, 'outbox/big', 100), /over the limit of 100/);
    assert.deepEqual(host.snap(), host.before);
  });
});
