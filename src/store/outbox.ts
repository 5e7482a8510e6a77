import type Database from 'better-sqlite3';

export type OutboundKind = 'reply' | 'error' | 'notice';

/**
 * Where an outbound message is on its way to the user:
 * `pending` (waiting for its first or next attempt), `sending` (handed to the
 * channel; durable before the call, so a crash leaves the trace), `sent`, or
 * `failed` (a permanent error, or its attempts used up).
 */
export type DeliveryState = 'pending' | 'sending' | 'sent' | 'failed';

export interface Outbound {
  id: number;
  conversationId: string;
  inboundId: number | null;
  kind: OutboundKind;
  text: string;
  state: DeliveryState;
  /** Calls of the channel's `send` so far. */
  attempts: number;
  /** Not tried again before this time (ms since the epoch). */
  nextAttemptAt: number;
  lastError: string | null;
  /** The ids the platform gave the message (for edits and replies later). */
  platformIds: string[];
  createdAt: number;
}

export const outboundRow = (r: any): Outbound => ({
  id: r.id, conversationId: r.conversation_id, inboundId: r.inbound_id, kind: r.kind, text: r.text,
  state: r.state, attempts: r.attempts, nextAttemptAt: r.next_attempt_at, lastError: r.last_error,
  platformIds: r.platform_ids ? JSON.parse(r.platform_ids) : [], createdAt: r.created_at,
});

/**
 * The delivery states of outbound rows, as the delivery worker
 * (core/delivery.ts) moves them. Every change is one statement, durable when
 * it returns (synchronous=FULL): in particular `claim` is on disk before the
 * channel is called, which is what lets a restart know a send may have
 * happened.
 *
 *   const next = outbox.head(conv.id);            // the oldest undelivered row
 *   outbox.claim(next.id); await channel.send(…); outbox.sent(next.id, ids);
 */
export class Outbox {
  constructor(private readonly db: Database.Database) {}

  get(id: number): Outbound | undefined {
    const row = this.db.prepare('SELECT * FROM outbound WHERE id = ?').get(id);
    return row ? outboundRow(row) : undefined;
  }

  /**
   * The conversation's oldest row not yet sent or failed: the only one that
   * may be sent now, so replies never overtake each other.
   */
  head(conversationId: string): Outbound | undefined {
    const row = this.db.prepare("SELECT * FROM outbound WHERE conversation_id = ? AND state IN ('pending', 'sending') ORDER BY id LIMIT 1").get(conversationId);
    return row ? outboundRow(row) : undefined;
  }

  /** Conversations with something left to deliver. */
  conversationsWithWork(): string[] {
    return this.db.prepare("SELECT DISTINCT conversation_id FROM outbound WHERE state IN ('pending', 'sending')").all().map((r: any) => r.conversation_id);
  }

  /** Rows a previous process handed to a channel without recording the outcome. */
  inFlight(): Outbound[] {
    return this.db.prepare("SELECT * FROM outbound WHERE state = 'sending' ORDER BY id").all().map(outboundRow);
  }

  /** Marks a row `sending` and counts the attempt; returns the attempt's number. */
  claim(id: number): number {
    this.db.prepare("UPDATE outbound SET state = 'sending', attempts = attempts + 1 WHERE id = ? AND state IN ('pending', 'sending')").run(id);
    return this.get(id)!.attempts;
  }

  sent(id: number, platformIds: string[]): void {
    this.db.prepare("UPDATE outbound SET state = 'sent', sent_at = ?, platform_ids = ?, last_error = NULL WHERE id = ?")
      .run(Date.now(), JSON.stringify(platformIds), id);
  }

  /** Back to `pending`, not tried before `at`. */
  retryAt(id: number, at: number, error: string | null): void {
    this.db.prepare("UPDATE outbound SET state = 'pending', next_attempt_at = ?, last_error = coalesce(?, last_error) WHERE id = ?").run(at, error, id);
  }

  /** Back to `pending` without counting the attempt (the recipient was not there to try). */
  release(id: number, error: string): void {
    this.db.prepare("UPDATE outbound SET state = 'pending', attempts = MAX(attempts - 1, 0), last_error = ? WHERE id = ?").run(error, id);
  }

  /** Gives a row up: it is never sent, and the agent hears of it on its next turn. */
  failed(id: number, error: string): void {
    this.db.prepare("UPDATE outbound SET state = 'failed', last_error = ?, failed_at = ? WHERE id = ?").run(error, Date.now(), id);
  }

  /** The conversation's failed rows, newest last (for `nanoclaw status`). */
  failedIn(conversationId: string): Outbound[] {
    return this.db.prepare("SELECT * FROM outbound WHERE conversation_id = ? AND state = 'failed' ORDER BY id").all(conversationId).map(outboundRow);
  }

  /**
   * The conversation's failed rows its agent has not been told of yet, and
   * marks them told: the note goes with the next message the agent receives.
   */
  takeUndelivered(conversationId: string): Outbound[] {
    return this.db.transaction(() => {
      const rows = this.db.prepare("SELECT * FROM outbound WHERE conversation_id = ? AND state = 'failed' AND agent_told = 0 ORDER BY id").all(conversationId).map(outboundRow);
      this.db.prepare("UPDATE outbound SET agent_told = 1 WHERE conversation_id = ? AND state = 'failed' AND agent_told = 0").run(conversationId);
      return rows;
    })();
  }
}
