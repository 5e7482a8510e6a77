import type Database from 'better-sqlite3';
import type { Logger } from '../core/logger.ts';
import { describeSchedule, nextOccurrence, occurrencesUntil } from './schedule.ts';
import { scheduleOf, TaskStore, type Task } from './task-store.ts';
import { formatInZone } from './zone-time.ts';

/**
 * A run is "missed" (NanoClaw was not running, or the machine slept) when it
 * is claimed more than this long after its time; under it, a tick that is a
 * little late is just on time. A missed run follows the task's policy.
 */
export const MISSED_AFTER_MS = 60_000;
/** The timer never sleeps longer than this: a clock jump or a change made by another process is noticed soon. */
const MAX_SLEEP_MS = 30_000;
/** How soon a task whose claim failed is tried again. */
const RETRY_MS = 1_000;
/** Missed occurrences counted at most (a frequent task down for months); the latest is still exact. */
const COUNT_CAP = 10_000;

export interface SchedulerDeps {
  db: Database.Database;
  /** Injected: tests drive time. */
  clock: () => number;
  /** Inside the claim transaction: a notice to the conversation (a skipped run). Must only write the DB (e.g. Store.addNotice). */
  notice(conversationId: string, text: string): void;
  /** After the transaction committed: run's message queued or a notice stored; the gateway starts the conversation's drain and delivery. */
  queued(conversationId: string): void;
  audit?: (e: { type: string; conversation?: string; actor?: string; data?: Record<string, unknown> }) => void;
  log: Logger;
}

type AuditEntry = { type: string; conversation: string; actor: string; data: Record<string, unknown> };

/**
 * The clock of scheduled tasks. Each due occurrence is claimed in ONE
 * transaction that re-reads the task, inserts its `task_runs` row (unique on
 * task and time), queues its message as an inbound row (`task_id` set) and
 * advances `next_run_at`: a crash before the commit leaves nothing, after it
 * the message is in the durable inbox like any other, and neither a restart
 * nor a second tick (another Scheduler, another process) can claim it again.
 * A run is never piled on top of the previous one still waiting or running.
 *
 *   const scheduler = new Scheduler({ db, clock: Date.now, notice: (c, t) => store.addNotice(c, t), queued: (c) => drain(c), log });
 *   scheduler.start(); // and scheduler.wake() after every change to a task
 */
export class Scheduler {
  private readonly tasks: TaskStore;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly deps: SchedulerDeps) {
    this.tasks = new TaskStore(deps.db);
  }

  /** Handles what is due (runs missed while the gateway was down included), then keeps time. */
  start(): void {
    this.running = true;
    this.tick();
    this.arm();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Re-arms the timer after a task changed (created, resumed, edited). */
  wake(): void {
    if (this.running) this.arm();
  }

  /** Claims every due occurrence now. Synchronous and public: tests call it with a chosen clock. */
  tick(): void {
    const now = this.deps.clock();
    const touched = new Set<string>();
    for (const t of this.tasks.due(now)) {
      try {
        const done = this.deps.db.transaction(() => this.claim(t.id, t.nextRunAt!, now)).immediate();
        if (!done) continue;
        for (const e of done.audits) this.deps.audit?.(e);
        if (done.wrote) touched.add(t.conversationId);
      } catch (err) {
        // One task's failure (a deleted row, a full disk) must not stop the others; it is tried again next tick.
        this.deps.log.error(`scheduled task #${t.id}: could not claim its run due ${new Date(t.nextRunAt!).toISOString()}: ${(err as Error).message}`);
      }
    }
    for (const c of touched) this.deps.queued(c);
  }

  private arm(): void {
    clearTimeout(this.timer);
    const at = this.tasks.earliest();
    const wait = at === undefined ? MAX_SLEEP_MS : at - this.deps.clock();
    // Still due right after a tick means a claim failed: retry after a pause, not in a tight loop.
    const delay = wait > 0 ? Math.min(wait, MAX_SLEEP_MS) : RETRY_MS;
    this.timer = setTimeout(() => {
      this.tick();
      if (this.running) this.arm();
    }, delay);
    this.timer.unref();
  }

  /**
   * Inside the transaction: decides what the due occurrence `due` of task
   * `id` becomes. Returns undefined when another tick got there first.
   */
  private claim(id: number, due: number, now: number): { audits: AuditEntry[]; wrote: boolean } | undefined {
    const t = this.tasks.get(id);
    if (!t || t.state !== 'active' || t.nextRunAt !== due) return undefined;
    const s = scheduleOf(t);
    const audits: AuditEntry[] = [];
    const audit = (type: string, data: Record<string, unknown>) => audits.push({ type, conversation: t.conversationId, actor: `task:${t.id}`, data: { task: t.id, ...data } });
    const late = now - due > MISSED_AFTER_MS;
    const missed = late ? occurrencesUntil(s, t.tz, due, now, COUNT_CAP) : { count: 1, last: due, capped: false };
    const at = missed.last;
    // From the scheduled time (an interval keeps its phase; croner is right inside a repeated hour), bounded below by now.
    let next = nextOccurrence(s, t.tz, at);
    if (next !== undefined && next <= now) next = nextOccurrence(s, t.tz, now);
    let wrote = false;

    const countText = `${missed.capped ? 'more than ' : ''}${missed.count.toLocaleString('en-US')}`;
    if (late && t.missed === 'skip') {
      const span = missed.count > 1 ? `${countText} runs due between ${formatInZone(due, t.tz)} and ${formatInZone(at, t.tz)} were` : `the run due ${formatInZone(at, t.tz)} was`;
      const reason = `${span} missed while NanoClaw was not running`;
      if (this.tasks.claim(t.id, at, now, 'skipped', reason) !== undefined) {
        this.deps.notice(t.conversationId, `Skipped scheduled task #${t.id} "${t.name}": ${reason}. ${next === undefined ? 'It does not run again.' : `Next run: ${formatInZone(next, t.tz)}.`}`);
        wrote = true;
        audit('task.skipped', { scheduledFor: new Date(at).toISOString(), reason, missed: missed.count });
      }
    } else if (this.tasks.previousRunPending(t.id)) {
      const reason = 'the previous run was still waiting or running';
      if (this.tasks.claim(t.id, at, now, 'skipped', reason) !== undefined) audit('task.skipped', { scheduledFor: new Date(at).toISOString(), reason });
    } else {
      let earlier = '';
      if (missed.count > 1) {
        const n = missed.capped ? `more than ${(missed.count - 1).toLocaleString('en-US')}` : (missed.count - 1).toLocaleString('en-US');
        earlier = `${n} earlier run${missed.count === 2 ? ' was' : 's were'} missed`;
        const reason = `${earlier} while NanoClaw was not running (${formatInZone(due, t.tz)} to ${formatInZone(at, t.tz)}, the last one excluded); only the latest ran`;
        if (this.tasks.claim(t.id, due, now, 'skipped', reason) !== undefined) audit('task.skipped', { scheduledFor: new Date(due).toISOString(), reason, missed: missed.count - 1 });
      }
      const runId = this.tasks.claim(t.id, at, now, 'queued');
      if (runId !== undefined) {
        const inboundId = this.queueMessage(t, at, now, late ? earlier : undefined);
        this.tasks.setRunInbound(runId, inboundId);
        wrote = true;
        audit('task.run', { scheduledFor: new Date(at).toISOString(), inbound: inboundId, ...(late ? { late: true } : {}) });
      }
    }
    this.tasks.update(t.id, next === undefined ? { state: 'done', nextRunAt: null } : { nextRunAt: next }, now);
    return { audits, wrote };
  }

  /** The run's message in the durable inbox, headed so the agent (and the transcript) can tell it from a person's. */
  private queueMessage(t: Task, at: number, now: number, lateNote: string | undefined): number {
    const what = t.kind === 'once' ? '' : `, ${describeSchedule(scheduleOf(t), t.tz)}`;
    const lines = [`[Scheduled task #${t.id} "${t.name}"${what}, due ${formatInZone(at, t.tz)}]`];
    if (lateNote !== undefined) lines.push(`(running late: NanoClaw was not running at that time${lateNote ? `; ${lateNote}` : ''})`);
    lines.push('', t.prompt);
    const clientId = `task:${t.id}:${at}`;
    const row = this.deps.db.prepare(`INSERT INTO inbound (conversation_id, client_id, sender, sender_name, text, received_at, task_id)
      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (conversation_id, client_id) DO UPDATE SET client_id = excluded.client_id RETURNING id`)
      .get(t.conversationId, clientId, `task:${t.id}`, `scheduled task "${t.name}"`.slice(0, 128), lines.join('\n'), now, t.id) as { id: number };
    this.deps.db.prepare('UPDATE conversations SET last_active_at = MAX(last_active_at, ?) WHERE id = ?').run(now, t.conversationId);
    return row.id;
  }
}
