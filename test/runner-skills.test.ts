/**
 * Approved skills inside the container, without a container: the index the
 * host writes into the read-only skills folder (read as hostile input), the
 * built-in engine's `skill` tool and system prompt section, and both engines
 * run in this process against the Anthropic Messages API stand-in: the
 * built-in engine's model loads a skill's instructions with `skill`, and the
 * real Claude Code CLI lists the skills folder's skills as `ncskills:<name>`
 * (and none of its own bundled skills), picking up a skill approved between
 * two turns of one session.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TurnOutcome } from '../src/protocol/messages.ts';
import { startFakeAnthropic, type FakeAnthropic, type MessagesRequest } from '../src/devtools/fake-anthropic.ts';
import { BuiltinEngine } from '../runner/src/engines/builtin/engine.ts';
import { ClaudeEngine } from '../runner/src/engines/claude.ts';
import { systemPrompt } from '../runner/src/engines/builtin/system-prompt.ts';
import { skillTool } from '../runner/src/engines/builtin/tools/skill.ts';
import type { Engine, EngineEvents, EngineOptions, HostToolCaller } from '../runner/src/engines/engine.ts';
import { MAX_INDEX_BYTES, readSkillIndex, SkillIndexReader, type Skill } from '../runner/src/skills.ts';

interface SkillSpec { name: string; description: string; body?: string; files?: Record<string, string> }

/** A skills folder as the host writes it: the plugin manifest, each skill's folder, then the index (atomically, last). */
function writeSkills(dir: string, skills: SkillSpec[]): void {
  mkdirSync(join(dir, '.claude-plugin'), { recursive: true });
  writeFileSync(join(dir, '.claude-plugin', 'plugin.json'), JSON.stringify({ name: 'ncskills', version: '1.0.0', description: 'Skills the owner approved' }));
  for (const s of skills) {
    const folder = join(dir, 'skills', s.name);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'SKILL.md'), `---\nname: ${s.name}\ndescription: ${s.description}\n---\n\n${s.body ?? `# ${s.name}\n`}`);
    for (const [rel, text] of Object.entries(s.files ?? {})) {
      mkdirSync(join(folder, rel, '..'), { recursive: true });
      writeFileSync(join(folder, rel), text);
    }
  }
  writeIndex(dir, { skills: skills.map((s) => ({ name: s.name, description: s.description, hash: `sha256-${s.name}-${s.description.length}` })) });
}

function writeIndex(dir: string, index: unknown): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.json.tmp'), typeof index === 'string' ? index : JSON.stringify(index));
  renameSync(join(dir, 'index.json.tmp'), join(dir, 'index.json'));
}

const tide: SkillSpec = {
  name: 'tide-table',
  description: 'Builds a tide table for a harbour from the almanac.',
  body: '# Tide tables\nAlways give times in local time. TIDE-INSTRUCTIONS-7f3a\n',
  files: { 'references/almanac.md': 'high water tables', 'scripts/fetch.sh': 'echo fetch' },
};

let root: string;
before(() => { root = mkdtempSync(join(tmpdir(), 'nct-skills-')); });
after(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const freshDir = () => join(root, `s${++folders}`);

describe('the skills index', () => {
  it('a missing folder or a folder without an index means no skills, and no problem', () => {
    assert.deepEqual(readSkillIndex(join(root, 'no-such-folder')), { skills: [] });
    const dir = freshDir();
    mkdirSync(dir);
    assert.deepEqual(readSkillIndex(dir), { skills: [] });
  });

  it('reads the approved skills with their names, descriptions and hashes', () => {
    const dir = freshDir();
    writeSkills(dir, [tide, { name: 'weather-report', description: 'Writes a weather report.' }]);
    const { skills, problem } = readSkillIndex(dir);
    assert.equal(problem, undefined);
    assert.deepEqual(skills.map((s) => s.name), ['tide-table', 'weather-report']);
    assert.equal(skills[0].description, tide.description);
    assert.match(skills[0].hash, /^sha256-tide-table/);
  });

  it('a broken index means no skills and says why: not JSON, a name that could be a path, duplicates, too many, too long', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['not JSON', '{"skills": [', /not JSON/],
      ['a path for a name', { skills: [{ name: '../etc', description: 'x', hash: 'h' }] }, /skills\.0\.name/],
      ['an upper-case name', { skills: [{ name: 'Tide', description: 'x', hash: 'h' }] }, /skills\.0\.name/],
      ['a long description', { skills: [{ name: 'a', description: 'x'.repeat(1025), hash: 'h' }] }, /skills\.0\.description/],
      ['no hash', { skills: [{ name: 'a', description: 'x' }] }, /skills\.0\.hash/],
      ['a name twice', { skills: [{ name: 'a', description: 'x', hash: 'h' }, { name: 'a', description: 'y', hash: 'i' }] }, /named twice/],
      ['201 skills', { skills: Array.from({ length: 201 }, (_, i) => ({ name: `s${i}`, description: 'x', hash: 'h' })) }, /skills/],
      ['no list', { skill: [] }, /skills/],
    ];
    for (const [what, index, why] of cases) {
      const dir = freshDir();
      writeIndex(dir, index);
      const { skills, problem } = readSkillIndex(dir);
      assert.deepEqual(skills, [], what);
      assert.match(problem ?? '', why, what);
      assert.match(problem ?? '', /^no skills are offered: /, what);
    }
  });

  it(`refuses an index over ${MAX_INDEX_BYTES} bytes without parsing it`, () => {
    const dir = freshDir();
    writeIndex(dir, JSON.stringify({ skills: [] }) + ' '.repeat(MAX_INDEX_BYTES));
    const { skills, problem } = readSkillIndex(dir);
    assert.deepEqual(skills, []);
    assert.match(problem ?? '', /over the 262144-byte bound/);
  });

  it('never reads the index through a link, and a FIFO in its place does not hang the turn', () => {
    const real = freshDir();
    writeSkills(real, [tide]);
    const linked = freshDir();
    mkdirSync(linked);
    symlinkSync(join(real, 'index.json'), join(linked, 'index.json'));
    assert.deepEqual(readSkillIndex(linked).skills, []);
    assert.match(readSkillIndex(linked).problem ?? '', /index\.json is a link/);

    const folderLink = join(root, `link-${++folders}`);
    symlinkSync(real, folderLink);
    assert.deepEqual(readSkillIndex(folderLink).skills, []);
    assert.match(readSkillIndex(folderLink).problem ?? '', /is a link/);

    const fifo = freshDir();
    mkdirSync(fifo);
    execFileSync('mkfifo', [join(fifo, 'index.json')]);
    assert.deepEqual(readSkillIndex(fifo).skills, []);
    assert.match(readSkillIndex(fifo).problem ?? '', /not a regular file/);
  });

  it('an engine\'s reader warns once while the index stays broken, and again when it breaks anew', () => {
    const dir = freshDir();
    const warnings: string[] = [];
    const reader = new SkillIndexReader(dir, (text) => warnings.push(text));
    writeIndex(dir, '{');
    assert.deepEqual(reader.read(), []);
    assert.deepEqual(reader.read(), []);
    assert.equal(warnings.length, 1);
    writeSkills(dir, [tide]);
    assert.deepEqual(reader.read().map((s) => s.name), ['tide-table']);
    writeIndex(dir, '{');
    reader.read();
    assert.equal(warnings.length, 2);
  });
});

describe('the built-in engine\'s skill tool', () => {
  const ctx = { cwd: '/workspace', env: {}, signal: new AbortController().signal };
  let dir: string;
  let skills: Skill[];
  before(() => {
    dir = freshDir();
    writeSkills(dir, [tide, { name: 'weather-report', description: 'Writes a weather report.' }]);
    skills = readSkillIndex(dir).skills;
  });

  it('returns the skill\'s instructions and the paths of its other files for read to open', async () => {
    symlinkSync('/etc/passwd', join(dir, 'skills', 'tide-table', 'passwd-link'));
    const out = await skillTool(dir, skills).run({ name: 'tide-table' }, ctx);
    assert.equal(out.isError, undefined);
    assert.match(out.text, /TIDE-INSTRUCTIONS-7f3a/);
    assert.match(out.text, /Always give times in local time/);
    const folder = join(dir, 'skills', 'tide-table');
    assert.ok(out.text.includes(`${folder}/references/almanac.md\n${folder}/scripts/fetch.sh`), out.text);
    assert.ok(!out.text.includes('passwd-link'), 'a link in the folder is not listed');
    assert.ok(!out.text.includes('root:x:0'), 'nor followed');
  });

  it('an unknown name gets the names there are', async () => {
    const out = await skillTool(dir, skills).run({ name: 'tides' }, ctx);
    assert.equal(out.isError, true);
    assert.equal(out.text, 'There is no skill named "tides". Skills: tide-table, weather-report.');
  });

  it('refuses a SKILL.md that is a link or a FIFO, and a skill folder that is a link, without showing what they lead to', async () => {
    const bad = freshDir();
    writeSkills(bad, [{ name: 'linked', description: 'x' }, { name: 'piped', description: 'y' }, { name: 'moved', description: 'z' }]);
    rmSync(join(bad, 'skills', 'linked', 'SKILL.md'));
    symlinkSync('/etc/passwd', join(bad, 'skills', 'linked', 'SKILL.md'));
    rmSync(join(bad, 'skills', 'piped', 'SKILL.md'));
    execFileSync('mkfifo', [join(bad, 'skills', 'piped', 'SKILL.md')]);
    rmSync(join(bad, 'skills', 'moved'), { recursive: true });
    symlinkSync(join(dir, 'skills', 'tide-table'), join(bad, 'skills', 'moved'));
    const tool = skillTool(bad, readSkillIndex(bad).skills);

    const linked = await tool.run({ name: 'linked' }, ctx);
    assert.equal(linked.isError, true);
    assert.match(linked.text, /SKILL\.md is a link/);
    assert.ok(!linked.text.includes('root:'));
    const piped = await tool.run({ name: 'piped' }, ctx);
    assert.equal(piped.isError, true);
    assert.match(piped.text, /not a regular file/);
    const moved = await tool.run({ name: 'moved' }, ctx);
    assert.equal(moved.isError, true);
    assert.match(moved.text, /skills\/moved is a link/);
    assert.ok(!moved.text.includes('TIDE-INSTRUCTIONS'));
  });

  it('shows at most 64 KiB of a SKILL.md and says it was cut', async () => {
    const big = freshDir();
    writeSkills(big, [{ name: 'big', description: 'x', body: 'y'.repeat(100_000) }]);
    const out = await skillTool(big, readSkillIndex(big).skills).run({ name: 'big' }, ctx);
    assert.match(out.text, /\[SKILL\.md cut at 65536 bytes of \d+\.\]$/);
    assert.ok(out.text.length < 66_000);
  });
});

describe('the built-in engine\'s system prompt', () => {
  const opts: EngineOptions = { cwd: '/workspace', env: {}, modelBridge: 'http://127.0.0.1:1', providers: [], mcpServers: [], skillsDir: '/skills', systemPrompt: 'OPERATOR-NOTE' };

  it('says nothing of skills when there are none', () => {
    const text = systemPrompt(opts, []);
    assert.doesNotMatch(text, /skill/i);
    assert.match(text, /OPERATOR-NOTE$/);
  });

  it('lists each skill on a line of its own and says to load one with the skill tool before acting on it', () => {
    const text = systemPrompt(opts, [
      { name: 'tide-table', description: 'Tide tables.\nFor harbours.', hash: 'h1' },
      { name: 'weather-report', description: 'Weather reports.', hash: 'h2' },
    ]);
    assert.match(text, /\n- tide-table — Tide tables\. For harbours\.\n- weather-report — Weather reports\.\n/);
    assert.match(text, /call the `skill` tool with its name/);
    assert.ok(text.indexOf('Skills (') < text.indexOf('OPERATOR-NOTE'), 'the operator\'s instructions stay last');
  });
});

/** What an engine reported, and a way to wait for a turn's end. */
function recorder() {
  const ends = new Map<string, TurnOutcome>();
  const logs: string[] = [];
  const waiters = new Map<string, (r: TurnOutcome) => void>();
  const events: EngineEvents = {
    session: () => {},
    progress: () => {},
    turnEnd: (id, result) => { ends.set(id, result); waiters.get(id)?.(result); },
    modelUsed: () => {},
    log: (_level, text) => logs.push(text),
  };
  const turn = (engine: Engine, id: string, text: string, timeoutMs = 60_000): Promise<TurnOutcome> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`turn ${id} did not end within ${timeoutMs} ms; log: ${logs.join(' | ')}`)), timeoutMs);
    waiters.set(id, (r) => { clearTimeout(timer); resolve(r); });
    engine.send(id, text, { id: 'tg:42', name: 'Ann' });
  });
  return { events, logs, turn };
}

/** The host tools are not what these tests are about; a call answers plainly. */
const host: HostToolCaller = { call: async () => ({ ok: true, text: 'done' }) };

/** Like the container's model bridge: `/p/<provider>/…` reaches the API stand-in's `/…`. */
async function startBridge(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(target);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').replace(/^\/p\/[^/]+/, '');
    const out = http.request({ host: to.hostname, port: to.port, method: req.method, path, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

const toolNames = (body: MessagesRequest | undefined): string[] => ((body?.tools ?? []) as Array<{ name: string }>).map((t) => t.name);
const systemText = (body: MessagesRequest | undefined): string => JSON.stringify(body?.system ?? '');
/** The last request of the main conversation (Claude Code also sends side requests without tools). */
const lastAgentRequest = (fake: FakeAnthropic) => fake.requests.filter((r) => Array.isArray(r.body?.tools) && r.body.tools.length > 0).at(-1)?.body;

describe('the built-in engine with skills, against the Anthropic stand-in', () => {
  let fake: FakeAnthropic;
  let bridge: Awaited<ReturnType<typeof startBridge>>;
  before(async () => {
    fake = await startFakeAnthropic();
    bridge = await startBridge(fake.url);
  });
  after(async () => { await bridge?.close(); await fake?.close(); });

  it('offers the skill tool and the list only once a skill is approved, and the model loads its instructions with it', async () => {
    const dir = freshDir();
    const rec = recorder();
    const engine = new BuiltinEngine(rec.events, host);
    engine.open({
      cwd: root, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, ANTHROPIC_API_KEY: 'container-token' },
      modelBridge: bridge.url, mcpServers: [], skillsDir: dir, stateDir: join(root, `state-${++folders}`),
      providers: [{ name: 'anthropic', kind: 'anthropic', model: 'claude-test', contextTokens: 200_000, maxOutputTokens: 4096 }],
    });
    try {
      assert.deepEqual(await rec.turn(engine, 'm1', 'hello'), { ok: true, replies: ['Echo: hello'] });
      const before = fake.requests.at(-1)!.body;
      assert.ok(!toolNames(before).includes('skill'), 'no skill tool without skills');
      assert.doesNotMatch(systemText(before), /Skills \(/);

      writeSkills(dir, [tide]);
      const result = await rec.turn(engine, 'm2', 'tool: skill {"name":"tide-table"}');
      const asked = fake.requests.find((r) => JSON.stringify(r.body?.messages?.at(-1)).includes('tool: skill'))!.body;
      assert.deepEqual(toolNames(asked).slice(0, 8), ['shell', 'read', 'write', 'edit', 'glob', 'grep', 'web_fetch', 'skill']);
      assert.match(systemText(asked), /- tide-table — Builds a tide table for a harbour from the almanac\./);
      assert.ok(result.ok, JSON.stringify(result));
      const reply = result.ok ? result.replies.join('\n') : '';
      assert.match(reply, /TIDE-INSTRUCTIONS-7f3a/, 'the model read the instructions');
      assert.ok(reply.includes(join(dir, 'skills', 'tide-table', 'references', 'almanac.md')), reply);
      assert.deepEqual(rec.logs.filter((l) => /skills/.test(l)), []);
    } finally {
      await engine.close();
    }
  });
});

describe('the Claude engine with skills: the real Claude Code CLI against the Anthropic stand-in', () => {
  let fake: FakeAnthropic;
  before(async () => { fake = await startFakeAnthropic(); });
  after(async () => { await fake?.close(); });

  /** The engine as main.ts opens it, with its own home and workspace; IS_SANDBOX lets the CLI skip permissions when the tests run as root. */
  function claudeEngine(skillsDir: string, rec: ReturnType<typeof recorder>) {
    const home = join(root, `home-${++folders}`);
    mkdirSync(home);
    const engine = new ClaudeEngine(rec.events, host);
    const opts: EngineOptions = {
      cwd: home, modelBridge: fake.url, providers: [], mcpServers: [], skillsDir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', ANTHROPIC_API_KEY: 'container-token', IS_SANDBOX: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1' },
    };
    engine.open(opts);
    return { engine, opts };
  }

  it('lists no skill at all without approved skills: not even the CLI\'s bundled ones', async () => {
    const rec = recorder();
    const { engine } = claudeEngine(freshDir(), rec);
    try {
      assert.deepEqual(await rec.turn(engine, 'c0', 'hello'), { ok: true, replies: ['Echo: hello'] });
      const body = JSON.stringify(lastAgentRequest(fake));
      assert.doesNotMatch(body, /skills are available/);
      assert.doesNotMatch(body, /dataviz|update-config/);
    } finally {
      await engine.close();
    }
  });

  it('offers the approved skills as ncskills:<name>; one approved between turns is there on the next turn, in the same conversation', async () => {
    const dir = freshDir();
    writeSkills(dir, [{ name: 'weather-report', description: 'Writes a weather report for a city.' }]);
    const rec = recorder();
    const { engine, opts } = claudeEngine(dir, rec);
    try {
      assert.deepEqual(await rec.turn(engine, 'c1', 'first message'), { ok: true, replies: ['Echo: first message'] });
      let body = JSON.stringify(lastAgentRequest(fake));
      assert.match(body, /ncskills:weather-report: Writes a weather report for a city\./);
      assert.doesNotMatch(body, /ncskills:tide-table|dataviz/);

      assert.equal(engine.canKeep(opts, opts), true);
      writeSkills(dir, [{ name: 'weather-report', description: 'Writes a weather report for a city.' }, tide]);
      assert.equal(engine.canKeep(opts, opts), false, 'a warmed-up session opened with other skills is not kept');
      assert.deepEqual(await rec.turn(engine, 'c2', 'second message'), { ok: true, replies: ['Echo: second message'] });
      const second = lastAgentRequest(fake)!;
      body = JSON.stringify(second);
      assert.match(body, /ncskills:tide-table: Builds a tide table/);
      assert.match(JSON.stringify(second.messages), /first message/, 'the session was resumed, not started afresh');

      const loaded = await rec.turn(engine, 'c3', 'tool: Skill {"skill":"ncskills:tide-table"}');
      assert.ok(loaded.ok, JSON.stringify(loaded));
      assert.match(JSON.stringify(lastAgentRequest(fake)?.messages?.at(-1)), /TIDE-INSTRUCTIONS-7f3a/, 'the CLI gave the model the skill\'s instructions');
    } finally {
      await engine.close();
    }
  });
});
