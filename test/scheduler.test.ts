/**
 * The scheduler on a real SQLite file with a clock the test moves: runs
 * appear in the durable inbox once per occurrence, are claimed once whatever
 * ticks overlap or crash, and runs missed while the gateway was down follow
 * the task's policy.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type Database from 'better-sqlite3';
import { ConfigSchema } from '../src/config/schema.ts';
import { createLogger } from '../src/core/logger.ts';
import { openDatabase } from '../src/store/database.ts';
import { Store } from '../src/store/store.ts';
import { Scheduler } from '../src/tasks/scheduler.ts';
import { TaskOps } from '../src/tasks/task-ops.ts';
import { TaskStore } from '../src/tasks/task-store.ts';

const ms = (iso: string) => Date.parse(iso);
const MIN = 60_000;
const OWNER = { actor: 'cli', owner: true };

describe('scheduler', () => {
  let dir: string;
  let n = 0;
  const open: Database.Database[] = [];
  before(() => { dir = mkdtempSync(join(tmpdir(), 'ncsched-')); });
  afterEach(() => { for (const db of open.splice(0)) if (db.open) db.close(); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A gateway's worth of parts on one database file, sharing a clock the test sets. */
  function world(file = join(dir, `sched-${++n}.db`), clock = { now: ms('2026-12-02T05:00:00Z') }) {
    const db = openDatabase(file);
    open.push(db);
    const store = new Store(db);
    const audits: Array<{ type: string; data?: Record<string, unknown> }> = [];
    const queued: string[] = [];
    const scheduler = new Scheduler({
      db, clock: () => clock.now, log: createLogger('silent'),
      notice: (c, text) => store.addNotice(c, text), queued: (c) => queued.push(c), audit: (e) => audits.push(e),
    });
    const ops = new TaskOps({ db, config: ConfigSchema.parse({ tasks: { timezone: 'Europe/Berlin' } }), clock: () => clock.now, onChange: () => scheduler.wake() });
    const conv = store.conversation({ channel: 'api', chat: 'sched', thread: '' });
    const create = (schedule: string, extra: { missed?: 'run' | 'skip'; timezone?: string } = {}) => {
      const res = ops.create({ conversationId: conv.id, schedule, prompt: 'Summarise the news', name: 'news', ...extra }, OWNER);
      assert.ok(res.ok, res.text);
      return (res.data as { id: number }).id;
    };
    const inbound = () => db.prepare('SELECT * FROM inbound WHERE task_id IS NOT NULL ORDER BY id').all() as any[];
    const runs = (taskId: number) => db.prepare('SELECT * FROM task_runs WHERE task_id = ? ORDER BY scheduled_for').all(taskId) as any[];
    const notices = () => db.prepare("SELECT text FROM outbound WHERE kind = 'notice' ORDER BY id").all().map((r: any) => r.text as string);
    /** The agent answers every queued run. */
    const answerAll = () => { for (const m of store.pendingInbound()) store.completeTurn(m.id, [{ kind: 'reply', text: 'done' }]); };
    const task = (id: number) => new TaskStore(db).get(id)!;
    return { db, file, store, clock, scheduler, ops, conv, audits, queued, create, inbound, runs, notices, answerAll, task };
  }

  it('queues a recurring task\'s message at each occurrence, headed and linked to the task', () => {
    const w = world();
    const id = w.create('every 30m');
    w.clock.now += 29 * MIN;
    w.scheduler.tick();
    assert.equal(w.inbound().length, 0, 'nothing before its time');
    w.clock.now += MIN + 5_000;
    w.scheduler.tick();
    const [first] = w.inbound();
    assert.ok(first, 'the first run is queued');
    assert.equal(first.task_id, id);
    assert.equal(first.sender, `task:${id}`);
    assert.equal(first.sender_name, 'scheduled task "news"');
    assert.equal(first.status, 'pending');
    assert.equal(first.client_id, `task:${id}:${ms('2026-12-02T05:30:00Z')}`);
    assert.equal(first.text, `[Scheduled task #${id} "news", every 30 minutes, due 2026-12-02 06:30 CET]\n\nSummarise the news`);
    assert.deepEqual(w.queued, [w.conv.id]);
    assert.equal(w.task(id).nextRunAt, ms('2026-12-02T06:00:00Z'), 'the next run keeps the schedule\'s phase, not the tick\'s');
    assert.equal(w.audits.filter((a) => a.type === 'task.run').length, 1);
    w.answerAll();
    w.clock.now = ms('2026-12-02T06:00:00Z');
    w.scheduler.tick();
    w.scheduler.tick();
    assert.equal(w.inbound().length, 2, 'one message per occurrence');
    assert.deepEqual(w.runs(id).map((r) => [r.outcome, r.scheduled_for]), [['queued', ms('2026-12-02T05:30:00Z')], ['queued', ms('2026-12-02T06:00:00Z')]]);
  });

  it('claims an occurrence once, whether two ticks or two schedulers on the same file meet it', () => {
    const a = world();
    const b = world(a.file, a.clock);
    const id = a.create('every 1h');
    a.clock.now += 60 * MIN;
    a.scheduler.tick();
    b.scheduler.tick();
    a.scheduler.tick();
    assert.equal(a.inbound().length, 1);
    assert.equal(a.runs(id).length, 1);
    assert.deepEqual(b.queued, [], 'the second scheduler found nothing to do');
  });

  it('does not claim again after a crash between the claim and the run', () => {
    const w = world();
    const id = w.create('every 1h');
    w.clock.now += 60 * MIN;
    w.scheduler.tick();
    w.db.close(); // the gateway dies before the turn starts
    const again = world(w.file, w.clock);
    again.scheduler.tick();
    assert.equal(again.inbound().length, 1, 'the one message, still pending, is what the restarted gateway runs');
    assert.equal(again.inbound()[0].status, 'pending');
    assert.equal(again.runs(id).length, 1);
  });

  it('runs the latest missed occurrence once, late, and records the earlier ones as skipped (policy run)', () => {
    const w = world();
    const id = w.create('every 1h');
    w.clock.now = ms('2026-12-02T10:20:00Z'); // down from 05:00; due at 06, 07, 08, 09, 10
    w.scheduler.start();
    w.scheduler.stop();
    const [late] = w.inbound();
    assert.equal(w.inbound().length, 1, 'one run, not five');
    assert.match(late.text, /due 2026-12-02 11:00 CET\]\n\(running late: NanoClaw was not running at that time; 4 earlier runs were missed\)\n\nSummarise the news$/);
    assert.deepEqual(w.runs(id).map((r) => [r.outcome, new Date(r.scheduled_for).toISOString()]), [
      ['skipped', '2026-12-02T06:00:00.000Z'], ['queued', '2026-12-02T10:00:00.000Z'],
    ]);
    assert.match(w.runs(id)[0].reason, /^4 earlier runs were missed while NanoClaw was not running/);
    assert.equal(w.task(id).nextRunAt, ms('2026-12-02T11:00:00Z'));
    assert.ok(w.audits.some((a) => a.type === 'task.skipped'));
  });

  it('skips missed runs with a notice to the conversation and no run (policy skip)', () => {
    const w = world();
    const id = w.create('cron 0 7 * * *', { missed: 'skip', timezone: 'Europe/Berlin' });
    w.clock.now = ms('2026-12-04T12:00:00Z'); // created at 06:00 CET on 12-02: three 07:00 runs were missed
    w.scheduler.tick();
    assert.equal(w.inbound().length, 0);
    assert.deepEqual(w.notices(), [`Skipped scheduled task #${id} "news": 3 runs due between 2026-12-02 07:00 CET and 2026-12-04 07:00 CET were missed while NanoClaw was not running. Next run: 2026-12-05 07:00 CET.`]);
    assert.deepEqual(w.runs(id).map((r) => [r.outcome, r.scheduled_for]), [['skipped', ms('2026-12-04T06:00:00Z')]]);
    assert.deepEqual(w.queued, [w.conv.id], 'the notice is delivered');
    assert.equal(w.audits.find((a) => a.type === 'task.skipped')?.data?.missed, 3);
  });

  it('does not pile a run on top of the previous one still waiting or running', () => {
    const w = world();
    const id = w.create('every 1h');
    w.clock.now += 60 * MIN;
    w.scheduler.tick();
    w.clock.now += 60 * MIN; // the first run's message is still pending
    w.scheduler.tick();
    assert.equal(w.inbound().length, 1);
    const [, skipped] = w.runs(id);
    assert.equal(skipped.outcome, 'skipped');
    assert.equal(skipped.reason, 'the previous run was still waiting or running');
    assert.deepEqual(w.notices(), [], 'no notice for an overlap');
    w.answerAll();
    w.clock.now += 60 * MIN;
    w.scheduler.tick();
    assert.equal(w.inbound().length, 2, 'runs again once the previous one is done');
  });

  it('never fires a paused or a cancelled task, and resumes from now', () => {
    const w = world();
    const paused = w.create('every 1h');
    const cancelled = w.create('every 1h');
    assert.ok(w.ops.pause(paused, OWNER).ok);
    assert.ok(w.ops.cancel(cancelled, OWNER).ok);
    w.clock.now += 5 * 60 * MIN;
    w.scheduler.tick();
    assert.equal(w.inbound().length, 0);
    assert.ok(w.ops.resume(paused, OWNER).ok);
    w.scheduler.tick();
    assert.equal(w.inbound().length, 0, 'runs missed while paused are not caught up');
    w.clock.now += 60 * MIN;
    w.scheduler.tick();
    assert.equal(w.inbound().length, 1);
    assert.equal(w.runs(cancelled).length, 0);
  });

  it('runs a one-off once and marks it done; a missed one-off under skip is done with a notice', () => {
    const w = world();
    const once = w.create('in 20m');
    const missed = w.create('in 30m', { missed: 'skip' });
    w.clock.now += 20 * MIN;
    w.scheduler.tick();
    assert.equal(w.inbound()[0].text, `[Scheduled task #${once} "news", due 2026-12-02 06:20 CET]\n\nSummarise the news`);
    assert.equal(w.task(once).state, 'done');
    assert.equal(w.task(once).nextRunAt, null);
    w.clock.now += 5 * 60 * MIN;
    w.scheduler.tick();
    assert.equal(w.inbound().length, 1);
    assert.equal(w.task(missed).state, 'done');
    assert.match(w.notices()[0], new RegExp(`^Skipped scheduled task #${missed} "news": the run due 2026-12-02 06:30 CET was missed while NanoClaw was not running\\. It does not run again\\.$`));
  });

  it('starts with due runs handled, then wakes for a task added later, on the real clock', async () => {
    const w = world(undefined, { get now() { return Date.now(); } });
    w.db.prepare("INSERT INTO tasks (conversation_id, name, prompt, kind, spec, tz, missed, state, next_run_at, created_by, created_at, updated_at) VALUES (?, 'old', 'p', 'once', ?, 'UTC', 'run', 'active', ?, 'cli', 0, 0)")
      .run(w.conv.id, String(Date.now() - 30_000), Date.now() - 30_000); // half a minute late is not yet "missed"
    w.scheduler.start();
    try {
      assert.equal(w.inbound().length, 1, 'claimed by start() itself');
      assert.doesNotMatch(w.inbound()[0].text, /running late/);
      w.create('in 1s'); // TaskOps.onChange wakes the sleeping scheduler
      const deadline = Date.now() + 5_000;
      while (w.inbound().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(w.inbound().length, 2, 'the timer fired for the new task');
    } finally { w.scheduler.stop(); }
  });

  describe('a DST night, driven minute by minute: one run that day', () => {
    const nights: Array<[string, string, string, string]> = [
      ['Europe/Berlin', '30 2 * * *', '2027-03-27T20:00:00Z', '2027-03-28T01:00:00Z'],
      ['Europe/Berlin', '30 2 * * *', '2027-10-30T20:00:00Z', '2027-10-31T00:30:00Z'],
      ['Europe/Berlin', '30 1 * * *', '2027-10-30T20:00:00Z', '2027-10-30T23:30:00Z'],
      ['America/New_York', '30 2 * * *', '2027-03-14T00:00:00Z', '2027-03-14T07:00:00Z'],
      ['America/New_York', '30 1 * * *', '2027-11-07T00:00:00Z', '2027-11-07T05:30:00Z'],
      ['America/New_York', '30 2 * * *', '2027-11-07T00:00:00Z', '2027-11-07T07:30:00Z'],
    ];
    for (const [tz, expr, start, runAt] of nights) {
      it(`${tz} \`${expr}\` from ${start}`, () => {
        const w = world(undefined, { now: ms(start) });
        const id = w.create(`cron ${expr}`, { timezone: tz });
        for (let t = ms(start); t <= ms(start) + 12 * 60 * MIN; t += MIN) {
          w.clock.now = t;
          w.scheduler.tick();
          w.answerAll();
        }
        assert.deepEqual(w.runs(id).map((r) => [r.outcome, new Date(r.scheduled_for).toISOString(), r.claimed_at - r.scheduled_for]), [['queued', new Date(runAt).toISOString(), 0]]);
      });
    }
  });
});
