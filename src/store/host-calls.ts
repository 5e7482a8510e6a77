import type Database from 'better-sqlite3';

/** What a host tool answered, as stored: the same shape the protocol's `call_result` carries. */
export type StoredCallResult = { ok: true; text: string } | { ok: false; error: string };

/**
 * The host tool calls that took effect, by their idempotency key (inbound
 * message, call number). A turn re-run after a crash numbers its calls from 1
 * again; a key found here is answered from the stored result, so a message is
 * never sent twice. A call's effect (the outbound row) and its entry here are
 * written in one transaction by the caller.
 *
 *   const done = ledger.result(msg.id, call); if (done) return done;
 *   db.transaction(() => { insertOutbound(...); ledger.record(msg.id, call, 'send_message', result); })();
 */
export class HostCallLedger {
  constructor(private readonly db: Database.Database) {}

  result(inboundId: number, call: number): StoredCallResult | undefined {
    const r = this.db.prepare('SELECT result FROM host_calls WHERE inbound_id = ? AND call = ?').get(inboundId, call) as { result: string } | undefined;
    return r ? JSON.parse(r.result) : undefined;
  }

  record(inboundId: number, call: number, tool: string, result: StoredCallResult): void {
    this.db.prepare('INSERT OR IGNORE INTO host_calls (inbound_id, call, tool, result, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(inboundId, call, tool, JSON.stringify(result), Date.now());
  }

  /**
   * Replaces a recorded result: for an effect that cannot be written in one
   * transaction with its entry (a mail handed to SMTP), the entry is recorded
   * first as "outcome unknown" and replaced once the outcome is known.
   *
   *   ledger.record(msg.id, 1, 'compose_mail', { ok: false, error: 'not known whether sent' });
   *   ledger.replace(msg.id, 1, { ok: true, text: 'Sent.' });
   */
  replace(inboundId: number, call: number, result: StoredCallResult): void {
    this.db.prepare('UPDATE host_calls SET result = ? WHERE inbound_id = ? AND call = ?').run(JSON.stringify(result), inboundId, call);
  }
}
