/**
 * Scheduled tasks end to end: a real gateway, real containers and the
 * stand-in model. A recurring task fires as an injected clock moves and its
 * result reaches the conversation; a task the agent creates from the chat is
 * cancelled from the CLI; runs missed while the gateway was down follow each
 * task's policy; and a gateway SIGKILLed during a run does not run it again
 * after its restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { openDatabase } from '../src/store/database.ts';
import { conversationId } from '../src/store/store.ts';
import { apiConversation } from '../src/channels/http/handler.ts';
import { cli } from './support/cli.ts';
import { freePort, gatewayProcesses } from './support/gateway-process.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { pollUntil } from './support/wait.ts';

const HOUR = 3600_000;
const convOf = (chat: string) => conversationId(apiConversation(chat));

/** The texts stored for a conversation (replies and notices), oldest first. */
function outbound(h: Harness, chat: string): string[] {
  return h.app.store.db.prepare('SELECT text FROM outbound WHERE conversation_id = ? ORDER BY id').all(convOf(chat)).map((r: any) => r.text);
}

/** The requests for a task's run (its message, not a tool result) that mention `marker`. */
function requestsFor(fake: FakeAnthropic, marker: string) {
  return fake.requests.filter((r) => {
    const last = JSON.stringify(r.body?.messages?.findLast((m: any) => m.role === 'user')?.content ?? '');
    return last.includes('[Scheduled task #') && last.includes(marker) && !last.includes('tool_result');
  });
}

describe('scheduled tasks in a running gateway', () => {
  let h: Harness;
  let fake: FakeAnthropic;
  let home: string;
  /** The scheduler's clock: starts at the real time and moves only when a test moves it. */
  let now = Date.now();
  const clock = () => now;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'nct-tasks-'));
    fake = await startFakeAnthropic();
    h = await startHarness({ home, fake, clock });
  });
  after(async () => {
    await h?.close();
    await fake?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('a recurring task fires on schedule as the clock moves, as a task and not a user message, and posts its result', async () => {
    await h.ask('t-hourly', 'hello');
    const made = await h.ask('t-hourly', '/tasks add every 1h -- run: echo hourly-check-$((6*7))');
    assert.match(made, /^Task #1 .*every hour/);
    h.app.gateway.management.wake();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(requestsFor(fake, 'hourly-check').length, 0, 'nothing runs before its time');

    for (const round of [1, 2]) {
      now += HOUR;
      h.app.gateway.management.wake();
      await pollUntil(`run ${round} posted`, () => outbound(h, 't-hourly').filter((t) => t.includes('hourly-check-42')).length === round, 60_000);
    }
    const runs = h.app.store.db.prepare('SELECT * FROM task_runs WHERE task_id = 1 ORDER BY scheduled_for').all() as any[];
    assert.equal(runs.length, 2);
    assert.ok(runs.every((r) => r.outcome === 'queued'));
    const inbound = h.app.store.db.prepare('SELECT sender, task_id, text FROM inbound WHERE id = ?').get(runs[0].inbound_id) as any;
    assert.equal(inbound.sender, 'task:1');
    assert.equal(inbound.task_id, 1);
    assert.match(inbound.text, /^\[Scheduled task #1 /);
    const audit = readAuditLog(auditLogPath(home), { type: 'task.run' });
    assert.equal(audit.length, 2);
    assert.equal(audit[0].actor, 'task:1');
  });

  it('a task the agent schedules from the chat (host tool) is cancelled from the CLI and never runs', async () => {
    const reply = await h.ask('t-chat', 'tool: schedule_task {"schedule":"every 2h","prompt":"Say tide-report","name":"tide report"}');
    const id = Number(/Task #(\d+)/.exec(reply)?.[1]);
    assert.ok(id > 0, reply);
    const offered = (h.fake.requests.findLast((r) => JSON.stringify(r.body?.messages ?? []).includes('Say tide-report'))?.body?.tools ?? []).map((t: any) => t.name);
    assert.ok(offered.includes('mcp__nanoclaw__schedule_task'));
    for (const own of ['ScheduleWakeup', 'CronCreate']) assert.ok(!offered.includes(own), `the CLI's own ${own} is not offered: its wake-ups would live only in the container`);
    const listed = await cli(['tasks', 'list', '--all'], { NANOCLAW_HOME: home });
    assert.match(listed.stdout, /tide report/);
    const status = await cli(['status'], { NANOCLAW_HOME: home });
    assert.match(status.stdout, new RegExp(`next scheduled runs:[\\s\\S]*task #${id} "tide report" \\(every 2 hours`), status.stdout);
    const cancelled = await cli(['tasks', 'cancel', String(id)], { NANOCLAW_HOME: home });
    assert.equal(cancelled.code, 0, cancelled.stderr);
    now += 3 * HOUR;
    h.app.gateway.management.wake();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(requestsFor(fake, 'tide-report').length, 0, 'a cancelled task never runs');
    const [created] = readAuditLog(auditLogPath(home), { type: 'task.created' }).filter((e: any) => e.data.id === id);
    assert.equal(created.actor, 'api:api', 'created for the person the agent was answering');
    const [gone] = readAuditLog(auditLogPath(home), { type: 'task.cancelled' }).filter((e: any) => e.data.id === id);
    assert.equal(gone.actor, 'cli');
  });

  it('runs missed while the gateway was down: `run` runs once, late; `skip` tells the user and does not run', async () => {
    await h.ask('t-missed', 'hello');
    assert.match(await h.ask('t-missed', '/tasks add every 1h -- run: echo missed-run-$((40+2))'), /Task #/);
    assert.match(await h.ask('t-missed', 'tool: schedule_task {"schedule":"every 1h","prompt":"run: echo missed-skip-$((40+2))","missed":"skip"}'), /Task #/);
    await h.app.stop();
    now += 5 * HOUR + 60_000;
    h = await startHarness({ home, fake, clock });
    await pollUntil('the late run', () => outbound(h, 't-missed').some((t) => t.includes('missed-run-42')), 60_000);
    await pollUntil('the skip notice', () => outbound(h, 't-missed').some((t) => t.startsWith('Skipped scheduled task')), 10_000);
    const texts = outbound(h, 't-missed');
    assert.equal(texts.filter((t) => t.includes('missed-run-42')).length, 1, 'five missed runs became one');
    assert.equal(texts.filter((t) => t.includes('missed-skip-42')).length, 0, 'the skipping task did not run');
    assert.match(texts.find((t) => t.startsWith('Skipped scheduled task')) ?? '', /5 runs due between .* were missed while NanoClaw was not running\. Next run: /);
    const late = requestsFor(fake, 'missed-run-$((40+2))');
    assert.equal(late.length, 1);
    assert.match(JSON.stringify(late[0]?.body?.messages), /running late: NanoClaw was not running at that time/);
  });
});

describe('a gateway SIGKILLed during a task run', () => {
  let gws: Awaited<ReturnType<typeof gatewayProcesses>>;
  before(async () => { gws = await gatewayProcesses('nct-taskkill-'); });
  after(() => gws?.close());

  it('does not run it again after the restart: the run is claimed once, and the user is told it was cut short', async () => {
    const home = gws.newHome();
    const port = await freePort();
    const gw = await gws.start(home, port);
    assert.equal((await gw.send('k-chat', 'hello')).status, 200);
    const res = await gw.api('/api/v1/manage/tasks', {
      method: 'POST',
      body: JSON.stringify({ op: 'create', args: { conversationId: convOf('k-chat'), schedule: 'in 1s', prompt: 'killed-run-marker\nsleep: 20000' } }),
    });
    const made = await res.json() as any;
    assert.equal(made.ok, true, made.text);
    await pollUntil('the task run reached the model', () => requestsFor(gws.fake, 'killed-run-marker').length === 1, 60_000);
    await gw.kill('SIGKILL');

    const again = await gws.start(home, port);
    const db = openDatabase(join(home, 'nanoclaw.db'));
    try {
      await pollUntil('the cut-short notice', () => (db.prepare("SELECT COUNT(*) AS n FROM outbound WHERE conversation_id = ? AND text LIKE '%cut short%'").get(convOf('k-chat')) as any).n === 1, 30_000);
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(requestsFor(gws.fake, 'killed-run-marker').length, 1, 'the model saw the run once');
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM task_runs').get() as any).n, 1);
      const task = db.prepare('SELECT state FROM tasks').get() as any;
      assert.equal(task.state, 'done');
      const inbound = db.prepare('SELECT status, outcome, attempts FROM inbound WHERE task_id IS NOT NULL').get() as any;
      assert.deepEqual(inbound, { status: 'done', outcome: 'failed', attempts: 1 });
    } finally {
      db.close();
      await again.kill('SIGTERM');
    }
    assert.equal(readAuditLog(auditLogPath(home), { type: 'task.cut_short' }).length, 1);
  });
});
