/**
 * Managing scheduled tasks as a chat user, the owner, the agent and the CLI
 * do: the answers they read, what is audited, the limits, who may change
 * what, and that one conversation never sees another's tasks.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type Database from 'better-sqlite3';
import { readAuditLog } from '../src/audit/audit-log.ts';
import { runTaskOp } from '../src/cli/tasks.ts';
import { homeLayout } from '../src/config/home.ts';
import { ConfigSchema } from '../src/config/schema.ts';
import { openDatabase } from '../src/store/database.ts';
import { Store } from '../src/store/store.ts';
import { taskCommand } from '../src/tasks/task-command.ts';
import { TaskOps } from '../src/tasks/task-ops.ts';

const OWNER = { actor: 'cli', owner: true };
const ANN = { actor: 'telegram:ann', owner: false };
const BOB = { actor: 'telegram:bob', owner: false };

describe('task operations', () => {
  let dir: string;
  let n = 0;
  const open: Database.Database[] = [];
  before(() => { dir = mkdtempSync(join(tmpdir(), 'ncops-')); });
  afterEach(() => { for (const db of open.splice(0)) if (db.open) db.close(); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function world(tasks: Record<string, unknown> = {}) {
    const db = openDatabase(join(dir, `ops-${++n}.db`));
    open.push(db);
    const store = new Store(db);
    const clock = { now: Date.parse('2026-12-02T05:00:00Z') };
    const audits: Array<{ type: string; conversation?: string; actor?: string; data?: Record<string, unknown> }> = [];
    let changes = 0;
    const ops = new TaskOps({
      db, config: ConfigSchema.parse({ tasks: { timezone: 'Europe/Berlin', ...tasks } }), clock: () => clock.now,
      audit: (e) => audits.push(e), onChange: () => changes++,
    });
    const home = store.conversation({ channel: 'telegram', chat: 'home', thread: '' });
    const other = store.conversation({ channel: 'telegram', chat: 'other', thread: '' });
    const chat = (arg: string, who = ANN, conv = home.id) => taskCommand(ops, conv, arg, who);
    return { db, ops, clock, audits, home, other, chat, changes: () => changes };
  }

  it('adds a task from the chat and answers with its schedule, next run and how to pause it', () => {
    const w = world();
    const text = w.chat('add cron 0 7 * * * -- Morning briefing: weather, calendar -- and news');
    assert.equal(text, 'Task #1 "Morning briefing: weather, calendar --": every day at 07:00 (Europe/Berlin), next run 2026-12-02 07:00 CET. Pause it with /tasks pause 1.');
    const row = w.db.prepare('SELECT * FROM tasks WHERE id = 1').get() as any;
    assert.equal(row.prompt, 'Morning briefing: weather, calendar -- and news', 'only the first separator splits');
    assert.equal(row.created_by, 'telegram:ann');
    assert.equal(row.tz, 'Europe/Berlin');
    assert.equal(row.missed, 'run');
    assert.equal(row.next_run_at, Date.parse('2026-12-02T06:00:00Z'));
    assert.deepEqual(w.audits, [{ type: 'task.created', conversation: w.home.id, actor: 'telegram:ann', data: { id: 1, name: 'Morning briefing: weather, calendar --', schedule: 'every day at 07:00 (Europe/Berlin)' } }]);
    assert.equal(w.changes(), 1, 'the scheduler is woken');
    assert.match(w.chat('add at 2026-12-24 18:00 — Wish everyone a merry Christmas'), /^Task #2 "Wish everyone a merry Christmas": once, at 2026-12-24 18:00 CET\. Pause it/, 'an em dash separates too');
  });

  it('takes a zone, a name and a missed-run policy from the CLI and the API', () => {
    const w = world();
    const res = w.ops.create({ conversationId: w.home.id, schedule: 'cron 30 6 * * 1-5', prompt: 'Standup notes', name: 'standup', timezone: 'America/New_York', missed: 'skip' }, OWNER);
    assert.ok(res.ok);
    assert.equal(res.text, 'Task #1 "standup": every weekday (Monday to Friday) at 06:30 (America/New_York), next run 2026-12-02 06:30 EST. Pause it with /tasks pause 1.');
    assert.deepEqual({ ...(res.data as any), createdAt: undefined, updatedAt: undefined }, {
      id: 1, conversation: w.home.id, name: 'standup', prompt: 'Standup notes', kind: 'cron', spec: '30 6 * * 1-5', timezone: 'America/New_York',
      schedule: 'every weekday (Monday to Friday) at 06:30 (America/New_York)', missed: 'skip', state: 'active', nextRun: '2026-12-02T11:30:00.000Z',
      createdBy: 'cli', createdAt: undefined, updatedAt: undefined,
    });
  });

  it('refuses bad schedules, zones, empty prompts and unknown conversations with what to do', () => {
    const w = world();
    assert.match(w.chat('add tomorrow -- x'), /^"tomorrow" is not a schedule: use `every 30m`/);
    assert.match(w.chat('add every 1d'), /^Use \/tasks add <schedule> -- <what to do>/);
    assert.match(w.ops.create({ conversationId: w.home.id, schedule: 'every 1d', prompt: 'x', timezone: 'Mars/Olympus' }, OWNER).text, /not a time zone: use an IANA name such as Europe\/Berlin/);
    assert.match(w.ops.create({ conversationId: w.home.id, schedule: 'every 1d', prompt: '   ' }, OWNER).text, /needs a prompt/);
    assert.match(w.ops.create({ conversationId: 'c-00000000000000000000', schedule: 'every 1d', prompt: 'x' }, OWNER).text, /^No conversation c-0+: `nanoclaw status` lists them\.$/);
    assert.equal((w.db.prepare('SELECT COUNT(*) AS n FROM tasks').get() as { n: number }).n, 0);
    assert.equal(w.audits.length, 0);
  });

  it('keeps to tasks.minIntervalSec and tasks.maxPerConversation', () => {
    const w = world({ maxPerConversation: 2, minIntervalSec: 3600 });
    assert.match(w.chat('add every 30m -- too often'), /^Every 30 minutes runs more often than this gateway allows \(at most once every 1 hour, tasks\.minIntervalSec\)/);
    assert.match(w.chat('add cron */30 * * * * -- too often'), /more often than this gateway allows/);
    assert.match(w.chat('add every 1h -- one'), /^Task #1/);
    assert.match(w.chat('add every 2h -- two'), /^Task #2/);
    assert.match(w.chat('add every 3h -- three'), /already has 2 scheduled tasks \(tasks\.maxPerConversation\): cancel one first/);
    assert.match(w.chat('add every 3h -- elsewhere', ANN, w.other.id), /^Task #3/, 'the limit is per conversation');
    w.chat('cancel 1');
    assert.match(w.chat('add every 3h -- three'), /^Task #4/, 'a cancelled task no longer counts');
  });

  it('lists this conversation\'s tasks to anyone in it, and all of them to the CLI', () => {
    const w = world();
    assert.equal(w.chat('', BOB), 'No scheduled tasks in this conversation. Add one with /tasks add every 1d -- <what to do>.');
    w.chat('add every 1d -- Water the plants');
    w.chat('add every 2h -- Elsewhere', ANN, w.other.id);
    w.chat('pause 1');
    assert.equal(w.chat('', BOB), 'Task #1 "Water the plants": every day, paused');
    assert.equal(w.chat('list', BOB, w.other.id), 'Task #2 "Elsewhere": every 2 hours, next run 2026-12-02 08:00 CET');
    const all = w.ops.list();
    assert.equal((all.data as unknown[]).length, 2);
    assert.match(all.text, new RegExp(`\\[${w.home.id}\\]\\n.*\\[${w.other.id}\\]$`));
  });

  it('lets the creator or the owner change a task, and tells anyone else why not', () => {
    const w = world();
    w.chat('add every 1d -- Water the plants');
    assert.equal(w.chat('pause 1', BOB), 'Task #1 "Water the plants" was created by someone else: only they or the owner can change it.');
    assert.equal(w.chat('cancel #1', BOB), 'Task #1 "Water the plants" was created by someone else: only they or the owner can change it.');
    assert.match(w.chat('edit 1 prompt Do nothing', BOB), /created by someone else/);
    assert.equal(w.audits.length, 1, 'refusals change and audit nothing');
    assert.equal(w.chat('pause 1'), 'Task #1 "Water the plants" is paused. Resume it with /tasks resume 1.');
    assert.equal(w.chat('pause 1', OWNER), 'Task #1 "Water the plants" is paused, not active.');
    assert.equal(w.chat('resume 1', OWNER), 'Task #1 "Water the plants" is resumed: next run 2026-12-03 06:00 CET. Runs missed while it was paused are not caught up.');
    assert.deepEqual(w.audits.map((a) => [a.type, a.actor]), [['task.created', 'telegram:ann'], ['task.paused', 'telegram:ann'], ['task.resumed', 'cli']]);
  });

  it('resumes from now, not from where the task stopped', () => {
    const w = world();
    w.chat('add every 1h -- check');
    w.chat('pause 1');
    w.clock.now += 10 * 3_600_000 + 60_000;
    w.chat('resume 1');
    assert.equal((w.db.prepare('SELECT next_run_at FROM tasks WHERE id = 1').get() as { next_run_at: number }).next_run_at, w.clock.now + 3_600_000);
  });

  it('edits each field, recomputing the next run for a new schedule or zone', () => {
    const w = world();
    w.chat('add cron 0 7 * * * -- Morning briefing');
    assert.equal(w.chat('edit 1 schedule cron 30 6 * * *'), 'Changed schedule. Task #1 "Morning briefing": every day at 06:30 (Europe/Berlin), next run 2026-12-02 06:30 CET.');
    assert.equal(w.chat('edit 1 timezone America/New_York'), 'Changed timezone. Task #1 "Morning briefing": every day at 06:30 (America/New_York), next run 2026-12-02 06:30 EST.');
    assert.equal(w.chat('edit 1 name Briefing'), 'Changed name. Task #1 "Briefing": every day at 06:30 (America/New_York), next run 2026-12-02 06:30 EST.');
    w.chat('edit 1 prompt Weather and Calendar, please');
    w.chat('edit 1 missed SKIP');
    const row = w.db.prepare('SELECT * FROM tasks WHERE id = 1').get() as any;
    assert.equal(row.prompt, 'Weather and Calendar, please', 'the prompt keeps its case');
    assert.equal(row.missed, 'skip');
    assert.match(w.chat('edit 1 missed later'), /^missed is `run` .* or `skip`/);
    assert.match(w.chat('edit 1 colour blue'), /^Use \/tasks edit <id> schedule\|prompt\|name\|timezone\|missed <value>/);
    assert.match(w.chat('edit 1 schedule every 1m'), /more often than this gateway allows/);
    const edits = w.audits.filter((a) => a.type === 'task.edited');
    assert.equal(edits.length, 5);
    assert.deepEqual(edits[0].data, { id: 1, name: 'Morning briefing', schedule: 'every day at 06:30 (Europe/Berlin)', changed: ['schedule'] });
    w.chat('cancel 1');
    assert.match(w.chat('edit 1 name Again'), /is cancelled; add a new task instead/);
  });

  it('cancels a task for good but keeps it, with its runs', () => {
    const w = world();
    w.chat('add every 1d -- Water the plants');
    assert.equal(w.chat('cancel 1'), 'Task #1 "Water the plants" is cancelled; it will not run again. A run already under way finishes.');
    assert.equal(w.chat('resume 1'), 'Task #1 "Water the plants" is cancelled, not paused.');
    assert.equal(w.chat('cancel 1'), 'Task #1 "Water the plants" is already cancelled.');
    assert.equal(w.chat('runs 1'), 'Task #1 "Water the plants" has not run yet.');
    const all = w.ops.list({ all: true });
    assert.match(all.text, /Task #1 "Water the plants": every day, cancelled/);
    assert.equal(w.audits.at(-1)?.type, 'task.cancelled');
  });

  it('hides other conversations\' tasks from a conversation, even from the owner typing in it', () => {
    const w = world();
    w.chat('add every 1d -- Secret', ANN, w.other.id);
    for (const verb of ['pause', 'resume', 'cancel', 'runs', 'show']) {
      assert.equal(w.chat(`${verb} 1`, OWNER), 'No task 1 in this conversation; /tasks lists them.', verb);
    }
    assert.equal(w.ops.pause(1, OWNER).ok, true, 'the CLI, naming no conversation, reaches it');
  });

  it('shows the runs of a task with what became of each', () => {
    const w = world();
    w.chat('add every 1h -- ping');
    w.db.prepare("INSERT INTO task_runs (task_id, scheduled_for, claimed_at, outcome, reason) VALUES (1, ?, ?, 'skipped', 'the previous run was still waiting or running')").run(w.clock.now + 3_600_000, w.clock.now + 3_600_000);
    assert.equal(w.chat('runs 1'), 'Latest runs of task #1 "ping":\n- 2026-12-02 07:00 CET: skipped (the previous run was still waiting or running)');
    assert.match(w.chat('show 1'), /^Task #1 "ping": every hour, next run 2026-12-02 07:00 CET\nPrompt: ping\nMissed runs: run once, late\. Created by telegram:ann\.\nLast run: 2026-12-02 07:00 CET: skipped/);
  });

  it('lists the next runs of all active tasks for nanoclaw status', () => {
    const w = world();
    w.chat('add every 2h -- later');
    w.chat('add every 1h -- sooner', ANN, w.other.id);
    w.chat('add every 30m -- paused');
    w.chat('pause 3');
    assert.deepEqual(w.ops.nextRuns(10).data, [
      { id: 2, conversation: w.other.id, name: 'sooner', nextRun: '2026-12-02T06:00:00.000Z' },
      { id: 1, conversation: w.home.id, name: 'later', nextRun: '2026-12-02T07:00:00.000Z' },
    ]);
  });

  it('dispatches operations by name with checked arguments, refusing anything else', () => {
    const w = world();
    const created = w.ops.dispatch('create', { conversationId: w.home.id, schedule: 'every 1d', prompt: 'Water the plants' }, OWNER);
    assert.equal(created.ok, true);
    assert.equal(w.ops.dispatch('pause', { id: 1 }, OWNER).ok, true);
    assert.equal(w.ops.dispatch('edit', { id: 1, name: 'plants' }, OWNER).text.startsWith('Changed name.'), true);
    assert.equal(w.ops.dispatch('list', {}, OWNER).ok, true);
    assert.deepEqual(w.ops.dispatch('drop', {}, OWNER), { ok: false, text: 'Unknown task operation "drop": one of create, list, show, pause, resume, cancel, edit, runs, nextRuns.' });
    assert.equal(w.ops.dispatch('__proto__', {}, OWNER).ok, false);
    assert.match(w.ops.dispatch('pause', { id: '1' }, OWNER).text, /^Bad arguments for pause: id: /);
    assert.match(w.ops.dispatch('pause', { id: 1, force: true }, OWNER).text, /^Bad arguments for pause: .*force/);
    assert.match(w.ops.dispatch('create', { conversationId: w.home.id, schedule: 'every 1d', prompt: 'x'.repeat(9000) }, OWNER).text, /^Bad arguments for create: prompt: /);
    assert.match(w.ops.dispatch('create', null, OWNER).text, /^Bad arguments for create: conversationId/);
    assert.match(w.ops.dispatch('resume', { id: 1, conversationId: w.other.id }, OWNER).text, /^No task 1 in this conversation/);
  });

  it('answers /tasks help and unknown subcommands with the usage', () => {
    const w = world();
    assert.match(w.chat('help'), /^Scheduled tasks of this conversation:\n\/tasks: list them\n\/tasks add <schedule> -- <what to do>/);
    assert.match(w.chat('frobnicate 3'), /^Unknown \/tasks frobnicate\.\nScheduled tasks/);
    assert.equal(w.chat('pause three'), 'Use /tasks pause <id>; /tasks lists the ids.');
  });

  it('works from the CLI without a gateway: on the data folder, with its audit record', async () => {
    const home = join(dir, `home-${++n}`);
    const layout = homeLayout(home);
    mkdirSync(home, { recursive: true });
    writeFileSync(layout.config, JSON.stringify({ tasks: { timezone: 'Europe/Berlin' } }));
    const db = openDatabase(layout.db);
    const conv = new Store(db).conversation({ channel: 'api', chat: 'my-chat', thread: '' });
    db.close();
    const saved = process.env.NANOCLAW_HOME;
    process.env.NANOCLAW_HOME = home;
    try {
      const created = await runTaskOp('create', { conversationId: conv.id, schedule: 'cron 0 7 * * *', prompt: 'Morning briefing' });
      assert.equal(created.ok, true, created.text);
      assert.match(created.text, /^Task #1 "Morning briefing": every day at 07:00 \(Europe\/Berlin\), next run /);
      assert.deepEqual(await runTaskOp('pause', { id: 7 }), { ok: false, text: 'No task 7; `nanoclaw tasks list --all` lists them.' });
      assert.equal((await runTaskOp('cancel', { id: 1 })).ok, true);
    } finally {
      if (saved === undefined) delete process.env.NANOCLAW_HOME; else process.env.NANOCLAW_HOME = saved;
    }
    assert.deepEqual(readAuditLog(join(home, 'audit.log')).map((r) => [r.type, r.actor, r.conversation]), [['task.created', 'cli', conv.id], ['task.cancelled', 'cli', conv.id]]);
  });
});
