/**
 * The built-in engine's core tools (runner/src/engines/builtin/tools) on
 * real processes, real files in a temporary folder and a real egress proxy:
 * what each tool answers, where it stops (time, output, size), and what it
 * refuses (special files, links to non-files, ambiguous edits, hosts off the
 * allowlist). grep and glob need ripgrep (`rg`, in the agent image) on PATH.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, closeSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { coreTools, type Tool, type ToolContext } from '../runner/src/engines/builtin/tools/index.ts';
import { EgressPolicy } from '../src/sandbox/egress-policy.ts';
import { startEgressProxy, type EgressDecision, type EgressProxy } from '../src/sandbox/egress-proxy.ts';

const tools = new Map(coreTools().map((t) => [t.def.name, t]));
const tool = (name: string): Tool => tools.get(name)!;

const hasRipgrep = (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, 'rg')));
const needsRg = hasRipgrep ? {} : { skip: 'ripgrep (rg) is not on PATH here' };

/** A process counts as gone once it no longer exists or is a zombie waiting for its parent. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until<T>(what: string, check: () => T): Promise<NonNullable<T>> {
  for (let i = 0; i < 500; i++) {
    const v = check();
    if (v) return v as NonNullable<T>;
    await sleep(20);
  }
  throw new Error(`gave up waiting until ${what}`);
}

describe('built-in engine core tools', () => {
  let dir: string;
  let ctx: ToolContext;
  const strays: number[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ncbt-'));
    ctx = { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }, signal: new AbortController().signal };
  });
  after(() => {
    for (const pid of strays) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  });

  describe('definitions', () => {
    it('offers shell, read, write, edit, glob, grep and web_fetch, each with a described JSON Schema object input', () => {
      assert.deepEqual([...tools.keys()], ['shell', 'read', 'write', 'edit', 'glob', 'grep', 'web_fetch']);
      for (const t of tools.values()) {
        assert.equal(t.def.inputSchema.type, 'object', t.def.name);
        assert.ok(Object.keys(t.def.inputSchema.properties as object).length > 0, t.def.name);
        assert.ok(t.def.description.length > 80, `${t.def.name} tells the model what it does and its bounds`);
      }
      assert.deepEqual(tool('edit').def.inputSchema.required, ['path', 'old_text', 'new_text']);
    });

    it('answers a malformed input with a readable error naming the field, without running anything', async () => {
      const out = await tool('shell').run({ command: 42 }, ctx);
      assert.equal(out.isError, true);
      assert.match(out.text, /Invalid input for shell: command: .*expected string/);
      const late = await tool('shell').run({ command: 'true', timeoutSec: 601 }, ctx);
      assert.equal(late.isError, true);
      assert.match(late.text, /timeoutSec/);
    });
  });

  describe('shell', () => {
    it('runs the command in the workspace with the given environment, stdout and stderr interleaved, and reports the exit code', async () => {
      const out = await tool('shell').run({ command: 'echo one; echo two >&2; echo "$GREETING from $(pwd)"; exit 3' }, { ...ctx, env: { ...ctx.env, GREETING: 'hello' } });
      assert.equal(out.isError, true);
      assert.equal(out.text, `one\ntwo\nhello from ${dir}\n\nExit code 3.`);
      const ok = await tool('shell').run({ command: 'echo fine' }, ctx);
      assert.ok(!ok.isError);
      assert.equal(ok.text, 'fine\n\nExit code 0.');
    });

    it('gives the command an empty stdin, so a program waiting for input ends', async () => {
      const out = await tool('shell').run({ command: 'cat; echo "read: $(wc -c)"' }, ctx);
      assert.equal(out.text, 'read: 0\n\nExit code 0.');
    });

    it('on timeout kills the whole process group, including children that ignore SIGTERM', async () => {
      const pidFile = join(dir, 'stubborn.pid');
      // Ignored signals stay ignored across exec: both the shell and its background sleep shrug off SIGTERM.
      const out = await tool('shell').run({ command: `trap '' TERM; sleep 300 & echo $! > ${pidFile}; echo started; wait`, timeoutSec: 1 }, ctx);
      assert.equal(out.isError, true);
      assert.match(out.text, /^started\n/);
      assert.match(out.text, /Timed out after 1 s: the command and everything it started were killed/);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      strays.push(pid);
      await until('the background sleep is killed', () => !alive(pid));
    });

    it('stops when the turn is interrupted', async () => {
      const pidFile = join(dir, 'interrupted.pid');
      const abort = new AbortController();
      const running = tool('shell').run({ command: `sleep 300 & echo $! > ${pidFile}; wait` }, { ...ctx, signal: abort.signal });
      const pid = await until('the command started', () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0));
      strays.push(pid);
      abort.abort();
      const out = await running;
      assert.equal(out.isError, true);
      assert.match(out.text, /Interrupted/);
      await until('the sleep is killed', () => !alive(pid));
    });

    it('keeps the head and tail of a long output and says how much was cut', async () => {
      const out = await tool('shell').run({ command: 'seq 1 100000' }, ctx);
      assert.ok(out.text.length < 30_500, `clipped to about 30 000 characters, got ${out.text.length}`);
      assert.match(out.text, /^1\n2\n3\n/);
      assert.match(out.text, /99999\n100000\n\nExit code 0\.$/);
      const cut = Number(/\[\.\.\. (\d+) characters cut from the middle of the output \.\.\.\]/.exec(out.text)?.[1]);
      assert.equal(cut, 588_895 - 30_000, 'seq 1 100000 prints 588 895 characters');
    });

    it('returns when the command ends even if a background process still holds its output', async () => {
      const pidFile = join(dir, 'background.pid');
      const out = await tool('shell').run({ command: `sleep 300 & echo $! > ${pidFile}; echo left running` }, ctx);
      strays.push(Number(readFileSync(pidFile, 'utf8')));
      assert.ok(!out.isError);
      assert.match(out.text, /^left running\n\nExit code 0\. A background process still holds the output/);
    });
  });

  describe('read', () => {
    it('numbers lines and reads on from an offset, saying where the next window starts', async () => {
      writeFileSync(join(dir, 'long.txt'), Array.from({ length: 2500 }, (_, i) => `line ${i + 1}`).join('\n') + '\n');
      const first = await tool('read').run({ path: 'long.txt' }, ctx);
      const lines = first.text.split('\n');
      assert.equal(lines[0], '     1\tline 1');
      assert.equal(lines[1999], '  2000\tline 2000');
      assert.match(first.text, /Lines 1-2000 shown; the file goes on\. Call read with offset 2001 to continue\.\]$/);
      const rest = await tool('read').run({ path: join(dir, 'long.txt'), offset: 2001 }, ctx);
      assert.equal(rest.text.split('\n').length, 500);
      assert.match(rest.text, /^  2001\tline 2001\n/);
      assert.match(rest.text, /  2500\tline 2500$/);
      const window = await tool('read').run({ path: 'long.txt', offset: 10, limit: 2 }, ctx);
      assert.equal(window.text, '    10\tline 10\n    11\tline 11\n\n[Lines 10-11 shown; the file goes on. Call read with offset 12 to continue.]');
    });

    it('stops at 50 000 characters per call and cuts very long lines', async () => {
      writeFileSync(join(dir, 'wide.txt'), Array.from({ length: 100 }, () => 'x'.repeat(1500)).join('\n') + '\n' + 'y'.repeat(10_000));
      const out = await tool('read').run({ path: 'wide.txt' }, ctx);
      assert.ok(out.text.length <= 50_200);
      assert.match(out.text, /Lines 1-33 shown; the file goes on\. Call read with offset 34/);
      const last = await tool('read').run({ path: 'wide.txt', offset: 101 }, ctx);
      assert.match(last.text, /^   101\ty{2000}\.\.\. \[line cut: 10000 characters\]$/);
    });

    it('refuses a folder and suggests glob', async () => {
      const out = await tool('read').run({ path: '.' }, ctx);
      assert.equal(out.isError, true);
      assert.match(out.text, /is a folder, not a file\. Use glob/);
    });

    it('refuses a named pipe without opening it (the call does not hang), also through a link', async () => {
      const fifo = join(dir, 'pipe');
      execFileSync('mkfifo', [fifo]);
      symlinkSync(fifo, join(dir, 'pipe-link'));
      for (const path of ['pipe', 'pipe-link']) {
        const out = await tool('read').run({ path }, ctx);
        assert.equal(out.isError, true);
        assert.match(out.text, /is not a regular file \(a named pipe\)/);
      }
      const device = await tool('read').run({ path: '/dev/zero' }, ctx);
      assert.match(device.text, /not a regular file \(a device\)/);
    });

    it('refuses a binary file, saying its size', async () => {
      writeFileSync(join(dir, 'blob.bin'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]));
      const out = await tool('read').run({ path: 'blob.bin' }, ctx);
      assert.equal(out.isError, true);
      assert.match(out.text, /is a binary file \(8 bytes\)/);
    });

    it('says when a file is missing or empty', async () => {
      assert.match((await tool('read').run({ path: 'nope.txt' }, ctx)).text, /No such file: .*nope\.txt\. Use glob/);
      writeFileSync(join(dir, 'empty.txt'), '');
      assert.match((await tool('read').run({ path: 'empty.txt' }, ctx)).text, /is empty/);
    });
  });

  describe('write', () => {
    it('creates missing folders and reports the bytes written', async () => {
      const out = await tool('write').run({ path: 'new/deep/file.txt', content: 'héllo\n' }, ctx);
      assert.ok(!out.isError);
      assert.equal(out.text, `Created ${join(dir, 'new/deep/file.txt')}: wrote 7 bytes.`);
      assert.equal(readFileSync(join(dir, 'new/deep/file.txt'), 'utf8'), 'héllo\n');
    });

    it('replaces a file atomically: a reader of the old file still sees it whole, permissions stay, no temporary file is left', async () => {
      const path = join(dir, 'script.sh');
      writeFileSync(path, 'old content\n');
      chmodSync(path, 0o755);
      const reader = openSync(path, 'r');
      try {
        const out = await tool('write').run({ path: 'script.sh', content: 'new content\n' }, ctx);
        assert.match(out.text, /^Replaced .*script\.sh: wrote 12 bytes\.$/);
        const buf = Buffer.alloc(100);
        assert.equal(buf.subarray(0, readSync(reader, buf, 0, 100, 0)).toString(), 'old content\n');
      } finally {
        closeSync(reader);
      }
      assert.equal(readFileSync(path, 'utf8'), 'new content\n');
      assert.equal(statSync(path).mode & 0o777, 0o755);
      assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    });

    it('refuses content over 5 MB', async () => {
      const out = await tool('write').run({ path: 'huge.txt', content: 'x'.repeat(5 * 1024 * 1024 + 1) }, ctx);
      assert.equal(out.isError, true);
      assert.match(out.text, /more than the 5242880 a write takes/);
      assert.equal(existsSync(join(dir, 'huge.txt')), false);
    });

    it('writes through a link to a regular file, keeping the link, and refuses links to anything else', async () => {
      writeFileSync(join(dir, 'real.txt'), 'real\n');
      symlinkSync(join(dir, 'real.txt'), join(dir, 'to-real'));
      mkdirSync(join(dir, 'a-folder'));
      symlinkSync(join(dir, 'a-folder'), join(dir, 'to-folder'));
      symlinkSync(join(dir, 'nowhere.txt'), join(dir, 'dangling'));
      symlinkSync('/dev/null', join(dir, 'to-device'));

      const through = await tool('write').run({ path: 'to-real', content: 'changed\n' }, ctx);
      assert.match(through.text, /Replaced .*real\.txt \(through the link .*to-real\)/);
      assert.equal(readFileSync(join(dir, 'real.txt'), 'utf8'), 'changed\n');
      assert.ok(lstatSync(join(dir, 'to-real')).isSymbolicLink());

      assert.match((await tool('write').run({ path: 'to-folder', content: 'x' }, ctx)).text, /which is not a regular file/);
      assert.match((await tool('write').run({ path: 'dangling', content: 'x' }, ctx)).text, /which does not exist; files are not created through links/);
      assert.equal(existsSync(join(dir, 'nowhere.txt')), false);
      assert.match((await tool('write').run({ path: 'to-device', content: 'x' }, ctx)).text, /which is not a regular file/);
      assert.match((await tool('write').run({ path: 'a-folder', content: 'x' }, ctx)).text, /is a folder/);
    });

    it('refuses a named pipe without hanging', async () => {
      execFileSync('mkfifo', [join(dir, 'write-pipe')]);
      const out = await tool('write').run({ path: 'write-pipe', content: 'x' }, ctx);
      assert.equal(out.isError, true);
      assert.match(out.text, /not a regular file/);
    });
  });

  describe('edit', () => {
    const file = () => join(dir, 'code.ts');
    const code = 'const a = 1;\nconst b = 2;\nfunction f() {\n  return a;\n}\nexport { a, b, f };\n';

    it('replaces a unique piece and answers with the changed lines in context', async () => {
      writeFileSync(file(), code);
      const out = await tool('edit').run({ path: 'code.ts', old_text: '  return a;', new_text: '  return a + b;' }, ctx);
      assert.ok(!out.isError);
      assert.equal(out.text, `Edited ${file()}: replaced 1 occurrence.\n@@ line 4 @@\n const b = 2;\n function f() {\n-  return a;\n+  return a + b;\n }\n export { a, b, f };`);
      assert.equal(readFileSync(file(), 'utf8'), code.replace('  return a;', '  return a + b;'));
    });

    it('refuses old_text that occurs more than once, saying how often and where, unless replace_all is set', async () => {
      writeFileSync(file(), code);
      const out = await tool('edit').run({ path: 'code.ts', old_text: 'const', new_text: 'let' }, ctx);
      assert.equal(out.isError, true);
      assert.match(out.text, /old_text occurs 2 times in .* \(at lines 1, 2\)\. Include more surrounding lines/);
      assert.equal(readFileSync(file(), 'utf8'), code);
      const all = await tool('edit').run({ path: 'code.ts', old_text: 'const', new_text: 'let', replace_all: true }, ctx);
      assert.match(all.text, /replaced 2 occurrences/);
      assert.equal(readFileSync(file(), 'utf8'), code.replaceAll('const', 'let'));
    });

    it('refuses old_text that is not in the file and leaves it unchanged', async () => {
      writeFileSync(file(), code);
      const out = await tool('edit').run({ path: 'code.ts', old_text: 'const c = 3;', new_text: 'x' }, ctx);
      assert.equal(out.isError, true);
      assert.match(out.text, /old_text was not found/);
      assert.equal(readFileSync(file(), 'utf8'), code);
    });

    it('falls back to a match that ignores trailing whitespace and curly quotes, changing only the matched range', async () => {
      const prose = 'Title “kept”\nShe said “hello” — twice.   \nNext line.\n';
      writeFileSync(join(dir, 'prose.md'), prose);
      const out = await tool('edit').run({ path: 'prose.md', old_text: 'She said "hello" - twice.\nNext', new_text: 'She said "bye".\nNext' }, ctx);
      assert.ok(!out.isError);
      assert.match(out.text, /matched ignoring trailing whitespace and quote\/dash style/);
      assert.equal(readFileSync(join(dir, 'prose.md'), 'utf8'), 'Title “kept”\nShe said "bye".\nNext line.\n');
    });

    it('edits through a link to a regular file and refuses a link to a folder or a missing file', async () => {
      writeFileSync(join(dir, 'target.txt'), 'alpha\n');
      symlinkSync(join(dir, 'target.txt'), join(dir, 'edit-link'));
      const out = await tool('edit').run({ path: 'edit-link', old_text: 'alpha', new_text: 'beta' }, ctx);
      assert.ok(!out.isError);
      assert.equal(readFileSync(join(dir, 'target.txt'), 'utf8'), 'beta\n');
      assert.ok(lstatSync(join(dir, 'edit-link')).isSymbolicLink());
      mkdirSync(join(dir, 'edit-folder'));
      symlinkSync(join(dir, 'edit-folder'), join(dir, 'edit-folder-link'));
      assert.match((await tool('edit').run({ path: 'edit-folder-link', old_text: 'a', new_text: 'b' }, ctx)).text, /not a regular file/);
      assert.match((await tool('edit').run({ path: 'missing.txt', old_text: 'a', new_text: 'b' }, ctx)).text, /No such file: .*Use write to create/);
    });
  });

  describe('glob', () => {
    let tree: string;
    before(() => {
      tree = join(dir, 'tree');
      mkdirSync(join(tree, 'src/deep'), { recursive: true });
      mkdirSync(join(tree, '.git'));
      const files: Array<[string, number]> = [['src/old.ts', 1_000_000], ['src/deep/newest.ts', 3_000_000], ['src/middle.ts', 2_000_000], ['README.md', 2_500_000], ['.git/HEAD.ts', 4_000_000], ['.hidden.ts', 500_000]];
      for (const [name, mtime] of files) {
        writeFileSync(join(tree, name), 'x\n');
        utimesSync(join(tree, name), mtime, mtime);
      }
    });

    it('lists matching files at any depth as absolute paths, newest first, hidden ones but never .git', needsRg, async () => {
      const out = await tool('glob').run({ pattern: '*.ts', path: 'tree' }, ctx);
      assert.ok(!out.isError);
      assert.equal(out.text, ['src/deep/newest.ts', 'src/middle.ts', 'src/old.ts', '.hidden.ts'].map((f) => join(tree, f)).join('\n'));
      const anchored = await tool('glob').run({ pattern: 'src/*.ts', path: tree }, ctx);
      assert.equal(anchored.text, ['src/middle.ts', 'src/old.ts'].map((f) => join(tree, f)).join('\n'));
      assert.match((await tool('glob').run({ pattern: '*.py', path: 'tree' }, ctx)).text, /^No files under .* match \*\.py\.$/);
    });

    it('lists at most 500 paths and says how many matched', needsRg, async () => {
      const many = join(dir, 'many');
      mkdirSync(many);
      for (let i = 0; i < 620; i++) writeFileSync(join(many, `f${i}.txt`), '');
      const out = await tool('glob').run({ pattern: '*.txt', path: 'many' }, ctx);
      const lines = out.text.split('\n');
      assert.equal(lines.filter((l) => l.startsWith(many)).length, 500);
      assert.match(out.text, /\[620 files match; the 500 most recently modified are shown\. Narrow the pattern or the path/);
    });

    it('says clearly when ripgrep is missing', async () => {
      const out = await tool('glob').run({ pattern: '*' }, { ...ctx, env: { PATH: join(dir, 'no-such-bin') } });
      assert.equal(out.isError, true);
      assert.equal(out.text, 'ripgrep (rg) is not installed or not on PATH. Use shell with find or grep instead.');
    });
  });

  describe('grep', () => {
    let src: string;
    before(() => {
      src = join(dir, 'grep-src');
      mkdirSync(src);
      writeFileSync(join(src, 'a.py'), 'import os\n\ndef Main():\n    return os.getcwd()\n');
      writeFileSync(join(src, 'b.ts'), 'export function main() {}\n');
    });

    it('answers path:line:text for matches, narrowed by glob, with case folding and context on request', needsRg, async () => {
      const out = await tool('grep').run({ pattern: 'main', path: 'grep-src' }, ctx);
      assert.equal(out.text, `${join(src, 'b.ts')}:1:export function main() {}`);
      const folded = await tool('grep').run({ pattern: 'main', path: 'grep-src', ignore_case: true, glob: '*.py' }, ctx);
      assert.equal(folded.text, `${join(src, 'a.py')}:3:def Main():`);
      const context = await tool('grep').run({ pattern: 'getcwd', path: join(src, 'a.py'), context: 1 }, ctx);
      assert.equal(context.text, `${join(src, 'a.py')}-3-def Main():\n${join(src, 'a.py')}:4:    return os.getcwd()`);
      assert.match((await tool('grep').run({ pattern: 'absent', path: 'grep-src' }, ctx)).text, /^No matches for absent/);
    });

    it('stops at 500 lines or 30 000 characters and says there are more', needsRg, async () => {
      writeFileSync(join(dir, 'matches.txt'), Array.from({ length: 2000 }, (_, i) => `hit ${i}`).join('\n'));
      const byLines = await tool('grep').run({ pattern: 'hit', path: 'matches.txt' }, ctx);
      assert.equal(byLines.text.split('\n').filter((l) => l.includes(':hit ')).length, 500);
      assert.match(byLines.text, /\[Output cut at 500 lines; there are more matches\. Narrow the search/);
      writeFileSync(join(dir, 'wide-matches.txt'), Array.from({ length: 400 }, (_, i) => `hit ${i} ${'w'.repeat(200)}`).join('\n'));
      const byChars = await tool('grep').run({ pattern: 'hit', path: 'wide-matches.txt' }, ctx);
      assert.ok(byChars.text.length < 30_300);
      assert.match(byChars.text, /\[Output cut at \d+ lines; there are more matches/);
    });

    it('passes on ripgrep\'s own error for a bad pattern', needsRg, async () => {
      const out = await tool('grep').run({ pattern: 'a(b', path: 'grep-src' }, ctx);
      assert.equal(out.isError, true);
      assert.match(out.text, /rg failed: .*regex parse error/s);
    });

    it('says clearly when ripgrep is missing', async () => {
      const out = await tool('grep').run({ pattern: 'x' }, { ...ctx, env: { PATH: join(dir, 'no-such-bin') } });
      assert.equal(out.text, 'ripgrep (rg) is not installed or not on PATH. Use shell with find or grep instead.');
    });
  });

  describe('web_fetch through the egress proxy', () => {
    let origin: http.Server;
    let originPort: number;
    let proxy: EgressProxy;
    let bridge: net.Server;
    let webCtx: ToolContext;
    const decisions: EgressDecision[] = [];

    before(async () => {
      origin = http.createServer((req, res) => {
        if (req.url === '/page') {
          res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
          res.end('<!doctype html><html><head><title>Docs</title><style>p{color:red}</style><script>var secret = 1;</script></head>' +
            '<body><h1>Install</h1><p>Run <code>make</code> &amp; wait&hellip;</p><ul><li>one</li><li>two</li></ul>' +
            '<p>See <a href="https://docs.test/more">the guide</a>.</p><!-- hidden --></body></html>');
        } else if (req.url === '/moved') {
          res.writeHead(302, { Location: '/data.json' }).end();
        } else if (req.url === '/data.json') {
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
        } else if (req.url === '/long') {
          res.writeHead(200, { 'Content-Type': 'text/plain' }).end('z'.repeat(5000));
        } else {
          res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no such page');
        }
      });
      await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
      originPort = (origin.address() as net.AddressInfo).port;

      // The real egress proxy on its Unix socket, and a loopback bridge to it as the runner has in the container.
      const socketPath = join(dir, 'egress.sock');
      const token = 'tool-test-token';
      proxy = await startEgressProxy({
        socketPath, token,
        policy: new EgressPolicy({ allow: ['docs.test'], allowPrivate: ['127.0.0.1/32'] }),
        lookup: async (host) => {
          if (host !== 'docs.test') throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
          return [{ address: '127.0.0.1', family: 4 }];
        },
        connect: () => net.connect(originPort, '127.0.0.1'), // docs.test:80 is the origin server
        onDecision: (d) => decisions.push(d),
      });
      bridge = net.createServer((client) => {
        const upstream = net.connect(socketPath);
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      });
      await new Promise<void>((r) => bridge.listen(0, '127.0.0.1', r));
      const proxyUrl = `http://nanoclaw:${token}@127.0.0.1:${(bridge.address() as net.AddressInfo).port}`;
      // Upper-case names only, as some environments give them: the tool must still use the proxy for http.
      webCtx = { ...ctx, env: { PATH: ctx.env.PATH, HOME: dir, HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl } };
    });
    after(async () => {
      bridge.close();
      origin.close();
      await proxy.close();
    });

    it('fetches a page through the proxy and turns its HTML into readable text', async () => {
      const out = await tool('web_fetch').run({ url: 'http://docs.test/page' }, webCtx);
      assert.ok(!out.isError, out.text);
      assert.equal(out.text, 'URL: http://docs.test/page\nStatus: 200, text/html; charset=utf-8, 301 bytes\n\n' +
        'Docs\n\n# Install\n\nRun make & wait…\n\n- one\n- two\n\nSee [the guide](https://docs.test/more).');
      assert.ok(decisions.some((d) => d.allowed && d.host === 'docs.test' && d.method === 'GET'), 'the request went through the egress proxy');
    });

    it('follows redirects and returns JSON as it is', async () => {
      const out = await tool('web_fetch').run({ url: 'http://docs.test/moved' }, webCtx);
      assert.equal(out.text, 'URL: http://docs.test/data.json\nStatus: 200, application/json, 11 bytes\n\n{"ok":true}');
    });

    it('shows at most max_chars characters and says how to see more', async () => {
      const out = await tool('web_fetch').run({ url: 'http://docs.test/long', max_chars: 1000 }, webCtx);
      assert.match(out.text, /\n\nz{1000}\n\n\[\.\.\. 4000 more characters not shown; call again with a larger max_chars/);
    });

    it('reports an HTTP error status as an error with the status in the text', async () => {
      const out = await tool('web_fetch').run({ url: 'http://docs.test/missing' }, webCtx);
      assert.equal(out.isError, true);
      assert.match(out.text, /Status: 404.*\nThe server answered HTTP 404\.\n\nno such page/);
    });

    it('tells the model the owner can /allow a host the proxy refuses, for http and https', async () => {
      const plain = await tool('web_fetch').run({ url: 'http://blocked.test/x' }, webCtx);
      assert.equal(plain.isError, true);
      assert.match(plain.text, /^The egress proxy refused blocked\.test \(403\)\. .*the owner can allow this one with \/allow blocked\.test\.\nNanoClaw egress proxy: blocked\.test:80 is not on this conversation's allowlist/);
      const tls = await tool('web_fetch').run({ url: 'https://blocked.test/x' }, webCtx);
      assert.equal(tls.isError, true);
      assert.match(tls.text, /^The egress proxy refused blocked\.test \(403\)\. .*\/allow blocked\.test\./);
      assert.ok(decisions.some((d) => !d.allowed && d.method === 'CONNECT' && d.host === 'blocked.test'));
    });

    it('fetches only http and https URLs', async () => {
      const out = await tool('web_fetch').run({ url: 'file:///etc/passwd' }, webCtx);
      assert.equal(out.isError, true);
      assert.match(out.text, /http and https URLs only/);
    });
  });
});
