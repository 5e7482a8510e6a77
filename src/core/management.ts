import type { AuditEvent } from '../audit/audit-log.ts';
import type { HomeLayout } from '../config/home.ts';
import type { Config } from '../config/schema.ts';
import type { HostToolCall, HostToolResult } from '../protocol/messages.ts';
import { SkillOps } from '../skills/skill-ops.ts';
import type { Store } from '../store/store.ts';
import { Scheduler } from '../tasks/scheduler.ts';
import { TaskOps } from '../tasks/task-ops.ts';
import type { Logger } from './logger.ts';
import type { OpActor, OpResult } from './ops.ts';

export interface ManagementDeps {
  config: Config;
  layout: HomeLayout;
  store: Store;
  log: Logger;
  audit?: (event: AuditEvent) => void;
  /** The scheduler's clock; tests inject one. */
  clock: () => number;
  /** A task's run was queued, or a notice stored, in this conversation: start its drain and delivery. */
  queued: (conversationId: string) => void;
}

/**
 * What the owner manages beyond a conversation, and what acts without one:
 * scheduled tasks (their operations and the scheduler's clock) and skills.
 * One instance per gateway; chat commands, the HTTP API (and through it the
 * CLI) and the agent's host tools all come here, so each operation has one
 * implementation and one audit trail.
 *
 *   const m = new Management(deps); m.start();
 *   m.manage('tasks', 'cancel', { id: 3 }, { actor: 'cli', owner: true });
 */
export class Management {
  readonly tasks: TaskOps;
  readonly skills: SkillOps;
  private readonly scheduler: Scheduler;

  constructor(private readonly deps: ManagementDeps) {
    const { store, config, clock, audit, log } = deps;
    this.scheduler = new Scheduler({
      db: store.db, clock, log, audit,
      notice: (conversationId, text) => store.addNotice(conversationId, text),
      queued: deps.queued,
    });
    this.tasks = new TaskOps({ db: store.db, config, clock, audit, onChange: () => this.scheduler.wake() });
    this.skills = new SkillOps({ db: store.db, layout: deps.layout, audit, clock });
  }

  /**
   * Installs bundled skills not known yet and lays out the live folder (a
   * crash mid-change is repaired here); then the scheduler handles what came
   * due while the gateway was down, by each task's policy, and keeps time.
   */
  start(): void {
    for (const r of [this.skills.installBundled(), this.skills.sync()]) {
      if (!r.ok) this.deps.log.warn(`skills: ${r.text}`);
    }
    this.scheduler.start();
  }

  stop(): void {
    this.scheduler.stop();
  }

  /** Has the scheduler look at the clock now (after a change made elsewhere, or a clock a test moved). */
  wake(): void {
    this.scheduler.wake();
  }

  /** One operation by area and name with unchecked arguments (HTTP API, CLI); undefined for an unknown area. */
  manage(area: string, op: string, args: unknown, who: OpActor): OpResult | undefined {
    if (area === 'tasks') return this.tasks.dispatch(op, args, who);
    if (area === 'skills') return this.skills.dispatch(op, args, who);
    return undefined;
  }

  /**
   * A task or skill host tool of the agent's, in its conversation: tasks of
   * that conversation only, acting for the person whose message the turn
   * answers (`who`). Returns the model's answer, and for a proposed skill the
   * announcement the owner is shown in the chat.
   */
  hostTool(call: HostToolCall, ctx: { conversationId: string; workspace: string }, who: OpActor): { result: HostToolResult; notice?: string } {
    const conv = ctx.conversationId;
    const answer = (r: OpResult): HostToolResult => (r.ok ? { ok: true, text: r.text } : { ok: false, error: r.text });
    switch (call.tool) {
      case 'schedule_task':
        return { result: answer(this.tasks.create({ conversationId: conv, ...call.input }, who)) };
      case 'list_tasks':
        return { result: answer(this.tasks.list({ conversationId: conv })) };
      case 'change_task': {
        const { id, action, ...edits } = call.input;
        if (action !== 'edit' && Object.keys(edits).length) return { result: { ok: false, error: `${Object.keys(edits).join(', ')} can only be given with action "edit".` } };
        const r = action === 'edit' ? this.tasks.edit(id, edits, who, conv) : this.tasks[action](id, who, conv);
        return { result: answer(r) };
      }
      case 'propose_skill': {
        const r = this.skills.propose({ workspace: ctx.workspace, path: call.input.path, note: call.input.note, conversationId: conv }, who);
        return { result: answer(r), ...(r.ok ? { notice: (r.data as { announcement: string }).announcement } : {}) };
      }
      default:
        return { result: { ok: false, error: `${call.tool} is not a task or skill tool.` } };
    }
  }
}
