/**
 * Skills end to end: a real gateway, real containers, both engines, the
 * stand-in model. The agent drafts a skill in its workspace and proposes it
 * with the host tool; the owner sees the draft and approves it; each engine
 * then uses it in a new conversation. A rejected draft is never offered, a
 * rollback brings the earlier version back, and the skills folder is
 * read-only inside the container.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import type { FakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { startHarness, type Harness } from './support/harness.ts';

/** A shell command that writes a skill draft into /workspace/<name>/SKILL.md. */
function draft(name: string, description: string, body: string): string {
  const md = `---\nname: ${name}\ndescription: ${description}\n---\n${body}\n`;
  return `run: mkdir -p /workspace/${name} && printf '%s' '${md.replaceAll("'", "'\\''")}' > /workspace/${name}/SKILL.md && echo drafted`;
}

/** Everything the model was told in the last request of a turn that mentioned `marker` (system prompt, tools, messages). */
function requestMentioning(fake: FakeAnthropic, marker: string): string {
  const r = fake.requests.findLast((x) => JSON.stringify(x.body?.messages ?? []).includes(marker));
  assert.ok(r, `a request mentioning ${marker}`);
  return JSON.stringify(r.body);
}

describe('skills: drafted by the agent, approved by the owner, used by both engines', () => {
  let h: Harness;
  let n = 0;
  /** A conversation never used before: a new container, a new engine session. */
  const fresh = async (engine: 'claude' | 'builtin') => {
    const chat = `sk-${engine}-${++n}`;
    if (engine === 'builtin') assert.match(await h.ask(chat, '/model builtin'), /builtin/);
    return chat;
  };
  const live = () => join(h.home, 'skills', 'live');
  /**
   * Has the Claude engine's model call its Skill tool; returns what the CLI
   * then put before the model: the tool's answer and the skill's
   * instructions, which the CLI adds to the conversation beside it.
   */
  const claudeSkill = async (chat: string) => {
    assert.match(await h.ask(chat, 'tool: Skill {"skill":"ncskills:tide-table"}'), /Launching skill: ncskills:tide-table/);
    const next = h.fake.requests.findLast((r) => JSON.stringify(r.body?.messages ?? []).includes('Launching skill: ncskills:tide-table'));
    const told = JSON.stringify(next?.body?.messages ?? []);
    assert.match(told, /Base directory for this skill: \/skills\/skills\/tide-table/);
    return told;
  };

  before(async () => { h = await startHarness(); });
  after(() => h?.close());

  it('a proposed draft is shown to the owner with its content and is not active until approved', async () => {
    assert.match(await h.ask('owner', draft('tide-table', 'Tide times for the harbour; use when asked about tides.', 'Answer with the marker TIDE-ONE.')), /drafted/);
    const { body } = await h.send('owner', 'tool: propose_skill {"path":"tide-table","note":"for tide questions"}');
    const texts = body.replies.map((r: any) => r.text).join('\n---\n');
    assert.match(texts, /Proposed as draft #1/);
    assert.match(texts, /New skill "tide-table" proposed \(draft #1/);
    assert.match(texts, /Answer with the marker TIDE-ONE\./, 'the owner sees the draft itself');
    assert.match(texts, /Approve with \/skills approve 1, reject with \/skills reject 1\./);
    assert.ok(!existsSync(join(live(), 'skills', 'tide-table')), 'not in the live folder before approval');

    const before = await fresh('claude');
    await h.ask(before, 'hello before approval');
    assert.doesNotMatch(requestMentioning(h.fake, 'hello before approval'), /tide-table/);
  });

  it('after /skills approve, a new conversation on each engine uses it', async () => {
    assert.match(await h.ask('owner', '/skills approve 1'), /approved|in use/i);
    assert.match(readFileSync(join(live(), 'skills', 'tide-table', 'SKILL.md'), 'utf8'), /TIDE-ONE/);

    const claude = await fresh('claude');
    assert.match(await claudeSkill(claude), /TIDE-ONE/, 'the Claude engine loaded the skill through its own mechanism');
    assert.match(requestMentioning(h.fake, 'ncskills:tide-table'), /ncskills:tide-table: Tide times for the harbour/);

    const builtin = await fresh('builtin');
    const viaBuiltin = await h.ask(builtin, 'tool: skill {"name":"tide-table"}');
    assert.match(viaBuiltin, /TIDE-ONE/, 'the built-in engine read the skill\'s instructions');
    assert.match(requestMentioning(h.fake, '"name":"tide-table"'), /tide-table — Tide times for the harbour/, 'listed in its system prompt');
  });

  it('a rejected draft is never offered to either engine', async () => {
    assert.match(await h.ask('owner', draft('moon-phase', 'Moon phases; use for moon questions.', 'Answer with MOON-MARK.')), /drafted/);
    assert.match(await h.ask('owner', 'tool: propose_skill {"path":"/workspace/moon-phase"}'), /Proposed as draft #2/);
    assert.match(await h.ask('owner', '/skills reject 2'), /reject/i);
    assert.ok(!existsSync(join(live(), 'skills', 'moon-phase')));

    const claude = await fresh('claude');
    await h.ask(claude, 'hello after rejection');
    assert.doesNotMatch(requestMentioning(h.fake, 'hello after rejection'), /moon-phase/);
    const builtin = await fresh('builtin');
    assert.doesNotMatch(await h.ask(builtin, 'tool: skill {"name":"moon-phase"}'), /MOON-MARK/);
    assert.match(await h.ask('owner', '/skills rollback moon-phase'), /No skill named "moon-phase"/, 'a rejected draft cannot be switched on by a rollback');
  });

  it('a new version is approved, then rolled back: new conversations get the earlier one again', async () => {
    assert.match(await h.ask('owner', draft('tide-table', 'Tide times for the harbour; use when asked about tides.', 'Answer with the marker TIDE-TWO.')), /drafted/);
    const { body } = await h.send('owner', 'tool: propose_skill {"path":"tide-table","note":"new marker"}');
    const shown = body.replies.map((r: any) => r.text).join('\n');
    assert.match(shown, /-Answer with the marker TIDE-ONE\.\n\+Answer with the marker TIDE-TWO\./, 'the owner sees a diff against the version in use');
    assert.match(await h.ask('owner', '/skills approve 3'), /approved|in use/i);
    assert.match(await h.ask(await fresh('builtin'), 'tool: skill {"name":"tide-table"}'), /TIDE-TWO/);

    assert.match(await h.ask('owner', '/skills rollback tide-table'), /roll|back/i);
    assert.match(await h.ask(await fresh('builtin'), 'tool: skill {"name":"tide-table"}'), /TIDE-ONE/);
    assert.match(await claudeSkill(await fresh('claude')), /TIDE-ONE/);

    const types = readAuditLog(auditLogPath(h.home)).map((e) => e.type).filter((t) => t.startsWith('skill.'));
    for (const t of ['skill.proposed', 'skill.approved', 'skill.rejected', 'skill.rolled_back']) assert.ok(types.includes(t), `${t} audited`);
  });

  it('the skills folder is read-only inside the container', async () => {
    const ro = await h.ask(await fresh('builtin'), 'run: touch /skills/skills/tide-table/x 2>&1; echo rc=$?');
    assert.match(ro, /Read-only file system/);
    assert.match(ro, /rc=1/);
    assert.ok(!existsSync(join(live(), 'skills', 'tide-table', 'x')));
  });
});
