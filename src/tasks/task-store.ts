import type Database from 'better-sqlite3';
import type { Schedule, ScheduleKind } from './schedule.ts';

/**
 * A scheduled task as stored. `active` tasks with a `nextRunAt` are what the
 * scheduler looks at; a one-off becomes `done` after its run; `cancelled`
 * ones are kept (never deleted), so their runs stay explainable.
 */
export interface Task {
  id: number;
  conversationId: string;
  name: string;
  prompt: string;
  kind: ScheduleKind;
  spec: string;
  /** IANA zone the schedule's wall times are read in. */
  tz: string;
  /** What a run missed while the gateway was down becomes: one late run, or a notice. */
  missed: 'run' | 'skip';
  state: TaskState;
  nextRunAt: number | null;
  /** OpActor.actor of whoever created it: they (and the owner) may change it. */
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export type TaskState = 'active' | 'paused' | 'done' | 'cancelled';

/** One claimed occurrence: queued (its message is `inboundId`) or skipped (with the reason). */
export interface TaskRun {
  id: number;
  taskId: number;
  scheduledFor: number;
  claimedAt: number;
  inboundId: number | null;
  outcome: 'queued' | 'skipped';
  reason: string | null;
  /** The queued message's state: pending (waiting or running), done; null when skipped. */
  inboundStatus: 'pending' | 'done' | null;
  /** How the queued message ended: answered or failed; null while pending. */
  inboundOutcome: 'answered' | 'failed' | null;
}

export type NewTask = Pick<Task, 'conversationId' | 'name' | 'prompt' | 'kind' | 'spec' | 'tz' | 'missed' | 'nextRunAt' | 'createdBy'>;
export type TaskPatch = Partial<Pick<Task, 'name' | 'prompt' | 'kind' | 'spec' | 'tz' | 'missed' | 'state' | 'nextRunAt'>>;

const task = (r: any): Task => ({
  id: r.id, conversationId: r.conversation_id, name: r.name, prompt: r.prompt, kind: r.kind, spec: r.spec, tz: r.tz,
  missed: r.missed, state: r.state, nextRunAt: r.next_run_at, createdBy: r.created_by, createdAt: r.created_at, updatedAt: r.updated_at,
});
const run = (r: any): TaskRun => ({
  id: r.id, taskId: r.task_id, scheduledFor: r.scheduled_for, claimedAt: r.claimed_at, inboundId: r.inbound_id,
  outcome: r.outcome, reason: r.reason, inboundStatus: r.inbound_status ?? null, inboundOutcome: r.inbound_outcome ?? null,
});

const COLUMNS: Record<keyof TaskPatch, string> = {
  name: 'name', prompt: 'prompt', kind: 'kind', spec: 'spec', tz: 'tz', missed: 'missed', state: 'state', nextRunAt: 'next_run_at',
};

/**
 * The `tasks` and `task_runs` tables (synchronous, so the scheduler can
 * claim inside one transaction).
 *
 *   const tasks = new TaskStore(db);
 *   const t = tasks.insert({ conversationId, name: 'news', prompt: 'Summarise the news', kind: 'every', spec: '86400', tz: 'UTC', missed: 'run', nextRunAt, createdBy: 'cli' }, now);
 */
export class TaskStore {
  constructor(readonly db: Database.Database) {}

  insert(t: NewTask, now: number): Task {
    const id = Number(this.db.prepare(`INSERT INTO tasks (conversation_id, name, prompt, kind, spec, tz, missed, state, next_run_at, created_by, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)`)
      .run(t.conversationId, t.name, t.prompt, t.kind, t.spec, t.tz, t.missed, t.nextRunAt, t.createdBy, now, now).lastInsertRowid);
    return this.get(id)!;
  }

  get(id: number): Task | undefined {
    const row = this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(id);
    return row ? task(row) : undefined;
  }

  /** A conversation's tasks (or all), active and paused first, then by id. */
  list(conversationId?: string, opts: { includeEnded?: boolean } = {}): Task[] {
    const ended = opts.includeEnded ? '' : "AND state IN ('active', 'paused')";
    const rows = conversationId
      ? this.db.prepare(`SELECT * FROM tasks WHERE conversation_id = ? ${ended} ORDER BY id`).all(conversationId)
      : this.db.prepare(`SELECT * FROM tasks WHERE 1 = 1 ${ended} ORDER BY id`).all();
    return rows.map(task);
  }

  /** Active and paused tasks of a conversation: what tasks.maxPerConversation bounds. */
  countOpen(conversationId: string): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM tasks WHERE conversation_id = ? AND state IN ('active', 'paused')").get(conversationId) as { n: number }).n;
  }

  update(id: number, patch: TaskPatch, now: number): Task {
    const keys = Object.keys(patch) as Array<keyof TaskPatch>;
    const sets = keys.map((k) => `${COLUMNS[k]} = ?`).concat('updated_at = ?').join(', ');
    this.db.prepare(`UPDATE tasks SET ${sets} WHERE id = ?`).run(...keys.map((k) => patch[k] ?? null), now, id);
    return this.get(id)!;
  }

  /** Active tasks due at `now`, earliest first. */
  due(now: number): Task[] {
    return this.db.prepare("SELECT * FROM tasks WHERE state = 'active' AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at, id").all(now).map(task);
  }

  /** The earliest next run of any active task: when the scheduler's timer should fire. */
  earliest(): number | undefined {
    const row = this.db.prepare("SELECT MIN(next_run_at) AS at FROM tasks WHERE state = 'active' AND next_run_at IS NOT NULL").get() as { at: number | null };
    return row.at ?? undefined;
  }

  /** Active tasks by next run, for `nanoclaw status`. */
  upcoming(limit: number): Task[] {
    return this.db.prepare("SELECT * FROM tasks WHERE state = 'active' AND next_run_at IS NOT NULL ORDER BY next_run_at, id LIMIT ?").all(limit).map(task);
  }

  /**
   * Records an occurrence as claimed; undefined when it already was (the
   * unique key on task and time: the guard against a second run).
   */
  claim(taskId: number, scheduledFor: number, now: number, outcome: 'queued' | 'skipped', reason: string | null = null): number | undefined {
    const info = this.db.prepare(`INSERT INTO task_runs (task_id, scheduled_for, claimed_at, outcome, reason) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (task_id, scheduled_for) DO NOTHING`).run(taskId, scheduledFor, now, outcome, reason);
    return info.changes ? Number(info.lastInsertRowid) : undefined;
  }

  setRunInbound(runId: number, inboundId: number): void {
    this.db.prepare('UPDATE task_runs SET inbound_id = ? WHERE id = ?').run(inboundId, runId);
  }

  /** Whether the task's latest queued run is still waiting or running (its message not done). */
  previousRunPending(taskId: number): boolean {
    const row = this.db.prepare(`SELECT i.status FROM task_runs r JOIN inbound i ON i.id = r.inbound_id
      WHERE r.task_id = ? AND r.outcome = 'queued' ORDER BY r.scheduled_for DESC LIMIT 1`).get(taskId) as { status: string } | undefined;
    return row?.status === 'pending';
  }

  /** The latest runs of a task, newest first, with how their messages ended. */
  runs(taskId: number, limit = 20): TaskRun[] {
    return this.db.prepare(`SELECT r.*, i.status AS inbound_status, i.outcome AS inbound_outcome FROM task_runs r
      LEFT JOIN inbound i ON i.id = r.inbound_id WHERE r.task_id = ? ORDER BY r.scheduled_for DESC LIMIT ?`).all(taskId, limit).map(run);
  }
}

/** A task's schedule as the schedule functions take it. */
export const scheduleOf = (t: Pick<Task, 'kind' | 'spec'>): Schedule => ({ kind: t.kind, spec: t.spec });
