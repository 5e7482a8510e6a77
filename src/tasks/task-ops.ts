import type Database from 'better-sqlite3';
import { z } from 'zod';
import { validTimeZone, type Config } from '../config/schema.ts';
import type { OpActor, OpResult } from '../core/ops.ts';
import { describeSchedule, nextOccurrence, parseSchedule, tooFrequent, type Schedule } from './schedule.ts';
import { scheduleOf, TaskStore, type Task, type TaskRun } from './task-store.ts';
import { formatInZone } from './zone-time.ts';

export interface TaskOpsDeps {
  db: Database.Database;
  config: Config;
  clock: () => number;
  audit?: (e: { type: string; conversation?: string; actor?: string; data?: Record<string, unknown> }) => void;
  /** After any change: the scheduler re-arms its timer (Scheduler.wake). */
  onChange?: () => void;
}

export interface CreateTaskArgs {
  conversationId: string;
  schedule: string;
  prompt: string;
  name?: string;
  timezone?: string;
  missed?: 'run' | 'skip';
}

export interface EditTaskArgs {
  schedule?: string;
  prompt?: string;
  name?: string;
  timezone?: string;
  missed?: 'run' | 'skip';
}

/** As the host tool's bounds (protocol/schema.ts LIMITS), so the agent and the CLI meet the same limits. */
const MAX_PROMPT = 8 * 1024;
const MAX_NAME = 100;

/** A task for API clients and `--json`: times as ISO text. */
function taskData(t: Task) {
  return {
    id: t.id, conversation: t.conversationId, name: t.name, prompt: t.prompt, kind: t.kind, spec: t.spec, timezone: t.tz,
    schedule: describeSchedule(scheduleOf(t), t.tz), missed: t.missed, state: t.state,
    nextRun: t.nextRunAt === null ? null : new Date(t.nextRunAt).toISOString(), createdBy: t.createdBy,
    createdAt: new Date(t.createdAt).toISOString(), updatedAt: new Date(t.updatedAt).toISOString(),
  };
}

const runData = (r: TaskRun) => ({
  scheduledFor: new Date(r.scheduledFor).toISOString(), claimedAt: new Date(r.claimedAt).toISOString(),
  outcome: r.outcome, reason: r.reason, inbound: r.inboundId, status: r.inboundStatus, result: r.inboundOutcome,
});

const id = z.number().int().positive();
const tz = z.string().min(1).max(64);
const missed = z.enum(['run', 'skip']);
const scope = z.string().min(1).max(200).optional();
/** The arguments of each operation, checked before anything runs: API and CLI callers send JSON. */
const OPS = {
  create: z.strictObject({ conversationId: z.string().min(1).max(200), schedule: z.string().min(1).max(200), prompt: z.string().min(1).max(MAX_PROMPT), name: z.string().max(MAX_NAME).optional(), timezone: tz.optional(), missed: missed.optional() }),
  list: z.strictObject({ conversationId: scope, all: z.boolean().optional() }),
  show: z.strictObject({ id, conversationId: scope }),
  pause: z.strictObject({ id, conversationId: scope }),
  resume: z.strictObject({ id, conversationId: scope }),
  cancel: z.strictObject({ id, conversationId: scope }),
  edit: z.strictObject({ id, conversationId: scope, schedule: z.string().min(1).max(200).optional(), prompt: z.string().min(1).max(MAX_PROMPT).optional(), name: z.string().min(1).max(MAX_NAME).optional(), timezone: tz.optional(), missed: missed.optional() }),
  runs: z.strictObject({ id, conversationId: scope }),
  nextRuns: z.strictObject({ limit: z.number().int().min(1).max(100).optional() }),
};
export type TaskOp = keyof typeof OPS;

/**
 * Every management operation on scheduled tasks, one implementation for the
 * `/tasks` chat command, `nanoclaw tasks`, the HTTP API and the agent's host
 * tools. Texts are written for a chat. With `conversationId` given, only that
 * conversation's tasks exist (the agent and chat users see their own); a
 * change needs the owner or the task's creator.
 *
 *   const ops = new TaskOps({ db, config, clock: Date.now, onChange: () => scheduler.wake() });
 *   ops.create({ conversationId, schedule: 'cron 0 7 * * *', prompt: 'Morning briefing' }, { actor: 'cli', owner: true });
 */
export class TaskOps {
  private readonly tasks: TaskStore;

  constructor(private readonly deps: TaskOpsDeps) {
    this.tasks = new TaskStore(deps.db);
  }

  /** The zone of a task that names none: tasks.timezone, else the host's. */
  defaultZone(): string {
    return this.deps.config.tasks.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  }

  create(args: CreateTaskArgs, who: OpActor): OpResult {
    const now = this.deps.clock();
    const prompt = args.prompt.trim();
    if (!prompt) return { ok: false, text: 'A task needs a prompt: what the agent should do when it runs.' };
    if (prompt.length > MAX_PROMPT) return { ok: false, text: `The prompt is ${prompt.length} characters; a task's prompt is at most ${MAX_PROMPT}.` };
    if (!this.deps.db.prepare('SELECT 1 FROM conversations WHERE id = ?').get(args.conversationId)) {
      return { ok: false, text: `No conversation ${args.conversationId}: \`nanoclaw status\` lists them.` };
    }
    const zone = args.timezone ?? this.defaultZone();
    if (!validTimeZone(zone)) return { ok: false, text: badZone(zone) };
    const parsed = this.checkedSchedule(args.schedule, zone, now);
    if ('error' in parsed) return { ok: false, text: parsed.error };
    const max = this.deps.config.tasks.maxPerConversation;
    if (this.tasks.countOpen(args.conversationId) >= max) {
      return { ok: false, text: `This conversation already has ${max} scheduled tasks (tasks.maxPerConversation): cancel one first (/tasks lists them).` };
    }
    const name = cleanName(args.name) || defaultName(prompt);
    const t = this.tasks.insert({
      conversationId: args.conversationId, name, prompt, kind: parsed.kind, spec: parsed.spec, tz: zone,
      missed: args.missed ?? 'run', nextRunAt: nextOccurrence(parsed, zone, now)!, createdBy: who.actor,
    }, now);
    this.changed('task.created', t, who);
    return { ok: true, text: `${this.summary(t)}. Pause it with /tasks pause ${t.id}.`, data: taskData(t) };
  }

  list(args: { conversationId?: string; all?: boolean } = {}): OpResult {
    const all = this.tasks.list(args.conversationId, { includeEnded: args.all });
    if (!all.length) {
      return { ok: true, text: args.conversationId ? 'No scheduled tasks in this conversation. Add one with /tasks add every 1d -- <what to do>.' : 'No scheduled tasks.', data: [] };
    }
    const lines = all.map((t) => `${this.summary(t)}${args.conversationId ? '' : ` [${t.conversationId}]`}`);
    return { ok: true, text: lines.join('\n'), data: all.map(taskData) };
  }

  show(taskId: number, conversationId?: string): OpResult {
    const t = this.find(taskId, conversationId);
    if (!t) return this.notFound(taskId, conversationId);
    const last = this.tasks.runs(t.id, 1)[0];
    const text = [
      this.summary(t),
      `Prompt: ${t.prompt}`,
      `Missed runs: ${t.missed === 'run' ? 'run once, late' : 'skipped, with a notice'}. Created by ${t.createdBy}.`,
      last ? `Last run: ${runLine(last, t.tz)}` : 'It has not run yet.',
    ].join('\n');
    return { ok: true, text, data: taskData(t) };
  }

  pause(taskId: number, who: OpActor, conversationId?: string): OpResult {
    const t = this.changeable(taskId, who, conversationId);
    if ('ok' in t) return t;
    if (t.state !== 'active') return { ok: false, text: `Task #${t.id} "${t.name}" is ${t.state}, not active.` };
    const u = this.tasks.update(t.id, { state: 'paused' }, this.deps.clock());
    this.changed('task.paused', u, who);
    return { ok: true, text: `Task #${u.id} "${u.name}" is paused. Resume it with /tasks resume ${u.id}.`, data: taskData(u) };
  }

  resume(taskId: number, who: OpActor, conversationId?: string): OpResult {
    const t = this.changeable(taskId, who, conversationId);
    if ('ok' in t) return t;
    if (t.state !== 'paused') return { ok: false, text: `Task #${t.id} "${t.name}" is ${t.state}, not paused.` };
    const now = this.deps.clock();
    // From now: runs that fell due while it was paused are not caught up.
    const next = nextOccurrence(scheduleOf(t), t.tz, now);
    if (next === undefined) return { ok: false, text: `Task #${t.id} "${t.name}" was due ${formatInZone(Number(t.spec), t.tz)}, which has passed: give it a new time with /tasks edit ${t.id} schedule <when>.` };
    const u = this.tasks.update(t.id, { state: 'active', nextRunAt: next }, now);
    this.changed('task.resumed', u, who);
    return { ok: true, text: `Task #${u.id} "${u.name}" is resumed: next run ${formatInZone(next, u.tz)}. Runs missed while it was paused are not caught up.`, data: taskData(u) };
  }

  cancel(taskId: number, who: OpActor, conversationId?: string): OpResult {
    const t = this.changeable(taskId, who, conversationId);
    if ('ok' in t) return t;
    if (t.state === 'cancelled' || t.state === 'done') return { ok: false, text: `Task #${t.id} "${t.name}" is already ${t.state}.` };
    const u = this.tasks.update(t.id, { state: 'cancelled', nextRunAt: null }, this.deps.clock());
    this.changed('task.cancelled', u, who);
    return { ok: true, text: `Task #${u.id} "${u.name}" is cancelled; it will not run again. A run already under way finishes.`, data: taskData(u) };
  }

  edit(taskId: number, args: EditTaskArgs, who: OpActor, conversationId?: string): OpResult {
    const t = this.changeable(taskId, who, conversationId);
    if ('ok' in t) return t;
    if (t.state === 'cancelled' || t.state === 'done') return { ok: false, text: `Task #${t.id} "${t.name}" is ${t.state}; add a new task instead (/tasks add).` };
    const fields = (Object.keys(args) as Array<keyof EditTaskArgs>).filter((k) => args[k] !== undefined);
    if (!fields.length) return { ok: false, text: 'Nothing to change: give a schedule, prompt, name, timezone or missed policy.' };
    const now = this.deps.clock();
    const zone = args.timezone ?? t.tz;
    if (!validTimeZone(zone)) return { ok: false, text: badZone(zone) };
    let s: Schedule = scheduleOf(t);
    if (args.schedule !== undefined) {
      const parsed = this.checkedSchedule(args.schedule, zone, now);
      if ('error' in parsed) return { ok: false, text: parsed.error };
      s = parsed;
    } else if (args.timezone !== undefined && s.kind === 'cron') {
      const why = tooFrequent(s, zone, this.deps.config.tasks.minIntervalSec, now);
      if (why) return { ok: false, text: why };
    }
    const prompt = args.prompt?.trim();
    if (args.prompt !== undefined && !prompt) return { ok: false, text: 'A task needs a prompt: what the agent should do when it runs.' };
    const name = args.name !== undefined ? cleanName(args.name) : undefined;
    if (args.name !== undefined && !name) return { ok: false, text: 'A task\'s name cannot be empty.' };
    const timing = args.schedule !== undefined || args.timezone !== undefined;
    // A new schedule or zone counts from now, as a new task would.
    const next = timing ? nextOccurrence(s, zone, now) : t.nextRunAt;
    const u = this.tasks.update(t.id, {
      kind: s.kind, spec: s.spec, tz: zone, nextRunAt: next ?? null,
      ...(prompt !== undefined ? { prompt } : {}), ...(name !== undefined ? { name } : {}), ...(args.missed ? { missed: args.missed } : {}),
    }, now);
    this.changed('task.edited', u, who, { changed: fields });
    return { ok: true, text: `Changed ${fields.join(', ')}. ${this.summary(u)}.`, data: taskData(u) };
  }

  runs(taskId: number, conversationId?: string): OpResult {
    const t = this.find(taskId, conversationId);
    if (!t) return this.notFound(taskId, conversationId);
    const all = this.tasks.runs(t.id, 20);
    const text = all.length ? [`Latest runs of task #${t.id} "${t.name}":`, ...all.map((r) => `- ${runLine(r, t.tz)}`)].join('\n') : `Task #${t.id} "${t.name}" has not run yet.`;
    return { ok: true, text, data: all.map(runData) };
  }

  /** The next runs of all active tasks, soonest first, for `nanoclaw status`. */
  nextRuns(limit = 10): OpResult {
    const all = this.tasks.upcoming(limit);
    const data = all.map((t) => ({ id: t.id, conversation: t.conversationId, name: t.name, nextRun: new Date(t.nextRunAt!).toISOString() }));
    const text = all.length ? all.map((t) => `#${t.id} "${t.name}" [${t.conversationId}]: ${formatInZone(t.nextRunAt!, t.tz)}`).join('\n') : 'No scheduled tasks.';
    return { ok: true, text, data };
  }

  /**
   * Runs an operation named by text with JSON arguments (the HTTP API, the
   * CLI through a gateway), each argument checked first.
   *
   *   ops.dispatch('pause', { id: 3 }, { actor: 'cli', owner: true });
   */
  dispatch(op: string, args: unknown, who: OpActor): OpResult {
    if (!Object.hasOwn(OPS, op)) return { ok: false, text: `Unknown task operation "${String(op).slice(0, 40)}": one of ${Object.keys(OPS).join(', ')}.` };
    const parsed = OPS[op as TaskOp].safeParse(args ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ');
      return { ok: false, text: `Bad arguments for ${op}: ${issues}.` };
    }
    const a = parsed.data as any;
    switch (op as TaskOp) {
      case 'create': return this.create(a, who);
      case 'list': return this.list(a);
      case 'show': return this.show(a.id, a.conversationId);
      case 'pause': return this.pause(a.id, who, a.conversationId);
      case 'resume': return this.resume(a.id, who, a.conversationId);
      case 'cancel': return this.cancel(a.id, who, a.conversationId);
      case 'edit': {
        const { id: taskId, conversationId, ...changes } = a;
        return this.edit(taskId, changes, who, conversationId);
      }
      case 'runs': return this.runs(a.id, a.conversationId);
      case 'nextRuns': return this.nextRuns(a.limit);
    }
  }

  /** `Task #3 "morning briefing": every day at 07:00 (Europe/Berlin), next run 2026-12-03 07:00 CET` */
  private summary(t: Task): string {
    const what = describeSchedule(scheduleOf(t), t.tz);
    if (t.state !== 'active' || t.nextRunAt === null) return `Task #${t.id} "${t.name}": ${what}, ${t.state}`;
    // A one-off's description is its time already.
    return `Task #${t.id} "${t.name}": ${what}${t.kind === 'once' ? '' : `, next run ${formatInZone(t.nextRunAt, t.tz)}`}`;
  }

  private checkedSchedule(text: string, zone: string, now: number): Schedule | { error: string } {
    const parsed = parseSchedule(text, zone, now);
    if ('error' in parsed) return { error: `${capitalise(parsed.error)}.` };
    const why = tooFrequent(parsed, zone, this.deps.config.tasks.minIntervalSec, now);
    return why ? { error: `${capitalise(why)}.` } : parsed;
  }

  private find(taskId: number, conversationId?: string): Task | undefined {
    const t = this.tasks.get(taskId);
    return t && (conversationId === undefined || t.conversationId === conversationId) ? t : undefined;
  }

  private notFound(taskId: number, conversationId?: string): OpResult {
    return { ok: false, text: conversationId ? `No task ${taskId} in this conversation; /tasks lists them.` : `No task ${taskId}; \`nanoclaw tasks list --all\` lists them.` };
  }

  /** The task, when it exists here and `who` may change it: the owner or whoever created it. */
  private changeable(taskId: number, who: OpActor, conversationId?: string): Task | OpResult {
    const t = this.find(taskId, conversationId);
    if (!t) return this.notFound(taskId, conversationId);
    if (!who.owner && t.createdBy !== who.actor) {
      return { ok: false, text: `Task #${t.id} "${t.name}" was created by someone else: only they or the owner can change it.` };
    }
    return t;
  }

  private changed(type: string, t: Task, who: OpActor, extra: Record<string, unknown> = {}): void {
    this.deps.audit?.({ type, conversation: t.conversationId, actor: who.actor, data: { id: t.id, name: t.name, schedule: describeSchedule(scheduleOf(t), t.tz), ...extra } });
    this.deps.onChange?.();
  }
}

function runLine(r: TaskRun, tz: string): string {
  const due = formatInZone(r.scheduledFor, tz);
  if (r.outcome === 'skipped') return `${due}: skipped (${r.reason ?? 'no reason recorded'})`;
  const status = r.inboundStatus === 'pending' ? 'waiting or running' : r.inboundOutcome === 'failed' ? 'failed' : 'done';
  const late = r.claimedAt - r.scheduledFor > 60_000 ? ', late' : '';
  return `${due}: ${status}${late}`;
}

function badZone(zone: string): string {
  return `"${zone.slice(0, 64)}" is not a time zone: use an IANA name such as Europe/Berlin or America/New_York.`;
}

/** One line, no control characters, bounded. */
function cleanName(name: string | undefined): string {
  return (name ?? '').replace(/[\p{Cc}\p{Cf}"]/gu, ' ').replace(/\s+/g, ' ').trim().slice(0, MAX_NAME);
}

/** The prompt's first few words: a name for a task given none. */
function defaultName(prompt: string): string {
  const words = cleanName(prompt.split('\n')[0]).split(' ').slice(0, 5).join(' ');
  return words.length > 40 ? `${words.slice(0, 39)}…` : words || 'task';
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
