import { DeliveryError, type Channel, type OutboundPayload } from '../channels/channel.ts';
import type { Config } from '../config/schema.ts';
import type { AuditEvent } from '../sandbox/agent-container.ts';
import type { Outbound, Outbox } from '../store/outbox.ts';
import type { Conversation } from '../store/store.ts';
import type { Logger } from './logger.ts';

export interface DeliveryDeps {
  outbox: Outbox;
  conversation: (id: string) => Conversation | undefined;
  channel: (name: string) => Channel | undefined;
  /** Where outbound files are kept (the attachments folder). */
  attachmentRoot: string;
  /** Tells the owner, in their own conversations, that a message to someone else failed (not for notices). */
  notifyOwner?: (text: string, about: string) => void;
  config: Config['delivery'];
  log: Logger;
  audit?: (event: AuditEvent) => void;
  /** Told after each attempt's outcome is stored (tests and live views follow delivery with it). */
  onAttempt?: (event: DeliveryAttempt) => void;
}

export type DeliveryAttempt =
  | { outcome: 'sent'; message: Outbound }
  | { outcome: 'retry'; message: Outbound; error: string; at: number }
  | { outcome: 'waiting'; message: Outbound; error: string }
  | { outcome: 'failed'; message: Outbound; error: string };

/**
 * The outbox worker: sends stored outbound rows through their channels.
 *
 * The rules it keeps: a conversation's rows go strictly in order (row N+1
 * waits while N is pending or waiting for a retry; a failed row no longer
 * blocks), conversations run in parallel; a transient error is retried with
 * exponential backoff (or the channel's retry-after when longer) until
 * `maxAttempts`, a permanent one fails the row at once; each row is marked
 * `sending` on disk before the channel is called, so a restart knows which
 * sends may have happened and asks the channel (`wasDelivered`) where it can.
 * It is woken when rows are stored; the only timer is for the next retry.
 *
 *   const delivery = new Delivery({ outbox, conversation, channel, config: config.delivery, log });
 *   await delivery.start(); store.completeTurn(…); await delivery.wake(convId); await delivery.stop();
 */
export class Delivery {
  /** One loop per conversation at a time; its promise ends when nothing there can be sent now. */
  private readonly running = new Map<string, Promise<void>>();
  /** Conversations waiting for their channel (absent, or its recipient offline), by channel name. */
  private readonly parked = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  private stopped = false;
  /** Nothing is sent before start() has settled the rows a previous process left `sending`. */
  private started = false;

  constructor(private readonly deps: DeliveryDeps) {}

  /**
   * Settles the rows a previous process left `sending`, then sends what is
   * pending. A row whose channel can tell that it arrived is marked sent;
   * any other goes back to pending and is sent again (at least once).
   */
  async start(): Promise<void> {
    for (const m of this.deps.outbox.inFlight()) {
      const conv = this.deps.conversation(m.conversationId);
      const channel = conv && this.deps.channel(conv.channel);
      let arrived = false;
      if (conv && channel?.wasDelivered) {
        try {
          arrived = await channel.wasDelivered(conv, m);
        } catch (err) {
          this.deps.log.warn(`could not check whether message ${m.id} reached ${conv.channel} before the restart (${(err as Error).message}); sending it again`);
        }
      }
      if (arrived) this.deps.outbox.sent(m.id, []);
      else this.deps.outbox.retryAt(m.id, 0, null);
      this.deps.audit?.({ type: 'delivery.recovered', conversation: m.conversationId, data: { outbound: m.id, arrived, checked: !!channel?.wasDelivered } });
    }
    this.started = true;
    this.wakeAll();
  }

  /** Sends whatever a conversation has pending; resolves when nothing there can be sent now. */
  wake(conversationId: string): Promise<void> {
    if (this.stopped || !this.started) return Promise.resolve();
    this.parked.delete(conversationId);
    const current = this.running.get(conversationId);
    // A loop that is ending may already have looked for rows: wait for it, then look again.
    if (current) return current.then(() => this.wake(conversationId));
    const loop = this.run(conversationId)
      .catch((err) => this.deps.log.error(`delivery for ${conversationId}: ${(err as Error).stack}`))
      .finally(() => { if (this.running.get(conversationId) === loop) this.running.delete(conversationId); });
    this.running.set(conversationId, loop);
    return loop;
  }

  /** Retries what waits for one channel, for example when its recipient reconnects. */
  redeliver(channel: string): void {
    for (const [conv, name] of [...this.parked]) if (name === channel) void this.wake(conv);
  }

  /** Stops sending: an attempt in progress finishes and its outcome is stored; the rest stays pending. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all(this.running.values());
  }

  /**
   * A note for the conversation's agent about its replies that were given up
   * since it was last told, or '' when there are none. Taking it marks them told.
   */
  noteForAgent(conversationId: string): string {
    return this.deps.outbox.takeUndelivered(conversationId).map((m) =>
      `[Your message of ${new Date(m.createdAt).toISOString()} ("${m.text.replace(/\s+/g, ' ').slice(0, 60)}") could not be delivered: ${m.lastError ?? 'unknown error'}]\n`).join('');
  }

  private wakeAll(): void {
    for (const id of this.deps.outbox.conversationsWithWork()) if (!this.parked.has(id)) void this.wake(id);
  }

  private async run(conversationId: string): Promise<void> {
    const { outbox, config } = this.deps;
    while (!this.stopped) {
      const m = outbox.head(conversationId);
      if (!m) return;
      if (m.nextAttemptAt > Date.now()) return this.retryLater(m.nextAttemptAt);
      const conv = this.deps.conversation(conversationId);
      const channel = conv && this.deps.channel(conv.channel);
      if (!conv || !channel) {
        this.deps.log.warn(`no channel "${conv?.channel}" to deliver message ${m.id}; kept until it is added`);
        this.parked.set(conversationId, conv?.channel ?? '');
        return;
      }
      const attempt = outbox.claim(m.id);
      try {
        const { platformIds } = await channel.send(conv, this.payload(m));
        outbox.sent(m.id, Array.isArray(platformIds) ? platformIds.map(String) : []);
        this.deps.onAttempt?.({ outcome: 'sent', message: outbox.get(m.id)! });
        continue;
      } catch (err) {
        const e = err instanceof DeliveryError ? err : new DeliveryError('transient', (err as Error)?.message ?? String(err), { cause: err });
        const error = `${e.message}${e.cause instanceof Error && e.cause !== err && e.cause.message !== e.message ? ` (${e.cause.message})` : ''}`;
        if (e.kind === 'offline') {
          // Not the message's fault: the attempt does not count, and the conversation waits for redeliver().
          outbox.release(m.id, error);
          this.parked.set(conversationId, conv.channel);
          this.deps.onAttempt?.({ outcome: 'waiting', message: outbox.get(m.id)!, error });
          return;
        }
        if (e.kind === 'permanent' || attempt >= config.maxAttempts) {
          const reason = e.kind === 'permanent' ? error : `${error} (gave up after ${attempt} attempts)`;
          outbox.failed(m.id, reason);
          this.deps.log.error(`message ${m.id} to ${conv.channel}:${conv.chat} could not be delivered: ${reason}. The agent is told on its next turn.`);
          if (m.kind !== 'notice') this.deps.notifyOwner?.(`A message to ${conv.channel}:${conv.chat}${conv.thread ? ` (thread ${conv.thread})` : ''} could not be delivered: ${reason}. It began: "${m.text.replace(/\s+/g, ' ').slice(0, 80)}"`, conversationId);
          this.deps.audit?.({ type: 'delivery.failed', conversation: conversationId, data: { outbound: m.id, attempts: attempt, kind: e.kind, error: reason } });
          this.deps.onAttempt?.({ outcome: 'failed', message: outbox.get(m.id)!, error: reason });
          continue;
        }
        const backoff = Math.min(config.maxBackoffMs, config.backoffMs * 2 ** (attempt - 1));
        const at = Date.now() + Math.max(backoff, e.retryAfterMs ?? 0);
        outbox.retryAt(m.id, at, error, e.delivered);
        this.deps.log.warn(`delivering message ${m.id} on ${conv.channel} failed (attempt ${attempt} of ${config.maxAttempts}): ${error}; retrying in ${at - Date.now()} ms`);
        this.deps.onAttempt?.({ outcome: 'retry', message: outbox.get(m.id)!, error, at });
      }
    }
  }

  /** The row as `send` takes it: files as their host-owned copies (a file retention removed is left out). */
  private payload(m: Outbound): OutboundPayload {
    const files = this.deps.outbox.files(m.id, this.deps.attachmentRoot).filter((f) => f.removedAt === null)
      .map((f) => ({ name: f.name, size: f.size, path: f.hostPath }));
    return {
      kind: m.kind, text: m.text, files, buttons: m.buttons, ...(m.questionId ? { questionId: m.questionId } : {}), outboundId: m.id,
      ...(m.platformIds.length ? { resumeAt: m.platformIds.length } : {}),
    };
  }

  /** One timer for the earliest retry of all conversations. */
  private retryLater(at: number): void {
    if (this.stopped || at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => { this.timerAt = Infinity; this.wakeAll(); }, Math.max(0, at - Date.now()));
    this.timer.unref();
  }
}
