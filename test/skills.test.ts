/**
 * Skills on the host: the SKILL.md format, a draft read from the agent's
 * workspace as hostile input (links, FIFOs, floods, dotfiles), the content
 * hash that names a version, and the live folder containers mount: what is
 * in it, with which modes, and that a change never shows a half-written skill.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureHome } from '../src/config/home.ts';
import { readSkillFolder, SkillFolderError, type SkillFile } from '../src/skills/skill-folder.ts';
import { parseSkillMd, SkillFormatError } from '../src/skills/skill-format.ts';
import { shortHash, skillHash } from '../src/skills/skill-hash.ts';
import { syncLive, updateLive, type LiveSkill } from '../src/skills/skill-live.ts';
import { SkillOps } from '../src/skills/skill-ops.ts';
import { openDatabase } from '../src/store/database.ts';

const root = mkdtempSync(join(tmpdir(), 'nct-skills-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const md = (fields: string, body = '# Steps\n\nDo the thing.\n') => `---\n${fields}\n---\n${body}`;
const good = (name: string, extra = '') => md(`name: ${name}\ndescription: Does a useful thing when asked.${extra ? `\n${extra}` : ''}`);

/** A fresh workspace holding the given files (path -> content) under skills/<name>/. */
function workspace(files: Record<string, string | Buffer> = {}): string {
  const ws = join(root, `ws-${++n}`);
  mkdirSync(ws);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(ws, path)), { recursive: true });
    writeFileSync(join(ws, path), content);
  }
  return ws;
}

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof SkillFolderError || err instanceof SkillFormatError, `unexpected ${err.name}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('SKILL.md format', () => {
  it('accepts name, description, the optional fields and a body', () => {
    const s = parseSkillMd(good('tide-table', 'license: MIT\ncompatibility: needs curl\nallowed-tools: Bash\nmetadata:\n  author: me'), 'tide-table');
    assert.equal(s.name, 'tide-table');
    assert.equal(s.description, 'Does a useful thing when asked.');
    assert.deepEqual(s.metadata, { author: 'me' });
    assert.equal(s.allowedTools, 'Bash');
    assert.match(s.body, /Do the thing/);
  });

  const bad: [string, string, string, RegExp][] = [
    ['no front matter', 'just text', 'x', /must start with YAML front matter/],
    ['a missing name', md('description: d'), 'x', /"name" is missing/],
    ['a missing description', md('name: x'), 'x', /"description" is missing/],
    ['an upper-case name', good('Tide'), 'Tide', /lowercase/],
    ['a leading hyphen', good('-tide'), '-tide', /leading, trailing or double hyphen/],
    ['a double hyphen', good('tide--table'), 'tide--table', /double hyphen/],
    ['a name over 64 characters', good('a'.repeat(65)), 'a'.repeat(65), /over the limit of 64/],
    ['the reserved word claude', good('claude-helper'), 'claude-helper', /reserved words/],
    ['the reserved word anthropic', good('my-anthropic'), 'my-anthropic', /reserved words/],
    ['a name unlike its folder', good('tide'), 'tides', /folder is "tides"/],
    ['XML tags in the description', md('name: x\ndescription: Use <system>always</system>'), 'x', /XML tags/],
    ['a description over 1024 characters', md(`name: x\ndescription: ${'d'.repeat(1025)}`), 'x', /over the limit of 1024/],
    ['compatibility over 500 characters', good('x', `compatibility: ${'c'.repeat(501)}`), 'x', /over the limit of 500/],
    ['a key that configures the sandbox', good('x', 'egress: ["*"]'), 'x', /field "egress" is not allowed/],
    ['a hooks key', good('x', 'hooks: {}'), 'x', /field "hooks" is not allowed/],
    ['metadata that is not a string map', good('x', 'metadata:\n  n: 3'), 'x', /metadata.n" must be a string/],
    ['a description that is not a string', md('name: x\ndescription: [a, b]'), 'x', /must be a string/],
    ['YAML aliases', md('name: x\ndescription: &d hello\nlicense: *d'), 'x', /anchors or aliases/],
    ['a custom YAML tag', md('name: x\ndescription: !!js/function "f"'), 'x', /not valid YAML|tag/i],
    ['duplicate keys', md('name: x\nname: x\ndescription: d'), 'x', /not valid YAML/],
    ['an empty body', md('name: x\ndescription: d', '\n  \n'), 'x', /no instructions/],
  ];
  for (const [what, text, folder, pattern] of bad) {
    it(`refuses ${what}, naming the file and field`, () => {
      assert.throws(() => parseSkillMd(text, folder, `/workspace/skills/${folder}/SKILL.md`), (err: Error) => {
        assert.ok(err instanceof SkillFormatError);
        assert.match(err.message, pattern);
        assert.ok(err.message.startsWith(`/workspace/skills/${folder}/SKILL.md: `), err.message);
        return true;
      });
    });
  }

  it('refuses an alias bomb without expanding it', () => {
    const bomb = ['name: x', 'description: d', 'a: &a ["l","l","l","l","l","l","l","l","l"]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'metadata: [*c,*c,*c,*c,*c,*c,*c,*c,*c]'].join('\n');
    assert.throws(() => parseSkillMd(md(bomb), 'x'), SkillFormatError);
  });
});

describe('reading a draft from the workspace', () => {
  it('reads SKILL.md and the files beside it, with exec bits, by the agent\'s path', () => {
    const ws = workspace({ 'skills/tide/SKILL.md': good('tide'), 'skills/tide/scripts/fetch.sh': '#!/bin/sh\necho hi\n', 'skills/tide/references/a/b/c.md': 'deep' });
    chmodSync(join(ws, 'skills/tide/scripts/fetch.sh'), 0o755);
    for (const path of ['/workspace/skills/tide', 'skills/tide', './skills/tide/']) {
      const d = readSkillFolder(ws, path);
      assert.equal(d.name, 'tide');
      assert.deepEqual(d.files.map((f) => [f.path, f.exec]), [['SKILL.md', false], ['references/a/b/c.md', false], ['scripts/fetch.sh', true]]);
    }
  });

  const hostile: [string, (ws: string, skill: string) => void, RegExp][] = [
    ['SKILL.md as a symlink to a host file', (_ws, s) => { rmSync(join(s, 'SKILL.md')); symlinkSync('/etc/passwd', join(s, 'SKILL.md')); }, /SKILL.md is a symlink/],
    ['a symlinked file beside SKILL.md', (_ws, s) => symlinkSync('/etc/shadow', join(s, 'notes.md')), /notes.md is a symlink/],
    ['a symlinked folder inside', (_ws, s) => symlinkSync('/etc', join(s, 'refs')), /refs is a symlink/],
    ['the skill folder itself a symlink', (ws, s) => { rmSync(s, { recursive: true }); mkdirSync(join(ws, 'real/x'), { recursive: true }); writeFileSync(join(ws, 'real/x/SKILL.md'), good('x')); symlinkSync(join(ws, 'real/x'), s); }, /not a folder|symlink/],
    ['a folder above it a symlink', (ws) => { rmSync(join(ws, 'skills'), { recursive: true }); mkdirSync(join(ws, 'elsewhere/x'), { recursive: true }); writeFileSync(join(ws, 'elsewhere/x/SKILL.md'), good('x')); symlinkSync(join(ws, 'elsewhere'), join(ws, 'skills')); }, /skills is not a folder|symlink/],
    ['a FIFO', (_ws, s) => execFileSync('mkfifo', [join(s, 'pipe')]), /pipe is a FIFO/],
    ['more than 64 files', (_ws, s) => { for (let i = 0; i < 64; i++) writeFileSync(join(s, `f${i}.md`), 'x'); }, /more than 64 files/],
    ['a folder of hundreds of names', (_ws, s) => { mkdirSync(join(s, 'many')); for (let i = 0; i < 300; i++) mkdirSync(join(s, 'many', `d${i}`)); }, /more than 256 files and folders/],
    ['a file over 256 KiB', (_ws, s) => writeFileSync(join(s, 'big.bin'), Buffer.alloc(256 * 1024 + 1)), /big.bin is over 256 KiB/],
    ['over 1 MiB in all', (_ws, s) => { for (let i = 0; i < 5; i++) writeFileSync(join(s, `part${i}.txt`), Buffer.alloc(250 * 1024)); }, /over 1024 KiB in all/],
    ['a SKILL.md over 64 KiB', (_ws, s) => writeFileSync(join(s, 'SKILL.md'), good('x') + 'y'.repeat(64 * 1024)), /over 64 KiB/],
    ['a dotfile', (_ws, s) => writeFileSync(join(s, '.env'), 'KEY=1'), /starts with a dot/],
    ['a .claude-plugin folder', (_ws, s) => { mkdirSync(join(s, '.claude-plugin')); writeFileSync(join(s, '.claude-plugin/plugin.json'), '{}'); }, /".claude-plugin" starts with a dot/],
    ['folders nested too deep', (_ws, s) => { mkdirSync(join(s, 'a/b/c/d/e'), { recursive: true }); writeFileSync(join(s, 'a/b/c/d/e/f.md'), 'x'); }, /nested more than 4 folders/],
    ['a name with a control character', (_ws, s) => writeFileSync(join(s, 'bad\nname'), 'x'), /control character/],
    ['a bad skill name', (_ws, s) => writeFileSync(join(s, 'SKILL.md'), good('X_Y')), /lowercase/],
    ['a name unlike the folder', (_ws, s) => writeFileSync(join(s, 'SKILL.md'), good('other')), /folder is "x"/],
    ['no SKILL.md', (_ws, s) => rmSync(join(s, 'SKILL.md')), /has no SKILL.md/],
  ];
  for (const [what, plant, pattern] of hostile) {
    it(`refuses ${what}, with a message in the agent's paths`, () => {
      const ws = workspace({ 'skills/x/SKILL.md': good('x') });
      plant(ws, join(ws, 'skills/x'));
      refused(() => readSkillFolder(ws, '/workspace/skills/x'), pattern);
      try { readSkillFolder(ws, '/workspace/skills/x'); } catch (err) { assert.ok(!(err as Error).message.includes(ws), `host path leaked: ${(err as Error).message}`); }
    });
  }

  it('refuses paths outside the workspace', () => {
    const ws = workspace({ 'skills/x/SKILL.md': good('x') });
    refused(() => readSkillFolder(ws, '/etc'), /outside \/workspace/);
    refused(() => readSkillFolder(ws, '../x'), /starts with a dot|"\.\."/);
    refused(() => readSkillFolder(ws, '/workspace/skills/../../x'), /starts with a dot/);
    refused(() => readSkillFolder(ws, '/workspace'), /names the workspace itself/);
    refused(() => readSkillFolder(ws, 'skills/none'), /does not exist/);
  });

  it('refuses a device without opening it', { skip: process.getuid?.() !== 0 && 'mknod needs root' }, () => {
    const ws = workspace({ 'skills/x/SKILL.md': good('x') });
    execFileSync('mknod', [join(ws, 'skills/x/zero'), 'c', '1', '5']);
    refused(() => readSkillFolder(ws, 'skills/x'), /zero is a device/);
  });

  it('never blocks on a FIFO named SKILL.md', () => {
    const ws = workspace({ 'skills/x/other.md': 'x' });
    execFileSync('mkfifo', [join(ws, 'skills/x/SKILL.md')]);
    refused(() => readSkillFolder(ws, 'skills/x'), /SKILL.md is a FIFO/);
  });
});

describe('content hash', () => {
  const files = (over: Partial<Record<string, string>> = {}, exec = false): SkillFile[] =>
    Object.entries({ 'SKILL.md': good('x'), 'scripts/run.sh': 'echo 1\n', ...over }).map(([path, s]) => ({ path, exec: exec && path.endsWith('.sh'), data: Buffer.from(s!) }));

  it('is the same for the same files, in any order and read from any place', () => {
    assert.equal(skillHash(files()), skillHash(files().reverse()));
    const a = workspace({ 'skills/x/SKILL.md': good('x'), 'skills/x/r.md': 'r' });
    const b = workspace({ 'elsewhere/deeper/x/r.md': 'r', 'elsewhere/deeper/x/SKILL.md': good('x') });
    assert.equal(skillHash(readSkillFolder(a, 'skills/x').files), skillHash(readSkillFolder(b, 'elsewhere/deeper/x').files));
    assert.match(skillHash(files()), /^[0-9a-f]{64}$/);
    assert.equal(shortHash(skillHash(files())).length, 12);
  });

  it('changes with one byte, an exec bit, a renamed file', () => {
    const base = skillHash(files());
    assert.notEqual(skillHash(files({ 'scripts/run.sh': 'echo 2\n' })), base);
    assert.notEqual(skillHash(files({}, true)), base);
    const renamed = files().map((f) => (f.path === 'scripts/run.sh' ? { ...f, path: 'scripts/run2.sh' } : f));
    assert.notEqual(skillHash(renamed), base);
    // A path and content boundary cannot be moved to produce the same stream.
    assert.notEqual(skillHash([{ path: 'ab', exec: false, data: Buffer.from('c') }]), skillHash([{ path: 'a', exec: false, data: Buffer.from('bc') }]));
  });
});

describe('the live folder', () => {
  const owner = { actor: 'cli', owner: true };
  function setup() {
    const home = join(root, `home-${++n}`);
    const layout = ensureHome(home);
    const db = openDatabase(layout.db);
    const ops = new SkillOps({ db, layout, bundledDir: join(root, 'no-bundled') });
    return { layout, ops, db };
  }
  function skillFolder(name: string, files: Record<string, string>, execs: string[] = []): string {
    const dir = join(root, `src-${++n}`, name);
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), c);
    }
    for (const e of execs) chmodSync(join(dir, e), 0o755);
    return dir;
  }
  const mode = (p: string) => statSync(p).mode & 0o777;
  const index = (live: string) => JSON.parse(readFileSync(join(live, 'index.json'), 'utf8'));

  it('holds the plugin manifest, each enabled skill with modes 0755/0644, and the index', () => {
    const { layout, ops } = setup();
    const a = skillFolder('alpha', { 'SKILL.md': good('alpha'), 'scripts/go.sh': '#!/bin/sh\n' }, ['scripts/go.sh']);
    chmodSync(join(a, 'SKILL.md'), 0o600);
    assert.ok(ops.install(a, owner).ok);
    const live = layout.skillsLive;
    assert.deepEqual(JSON.parse(readFileSync(join(live, '.claude-plugin/plugin.json'), 'utf8')).name, 'ncskills');
    assert.equal(mode(join(live, 'skills/alpha')), 0o755);
    assert.equal(mode(join(live, 'skills/alpha/scripts')), 0o755);
    assert.equal(mode(join(live, 'skills/alpha/SKILL.md')), 0o644, 'a 0600 file is readable by the container user once live');
    assert.equal(mode(join(live, 'skills/alpha/scripts/go.sh')), 0o755);
    assert.equal(mode(join(live, 'index.json')), 0o644);
    const hash = ops.store.skill('alpha')!.hash;
    assert.deepEqual(index(live), { skills: [{ name: 'alpha', description: 'Does a useful thing when asked.', hash }] });
    // The kept version is there too, outside the live folder.
    assert.ok(existsSync(join(layout.skills, 'versions/alpha', hash, 'SKILL.md')));
  });

  it('drops a disabled skill, brings it back enabled, and sorts the index by name', () => {
    const { layout, ops } = setup();
    ops.install(skillFolder('zeta', { 'SKILL.md': good('zeta') }), owner);
    ops.install(skillFolder('beta', { 'SKILL.md': good('beta') }), owner);
    assert.deepEqual(index(layout.skillsLive).skills.map((s: LiveSkill) => s.name), ['beta', 'zeta']);
    assert.ok(ops.disable('beta', owner).ok);
    assert.deepEqual(readdirSync(join(layout.skillsLive, 'skills')), ['zeta']);
    assert.deepEqual(index(layout.skillsLive).skills.map((s: LiveSkill) => s.name), ['zeta']);
    assert.ok(ops.enable('beta', owner).ok);
    assert.deepEqual(readdirSync(join(layout.skillsLive, 'skills')).sort(), ['beta', 'zeta']);
  });

  it('after a rollback holds the earlier files exactly', () => {
    const { layout, ops } = setup();
    ops.install(skillFolder('gamma', { 'SKILL.md': good('gamma'), 'v1.md': 'one' }), owner);
    const first = ops.store.skill('gamma')!.hash;
    ops.install(skillFolder('gamma', { 'SKILL.md': good('gamma'), 'v2.md': 'two' }), owner);
    assert.deepEqual(readdirSync(join(layout.skillsLive, 'skills/gamma')).sort(), ['SKILL.md', 'v2.md']);
    assert.ok(ops.rollback('gamma', undefined, owner).ok);
    assert.deepEqual(readdirSync(join(layout.skillsLive, 'skills/gamma')).sort(), ['SKILL.md', 'v1.md']);
    assert.equal(readFileSync(join(layout.skillsLive, 'skills/gamma/v1.md'), 'utf8'), 'one');
    assert.equal(index(layout.skillsLive).skills[0].hash, first);
  });

  it('replaces a skill by renames: the old copy stays whole until the new one is whole', () => {
    const live = join(root, `live-${++n}`);
    const skill = { name: 'delta', description: 'd', hash: 'h1' };
    const v1: SkillFile[] = [{ path: 'SKILL.md', exec: false, data: Buffer.from('one') }];
    updateLive(live, 'delta', [skill], () => v1);
    // While the new copy is being written (filesOf is asked, then the copy made), the old one is intact and the index names it.
    let seenDuring: string | undefined;
    const v2: SkillFile[] = [{ path: 'SKILL.md', exec: false, data: Buffer.from('two') }, { path: 'more.md', exec: false, data: Buffer.from('m') }];
    updateLive(live, 'delta', [{ ...skill, hash: 'h2' }], () => {
      seenDuring = readFileSync(join(live, 'skills/delta/SKILL.md'), 'utf8');
      assert.equal(index(live).skills[0].hash, 'h1');
      return v2;
    });
    assert.equal(seenDuring, 'one');
    assert.equal(readFileSync(join(live, 'skills/delta/SKILL.md'), 'utf8'), 'two');
    assert.equal(index(live).skills[0].hash, 'h2');
    // No temp or old copies are left behind.
    assert.deepEqual(readdirSync(join(live, 'skills')), ['delta']);
    assert.deepEqual(readdirSync(live).sort(), ['.claude-plugin', 'index.json', 'skills']);
  });

  it('a copy that fails half-way leaves the old skill in place', () => {
    const live = join(root, `live-${++n}`);
    const skill = { name: 'eps', description: 'd', hash: 'h1' };
    updateLive(live, 'eps', [skill], () => [{ path: 'SKILL.md', exec: false, data: Buffer.from('one') }]);
    // Two files of the same path: the second write fails (wx) after the first was written.
    const broken: SkillFile[] = [{ path: 'SKILL.md', exec: false, data: Buffer.from('two') }, { path: 'SKILL.md', exec: false, data: Buffer.from('three') }];
    assert.throws(() => updateLive(live, 'eps', [{ ...skill, hash: 'h2' }], () => broken), /Cannot copy skill eps/);
    assert.equal(readFileSync(join(live, 'skills/eps/SKILL.md'), 'utf8'), 'one');
    assert.equal(index(live).skills[0].hash, 'h1');
    assert.deepEqual(readdirSync(join(live, 'skills')), ['eps']);
  });

  it('sync repairs a crash mid-way: leftovers removed, missing skills laid again, stray ones dropped', () => {
    const { layout, ops } = setup();
    ops.install(skillFolder('omega', { 'SKILL.md': good('omega') }), owner);
    const skills = join(layout.skillsLive, 'skills');
    rmSync(join(skills, 'omega'), { recursive: true });
    mkdirSync(join(skills, '.omega.abc123'));
    mkdirSync(join(skills, 'stray'));
    writeFileSync(join(skills, 'stray/SKILL.md'), 'not approved');
    assert.ok(ops.sync().ok);
    assert.deepEqual(readdirSync(skills), ['omega']);
    assert.equal(readFileSync(join(skills, 'omega/SKILL.md'), 'utf8'), good('omega'));
    // Sync alone on an empty live folder lays the plugin out.
    rmSync(layout.skillsLive, { recursive: true });
    syncLive(layout.skillsLive, [], () => []);
    assert.deepEqual(index(layout.skillsLive), { skills: [] });
  });
});
