import { randomInt } from 'node:crypto';
import type Database from 'better-sqlite3';

/** Pairing codes: 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L). */
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
const CODE_TTL_MS = 60 * 60 * 1000;

export interface Sender {
  channel: string;
  sender: string;
  status: 'pending' | 'approved';
  code: string | null;
  codeExpiresAt: number | null;
}

const row = (r: any): Sender => ({ channel: r.channel, sender: r.sender, status: r.status, code: r.code, codeExpiresAt: r.code_expires_at });

/**
 * Who may talk to the agent on channels that do not authenticate senders
 * themselves. An unknown sender gets a one-time pairing code (valid an hour);
 * the owner approves it (`nanoclaw pair approve <code>`), after which the
 * sender's messages reach the agent. Codes are single-use.
 *
 *   const s = senders.requestPairing('telegram', '12345');  // s.code -> 'K7Q2M9XA'
 *   senders.approve('K7Q2M9XA');
 */
export class SenderStore {
  constructor(private readonly db: Database.Database) {}

  get(channel: string, sender: string): Sender | undefined {
    const r = this.db.prepare('SELECT * FROM senders WHERE channel = ? AND sender = ?').get(channel, sender);
    return r ? row(r) : undefined;
  }

  isApproved(channel: string, sender: string): boolean {
    return this.get(channel, sender)?.status === 'approved';
  }

  /** The sender's current pairing code, issuing a new one when there is none or it expired. */
  requestPairing(channel: string, sender: string): Sender & { fresh: boolean } {
    return this.db.transaction(() => {
      const existing = this.get(channel, sender);
      if (existing?.status === 'approved') return { ...existing, fresh: false };
      if (existing?.code && (existing.codeExpiresAt ?? 0) > Date.now()) return { ...existing, fresh: false };
      const code = Array.from({ length: 8 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
      const expires = Date.now() + CODE_TTL_MS;
      this.db.prepare(`INSERT INTO senders (channel, sender, status, code, code_expires_at, created_at) VALUES (?, ?, 'pending', ?, ?, ?)
        ON CONFLICT (channel, sender) DO UPDATE SET code = excluded.code, code_expires_at = excluded.code_expires_at`)
        .run(channel, sender, code, expires, Date.now());
      return { ...this.get(channel, sender)!, fresh: true };
    })();
  }

  /** Approves the sender holding `code`; returns it, or undefined for an unknown or expired code. */
  approve(code: string): Sender | undefined {
    const normalized = code.trim().toUpperCase();
    return this.db.transaction(() => {
      const r = this.db.prepare("SELECT * FROM senders WHERE code = ? AND status = 'pending'").get(normalized) as any;
      if (!r || (r.code_expires_at ?? 0) <= Date.now()) return undefined;
      this.db.prepare("UPDATE senders SET status = 'approved', code = NULL, code_expires_at = NULL, approved_at = ? WHERE channel = ? AND sender = ?")
        .run(Date.now(), r.channel, r.sender);
      return this.get(r.channel, r.sender);
    })();
  }

  revoke(channel: string, sender: string): boolean {
    return this.db.prepare('DELETE FROM senders WHERE channel = ? AND sender = ?').run(channel, sender).changes > 0;
  }

  list(): Sender[] {
    return this.db.prepare('SELECT * FROM senders ORDER BY created_at').all().map(row);
  }
}
