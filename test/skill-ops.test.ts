/**
 * The skill operations as the owner and the agent meet them: a draft the
 * agent proposes is not live until the owner approves it, a rejected one
 * never is, a newer draft supersedes the older, a rollback restores the
 * earlier files, only the owner decides, and every change is in the history
 * and the audit log. Real SQLite store, real folders, the repo's bundled skills.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AuditEvent } from '../src/audit/audit-log.ts';
import { ensureHome } from '../src/config/home.ts';
import { skillCommand } from '../src/skills/skill-command.ts';
import { parseSkillMd } from '../src/skills/skill-format.ts';
import { bundledSkillsDir, SkillOps } from '../src/skills/skill-ops.ts';
import { openDatabase } from '../src/store/database.ts';
import { Store } from '../src/store/store.ts';

const root = mkdtempSync(join(tmpdir(), 'nct-skill-ops-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const OWNER = { actor: 'telegram:1', owner: true };
const GUEST = { actor: 'telegram:2', owner: false };
const skillMd = (name: string, body = 'Do the thing.', description = 'Does a useful thing when asked.') => `---\nname: ${name}\ndescription: ${description}\n---\n# ${name}\n\n${body}\n`;

function setup(bundledDir = join(root, 'none')) {
  const layout = ensureHome(join(root, `home-${++n}`));
  const db = openDatabase(layout.db);
  const conv = new Store(db).conversation({ channel: 'telegram', chat: '1', thread: '' });
  const workspace = join(root, `ws-${n}`);
  mkdirSync(workspace);
  const events: AuditEvent[] = [];
  const ops = new SkillOps({ db, layout, audit: (e) => events.push(e), bundledDir });
  /** Writes (or rewrites) the draft skills/<name>/ in the workspace. */
  const draft = (name: string, files: Record<string, string>) => {
    const dir = join(workspace, 'skills', name);
    rmSync(dir, { recursive: true, force: true });
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), c);
    }
  };
  const propose = (name: string, who = OWNER, note?: string) => ops.propose({ workspace, path: `/workspace/skills/${name}`, conversationId: conv.id, ...(note && { note }) }, who);
  const live = (name: string) => join(layout.skillsLive, 'skills', name);
  const index = () => existsSync(join(layout.skillsLive, 'index.json')) ? JSON.parse(readFileSync(join(layout.skillsLive, 'index.json'), 'utf8')).skills.map((s: { name: string }) => s.name) : [];
  return { layout, db, conv, workspace, events, ops, draft, propose, live, index };
}

describe('proposing and deciding', () => {
  it('a proposal is pending and not live; approved, it is live; the agent is told to wait for the owner', () => {
    const t = setup();
    t.draft('tide', { 'SKILL.md': skillMd('tide'), 'scripts/get.sh': 'curl https://example.com\n' });
    const r = t.propose('tide', OWNER, 'for the sailing trip');
    assert.ok(r.ok, r.text);
    const { id, announcement } = r.data as { id: number; announcement: string };
    assert.match(r.text, new RegExp(`^Proposed as draft #${id} \\(hash [0-9a-f]{12}\\)\\. The owner must approve it with /skills approve ${id}; it is not active until then\\.$`));
    assert.match(announcement, /New skill "tide"/);
    assert.match(announcement, /Does a useful thing when asked\./);
    assert.match(announcement, /Note: for the sailing trip/);
    assert.match(announcement, /── SKILL.md ──\n---\nname: tide/);
    assert.match(announcement, /── scripts\/get.sh ──\ncurl https:\/\/example.com/, 'the owner sees the scripts too');
    assert.match(announcement, new RegExp(`Approve with /skills approve ${id}, reject with /skills reject ${id}\\.$`));
    assert.ok(!existsSync(t.live('tide')));
    assert.deepEqual(t.index(), []);

    const a = t.ops.approve(id, OWNER);
    assert.ok(a.ok, a.text);
    assert.equal(readFileSync(join(t.live('tide'), 'scripts/get.sh'), 'utf8'), 'curl https://example.com\n');
    assert.deepEqual(t.index(), ['tide']);
    assert.equal(t.ops.approve(id, OWNER).ok, false, 'a decided proposal cannot be approved twice');
  });

  it('a rejected proposal never reaches the live folder', () => {
    const t = setup();
    t.draft('tide', { 'SKILL.md': skillMd('tide') });
    const { id } = t.propose('tide').data as { id: number };
    assert.ok(t.ops.reject(id, OWNER).ok);
    assert.ok(!existsSync(t.live('tide')));
    assert.equal(t.ops.approve(id, OWNER).ok, false);
    assert.ok(!existsSync(t.live('tide')));
    assert.equal(t.ops.rollback('tide', undefined, OWNER).ok, false, 'a skill never approved has nothing to roll back to');
  });

  it('a second proposal for the same skill supersedes the first', () => {
    const t = setup();
    t.draft('tide', { 'SKILL.md': skillMd('tide', 'first') });
    const first = (t.propose('tide').data as { id: number }).id;
    t.draft('tide', { 'SKILL.md': skillMd('tide', 'second') });
    const r = t.propose('tide');
    const second = (r.data as { id: number }).id;
    assert.match((r.data as { announcement: string }).announcement, new RegExp(`Supersedes draft #${first}`));
    assert.equal(t.ops.store.proposal(first)!.state, 'superseded');
    const refused = t.ops.approve(first, OWNER);
    assert.equal(refused.ok, false);
    assert.match(refused.text, /superseded, not pending/);
    assert.ok(t.ops.approve(second, OWNER).ok);
    assert.match(readFileSync(join(t.live('tide'), 'SKILL.md'), 'utf8'), /second/);
  });

  it('a new version is shown as a diff against the one in use; the same content is refused as no change', () => {
    const t = setup();
    t.draft('tide', { 'SKILL.md': skillMd('tide', 'line one'), 'notes.md': 'keep\n' });
    t.ops.approve((t.propose('tide').data as { id: number }).id, OWNER);
    const same = t.propose('tide');
    assert.equal(same.ok, false);
    assert.match(same.text, /No change/);
    t.draft('tide', { 'SKILL.md': skillMd('tide', 'line two'), 'notes.md': 'keep\n', 'extra.md': 'new file\n' });
    const r = t.propose('tide');
    const { id, announcement } = r.data as { id: number; announcement: string };
    assert.match(announcement, /New version of skill "tide"/);
    assert.match(announcement, /-line one\n\+line two/);
    assert.match(announcement, /\+\+\+ b\/extra.md/);
    assert.doesNotMatch(announcement, /notes.md/, 'unchanged files are not shown');
    assert.match(t.ops.showProposal(id).text, /-line one/);
  });

  it('a long draft is cut in the announcement, pointing at show-proposal', () => {
    const t = setup();
    t.draft('long', { 'SKILL.md': skillMd('long', Array.from({ length: 400 }, (_, i) => `step ${i}`).join('\n')) });
    const { id, announcement } = t.propose('long').data as { id: number; announcement: string };
    assert.ok(announcement.length < 4000, `${announcement.length}`);
    assert.match(announcement, new RegExp(`… \\d+ more lines: \`nanoclaw skills show-proposal ${id}\` shows all\\.`));
    assert.match(announcement, /Approve with \/skills approve/);
    assert.match(t.ops.showProposal(id).text, /step 399/);
  });

  it('a draft breaking the rules is refused with a message the agent can act on', () => {
    const t = setup();
    t.draft('tide', { 'SKILL.md': skillMd('tide').replace('description: Does', 'egress: ["*"]\ndescription: Does') });
    const r = t.propose('tide');
    assert.equal(r.ok, false);
    assert.match(r.text, /^The skill was not proposed: \/workspace\/skills\/tide\/SKILL.md: field "egress" is not allowed/);
    assert.equal(t.ops.store.proposals().length, 0);
  });

  it('only the owner can propose, approve, reject, enable, disable, roll back or install', () => {
    const t = setup();
    t.draft('tide', { 'SKILL.md': skillMd('tide') });
    assert.match(t.propose('tide', GUEST).text, /Only the owner/);
    const { id } = t.propose('tide').data as { id: number };
    for (const r of [t.ops.approve(id, GUEST), t.ops.reject(id, GUEST)]) assert.match(r.text, /Only the owner/);
    assert.equal(t.ops.store.proposal(id)!.state, 'pending');
    t.ops.approve(id, OWNER);
    for (const r of [t.ops.disable('tide', GUEST), t.ops.enable('tide', GUEST), t.ops.rollback('tide', undefined, GUEST), t.ops.install(join(t.workspace, 'skills/tide'), GUEST)]) {
      assert.equal(r.ok, false);
      assert.match(r.text, /Only the owner/);
    }
    assert.ok(existsSync(t.live('tide')));
    // The chat command says the same to a guest, and lets them look.
    assert.match(skillCommand(t.ops, t.conv.id, 'disable tide', GUEST), /Only the owner/);
    assert.match(skillCommand(t.ops, t.conv.id, '', GUEST), /^tide  [0-9a-f]{12}  on /);
  });
});

describe('versions, history and audit', () => {
  it('rollback restores the earlier files; every step is in the history and the audit log', () => {
    const t = setup();
    t.draft('tide', { 'SKILL.md': skillMd('tide', 'v1'), 'v1.md': 'one' });
    const p1 = (t.propose('tide').data as { id: number; hash: string });
    t.ops.approve(p1.id, OWNER);
    t.draft('tide', { 'SKILL.md': skillMd('tide', 'v2'), 'v2.md': 'two' });
    const p2 = (t.propose('tide').data as { id: number; hash: string });
    t.ops.approve(p2.id, OWNER);
    assert.deepEqual(readdirSync(t.live('tide')).sort(), ['SKILL.md', 'v2.md']);

    const back = t.ops.rollback('tide', undefined, OWNER);
    assert.ok(back.ok, back.text);
    assert.deepEqual(readdirSync(t.live('tide')).sort(), ['SKILL.md', 'v1.md']);
    assert.match(readFileSync(join(t.live('tide'), 'SKILL.md'), 'utf8'), /v1/);
    // Forward again by hash prefix, as /skills rollback tide <hash> does.
    assert.match(skillCommand(t.ops, t.conv.id, `rollback tide ${p2.hash.slice(0, 8)}`, OWNER), /back to/);
    assert.deepEqual(readdirSync(t.live('tide')).sort(), ['SKILL.md', 'v2.md']);

    assert.ok(t.ops.disable('tide', OWNER).ok);
    assert.ok(t.ops.enable('tide', OWNER).ok);
    assert.deepEqual(t.ops.store.history('tide').map((h) => h.action), ['proposed', 'approved', 'proposed', 'approved', 'rolled_back', 'rolled_back', 'disabled', 'enabled']);
    assert.deepEqual(t.events.map((e) => e.type), ['skill.proposed', 'skill.approved', 'skill.proposed', 'skill.approved', 'skill.rolled_back', 'skill.rolled_back', 'skill.disabled', 'skill.enabled']);
    assert.deepEqual(t.events.filter((e) => e.type === 'skill.rolled_back').map((e) => e.conversation), [undefined, t.conv.id], 'a change from the chat names its conversation');
    const approved = t.events.find((e) => e.type === 'skill.approved')!;
    assert.deepEqual(approved, { type: 'skill.approved', actor: OWNER.actor, conversation: t.conv.id, data: { name: 'tide', hash: p1.hash, proposal: p1.id } });
    // Both versions are kept, with their source.
    const h = t.ops.history('tide');
    assert.equal((h.data as { versions: unknown[] }).versions.length, 2);
    assert.match(h.text, new RegExp(`${p1.hash.slice(0, 12)}  .*from proposal:${t.conv.id}`));
    assert.match(t.ops.show('tide', p1.hash.slice(0, 6)).text, /not in use/);
  });

  it('a rejected draft is kept in the history but cannot be rolled back to', () => {
    const t = setup();
    t.draft('tide', { 'SKILL.md': skillMd('tide', 'v1') });
    t.ops.approve((t.propose('tide').data as { id: number }).id, OWNER);
    t.draft('tide', { 'SKILL.md': skillMd('tide', 'evil') });
    const bad = t.propose('tide').data as { id: number; hash: string };
    t.ops.reject(bad.id, OWNER);
    const r = t.ops.rollback('tide', bad.hash.slice(0, 10), OWNER);
    assert.equal(r.ok, false);
    assert.match(r.text, /never approved/);
    assert.match(readFileSync(join(t.live('tide'), 'SKILL.md'), 'utf8'), /v1/);
    assert.deepEqual(t.events.filter((e) => e.type === 'skill.rejected').map((e) => e.data), [{ name: 'tide', hash: bad.hash, proposal: bad.id }]);
  });
});

describe('install', () => {
  it('installs a folder from the host at once, audited with its source, and refuses one breaking the rules', () => {
    const t = setup();
    const dir = join(root, `inst-${++n}`, 'tide');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'SKILL.md'), skillMd('tide'));
    const r = t.ops.install(dir, OWNER);
    assert.ok(r.ok, r.text);
    assert.ok(existsSync(join(t.live('tide'), 'SKILL.md')));
    assert.equal(t.ops.store.version('tide', t.ops.store.skill('tide')!.hash)!.source, `install:${dir}`);
    assert.deepEqual(t.events.map((e) => [e.type, (e.data as { source: string }).source]), [['skill.installed', `install:${dir}`]]);
    assert.match(t.ops.install(dir, OWNER).text, /already installed/);
    writeFileSync(join(dir, '.hidden'), 'x');
    assert.match(t.ops.install(dir, OWNER).text, /starts with a dot/);
  });

  it('dispatch checks its arguments and runs the named operation', () => {
    const t = setup();
    assert.match(t.ops.dispatch('nope', {}, OWNER).text, /Unknown skills operation/);
    assert.match(t.ops.dispatch('approve', { id: 'x' }, OWNER).text, /Wrong arguments for skills approve/);
    assert.match(t.ops.dispatch('list', { extra: 1 }, OWNER).text, /Wrong arguments/);
    t.draft('tide', { 'SKILL.md': skillMd('tide') });
    const { id } = t.propose('tide').data as { id: number };
    assert.ok(t.ops.dispatch('approve', { id: String(id) }, { actor: 'cli', owner: true }).ok);
    assert.deepEqual((t.ops.dispatch('list', undefined, OWNER).data as { skills: { name: string }[] }).skills.map((s) => s.name), ['tide']);
  });
});

describe('bundled skills', () => {
  it('are valid skills, installed once at start, and never overwrite the owner\'s change', () => {
    const bundled = bundledSkillsDir();
    const names = readdirSync(bundled).sort();
    assert.ok(names.includes('morning-briefing') && names.includes('web-research'), names.join(', '));
    for (const name of names) parseSkillMd(readFileSync(join(bundled, name, 'SKILL.md'), 'utf8'), name);

    const t = setup(bundled);
    const first = t.ops.installBundled();
    assert.ok(first.ok, first.text);
    assert.deepEqual((first.data as { installed: string[] }).installed, names);
    assert.deepEqual(t.index(), names);
    assert.equal(t.ops.store.version('web-research', t.ops.store.skill('web-research')!.hash)!.source, 'bundled');
    assert.match(readFileSync(join(t.live('web-research'), 'SKILL.md'), 'utf8'), /\/allow/);

    // The owner disables one and changes another; a restart installs nothing again.
    t.ops.disable('web-research', OWNER);
    t.draft('morning-briefing', { 'SKILL.md': skillMd('morning-briefing', 'my own way') });
    t.ops.approve((t.propose('morning-briefing').data as { id: number }).id, OWNER);
    const again = t.ops.installBundled();
    assert.deepEqual((again.data as { installed: string[] }).installed, []);
    assert.equal(t.ops.store.skill('web-research')!.enabled, false);
    assert.match(readFileSync(join(t.live('morning-briefing'), 'SKILL.md'), 'utf8'), /my own way/);
  });
});
