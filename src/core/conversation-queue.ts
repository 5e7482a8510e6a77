import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEvent } from '../audit/audit-log.ts';
import type { Config } from '../config/schema.ts';
import type { Inbound, Store } from '../store/store.ts';
import type { Logger } from './logger.ts';
import type { Reply } from './turn-runner.ts';

export interface ConversationQueueDeps {
  config: Config;
  store: Store;
  log: Logger;
  audit?: (event: AuditEvent) => void;
  /** Runs one message: a command, or the agent's turn (turn-runner.ts). */
  handle: (msg: Inbound) => Promise<void>;
  /** Stores the replies with the message's done mark and has them delivered. */
  finish: (msg: Inbound, replies: Reply[], outcome?: 'answered' | 'failed') => Promise<void>;
  /** A conversation's drain ended: its container is idle and may be evicted. */
  drained: (conversationId: string) => void;
}

/**
 * The order of work in each conversation: one drain at a time runs its
 * pending messages oldest first, and the control lane runs /stop and /end
 * beside a busy drain. The turn ledger lives here: each turn is counted
 * before it starts (so a message whose turn crashes the gateway counts too),
 * a turn that throws is retried after a pause, and a message that used up
 * its attempts is answered with an error and set aside, so it can never
 * wedge the conversation behind it.
 *
 *   const queue = new ConversationQueue(deps); queue.kick(conversationId);
 *   await queue.stop(); // then queue.settled() once the turns were cut short
 */
export class ConversationQueue {
  private readonly draining = new Set<string>();
  /** The drains and control work in flight, so a graceful stop can wait for them to leave their messages pending. */
  private readonly inFlight = new Set<Promise<void>>();
  /**
   * Control-lane work per conversation (chained): the drain waits for it
   * before it looks for its next message, so the message after an /end
   * never runs in the container being destroyed.
   */
  private readonly control = new Map<string, Promise<void>>();
  private stopped = false;
  /** Aborted by stop(): cuts short the pause before a failed turn is retried. */
  private readonly stopping = new AbortController();

  constructor(private readonly deps: ConversationQueueDeps) {}

  /** True while the conversation's drain runs (a turn, or a command, is being handled). */
  busy(conversationId: string): boolean {
    return this.draining.has(conversationId);
  }

  /** Runs a conversation's pending messages in order; one drain per conversation at a time. */
  kick(conversationId: string): void {
    if (this.draining.has(conversationId) || this.stopped) return;
    this.draining.add(conversationId);
    const drain = this.drain(conversationId)
      .then(() => true, (err) => { this.deps.log.error(`conversation ${conversationId}: ${(err as Error).stack}`); return false; })
      .then((clean) => {
        this.draining.delete(conversationId);
        this.inFlight.delete(drain);
        this.deps.drained(conversationId);
        // A message stored after the drain's last look but before this point
        // found the drain still marked running, so nothing kicked it.
        if (clean && this.deps.store.nextPending(conversationId)) this.kick(conversationId);
      });
    this.inFlight.add(drain);
  }

  /** Runs `work` on the control lane: beside the drain, after the conversation's earlier control work. */
  beside(conversationId: string, work: () => Promise<void>, what: string): void {
    const before = this.control.get(conversationId) ?? Promise.resolve();
    const done: Promise<void> = before.then(work)
      .catch((err) => this.deps.log.error(`conversation ${conversationId}, ${what}: ${(err as Error).stack}`))
      .finally(() => {
        if (this.control.get(conversationId) === done) this.control.delete(conversationId);
        this.inFlight.delete(done);
      });
    this.control.set(conversationId, done);
    this.inFlight.add(done);
  }

  /** No drain starts or goes on to its next message from now on; a pause before a retry ends at once. */
  stop(): void {
    this.stopped = true;
    this.stopping.abort();
  }

  /** Resolves once the work in flight has ended (after stop(), and the turns were cut short). */
  async settled(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  private async drain(conversationId: string): Promise<void> {
    const store = this.deps.store;
    for (;;) {
      if (this.stopped) return;
      await this.control.get(conversationId);
      const next = store.nextPending(conversationId);
      if (!next) return;
      if (next.attempts >= this.deps.config.container.turnAttempts) {
        await this.giveUp(next);
        continue;
      }
      // A scheduled task's run that was started and cut short (a crash, a
      // stop) is not run again: what it did before may not be safe to do twice.
      if (next.taskId !== null && next.attempts > 0) {
        await this.taskCutShort(next);
        continue;
      }
      const attempt = store.startAttempt(next.id);
      try {
        await this.deps.handle(next);
      } catch (err) {
        const error = err as Error;
        this.deps.log.error(`conversation ${conversationId}, message ${next.id} (attempt ${attempt}): ${error.stack}`);
        store.recordFailure(next.id, error.message);
        if (this.stopped) {
          // Cut short by the stop: it runs again at the next start, unless it is a task's run (above).
          if (next.taskId === null) store.releaseAttempt(next.id);
          return;
        }
        await sleep(Math.min(30_000, 1000 * 2 ** (attempt - 1)), undefined, { ref: false, signal: this.stopping.signal }).catch(() => {});
      }
    }
  }

  private async giveUp(msg: Inbound): Promise<void> {
    this.deps.audit?.({ type: 'turn.failed', conversation: msg.conversationId, data: { inbound: msg.id, attempts: msg.attempts, error: msg.lastError ?? 'interrupted' } });
    const why = msg.lastError ? `the last error was: ${msg.lastError}` : 'each attempt was cut short, for example by a crash';
    await this.deps.finish(msg, [{ kind: 'error', text: `Sorry, I could not handle this message after ${msg.attempts} attempts (${why}). I set it aside so the conversation can go on; send it again to retry.` }], 'failed');
  }

  private async taskCutShort(msg: Inbound): Promise<void> {
    this.deps.audit?.({ type: 'task.cut_short', conversation: msg.conversationId, actor: msg.sender, data: { task: msg.taskId, inbound: msg.id, error: msg.lastError ?? 'interrupted' } });
    const name = msg.senderName ? ` (${msg.senderName})` : '';
    await this.deps.finish(msg, [{ kind: 'notice', text: `Task #${msg.taskId}${name} was cut short${msg.lastError ? ` (${msg.lastError})` : ' when NanoClaw stopped during its run'} and is not run again, so nothing it did happens twice. It runs again at its next scheduled time; /tasks shows when.` }], 'failed');
  }
}
