import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { writeAttachmentFiles } from './attachments.ts';

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
  /** Choices offered under the message (an `ask_user` question); empty for most. */
  buttons: Array<{ label: string; value: string }>;
  /** The question this message asks, if it does. */
  questionId: number | null;
  createdAt: number;
}

/** A file sent with an outbound message: a host-owned copy under the attachments folder. */
export interface OutboundFileRow {
  name: string;
  size: number;
  sha256: string;
  /** Relative to the attachments folder. */
  path: string;
  removedAt: number | null;
}

/** What a new outbound message carries besides its text. */
export interface NewOutbound {
  kind: OutboundKind;
  text: string;
  buttons?: Array<{ label: string; value: string }>;
  questionId?: number;
  /** Read and checked already (safe-fs); written to host-owned files with the row. */
  files?: Array<{ name: string; data: Buffer }>;
}

export const outboundRow = (r: any): Outbound => ({
  id: r.id, conversationId: r.conversation_id, inboundId: r.inbound_id, kind: r.kind, text: r.text,
  state: r.state, attempts: r.attempts, nextAttemptAt: r.next_attempt_at, lastError: r.last_error,
  platformIds: r.platform_ids ? JSON.parse(r.platform_ids) : [], buttons: r.buttons ? JSON.parse(r.buttons) : [],
  questionId: r.question_id ?? null, createdAt: r.created_at,
});

/**
 * Stores one outbound message, with its files written (and fsynced) into
 * `<attachments>/<conversation>/out-<id>/` before the row is committed. Call
 * it inside the caller's transaction when the row goes with other changes.
 */
export function insertOutbound(db: Database.Database, attachmentRoot: string, conversationId: string, inboundId: number | null, m: NewOutbound, now = Date.now()): number {
  return db.transaction(() => {
    const id = Number(db.prepare('INSERT INTO outbound (conversation_id, inbound_id, kind, text, buttons, question_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(conversationId, inboundId, m.kind, m.text, m.buttons?.length ? JSON.stringify(m.buttons) : null, m.questionId ?? null, now).lastInsertRowid);
    if (m.files?.length) {
      const add = db.prepare('INSERT INTO outbound_files (outbound_id, name, size, sha256, path) VALUES (?, ?, ?, ?, ?)');
      for (const f of writeAttachmentFiles(attachmentRoot, conversationId, `out-${id}`, m.files)) add.run(id, f.name, f.size, f.sha256, f.path);
    }
    return id;
  })();
}

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

  /** Marks the row sent; `platformIds` are the ids of this attempt's parts, after any an earlier attempt delivered. */
  sent(id: number, platformIds: string[]): void {
    const all = [...(this.get(id)?.platformIds ?? []), ...platformIds];
    this.db.prepare("UPDATE outbound SET state = 'sent', sent_at = ?, platform_ids = ?, last_error = NULL WHERE id = ?")
      .run(Date.now(), JSON.stringify(all), id);
  }

  /** Back to `pending`, not tried before `at`; `delivered` are ids of parts this attempt did send, kept for the next. */
  retryAt(id: number, at: number, error: string | null, delivered: string[] = []): void {
    const all = [...(this.get(id)?.platformIds ?? []), ...delivered];
    this.db.prepare("UPDATE outbound SET state = 'pending', next_attempt_at = ?, last_error = coalesce(?, last_error), platform_ids = ? WHERE id = ?")
      .run(at, error, JSON.stringify(all), id);
  }

  /** Back to `pending` without counting the attempt (the recipient was not there to try). */
  release(id: number, error: string): void {
    this.db.prepare("UPDATE outbound SET state = 'pending', attempts = MAX(attempts - 1, 0), last_error = ? WHERE id = ?").run(error, id);
  }

  /** Gives a row up: it is never sent, and the agent hears of it on its next turn. */
  failed(id: number, error: string): void {
    this.db.prepare("UPDATE outbound SET state = 'failed', last_error = ?, failed_at = ? WHERE id = ?").run(error, Date.now(), id);
  }

  /** The files of a row, with their host paths (under `root`, the attachments folder). */
  files(id: number, root: string): Array<OutboundFileRow & { hostPath: string }> {
    return this.db.prepare('SELECT * FROM outbound_files WHERE outbound_id = ? ORDER BY id').all(id).map((r: any) => ({
      name: r.name, size: r.size, sha256: r.sha256, path: r.path, removedAt: r.removed_at, hostPath: join(root, r.path),
    }));
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
