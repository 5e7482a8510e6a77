import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';

/** How long a login link works: long enough to click, too short to be worth stealing from a terminal's scrollback. */
export const LOGIN_TTL_MS = 2 * 60 * 1000;
/** `last_seen_at` is written at most this often, so reading pages does not write the database on every request. */
const TOUCH_EVERY_MS = 60 * 1000;

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');
const secret = () => randomBytes(32).toString('base64url');

export interface DashboardSession {
  /** The public id: in the audit log as `dashboard:<id>`, in lists; never enough to act. */
  id: string;
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

export type RedeemResult =
  | { ok: true; session: DashboardSession; cookie: string }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' };

const row = (r: any): DashboardSession => ({ id: r.id, csrf: r.csrf, createdAt: r.created_at, lastSeenAt: r.last_seen_at, expiresAt: r.expires_at });

/**
 * The dashboard's login codes and browser sessions, in the store's SQLite
 * file. Only SHA-256 hashes of the secrets are kept (the code in a login
 * link, the session cookie's value), so a copy of the database or a backup
 * logs nobody in. A code works once and for two minutes; a session ends
 * after `idleMs` without a request or `maxAgeMs` after login, whichever
 * comes first, or when revoked.
 *
 *   const code = sessions.mintCode('cli');                // -> the link's #code=
 *   const r = sessions.redeem(code);                      // r.cookie -> __Host-nc_dash
 *   sessions.lookup(r.cookie)?.id                         // 'a1b2c3d4e5f6'
 */
export class DashboardSessions {
  constructor(
    private readonly db: Database.Database,
    private readonly limits: { idleMs: number; maxAgeMs: number },
    private readonly clock: () => number = Date.now,
  ) {}

  /** A new single-use login code; the caller puts it in a link's fragment. */
  mintCode(createdBy: string): { code: string; expiresAt: number } {
    const now = this.clock();
    const code = secret();
    // Old codes have no use: keep the table to the last day's.
    this.db.prepare('DELETE FROM dashboard_logins WHERE expires_at < ?').run(now - 24 * 3600 * 1000);
    this.db.prepare('INSERT INTO dashboard_logins (code_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(hash(code), createdBy.slice(0, 100), now, now + LOGIN_TTL_MS);
    return { code, expiresAt: now + LOGIN_TTL_MS };
  }

  /** Spends a login code (in one transaction, so two tabs racing with one link get one session) and opens a session. */
  redeem(code: string): RedeemResult {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(code)) return { ok: false, reason: 'unknown' };
    const now = this.clock();
    return this.db.transaction((): RedeemResult => {
      const r = this.db.prepare('SELECT * FROM dashboard_logins WHERE code_hash = ?').get(hash(code)) as any;
      if (!r) return { ok: false, reason: 'unknown' };
      if (r.used_at !== null) return { ok: false, reason: 'used' };
      // Spent even when expired: a late click must not leave a live code behind.
      this.db.prepare('UPDATE dashboard_logins SET used_at = ? WHERE code_hash = ?').run(now, r.code_hash);
      if (r.expires_at <= now) return { ok: false, reason: 'expired' };
      const cookie = secret();
      const session: DashboardSession = { id: randomBytes(6).toString('hex'), csrf: secret(), createdAt: now, lastSeenAt: now, expiresAt: now + this.limits.maxAgeMs };
      this.db.prepare('INSERT INTO dashboard_sessions (id, secret_hash, csrf, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(session.id, hash(cookie), session.csrf, now, now, session.expiresAt);
      return { ok: true, session, cookie };
    })();
  }

  /** The live session a cookie names, or undefined (unknown, revoked, idle too long, too old). Counts as activity. */
  lookup(cookie: string): DashboardSession | undefined {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(cookie)) return undefined;
    const now = this.clock();
    const r = this.db.prepare('SELECT * FROM dashboard_sessions WHERE secret_hash = ? AND revoked_at IS NULL').get(hash(cookie)) as any;
    if (!r || r.expires_at <= now || r.last_seen_at + this.limits.idleMs <= now) return undefined;
    if (now - r.last_seen_at >= TOUCH_EVERY_MS) {
      this.db.prepare('UPDATE dashboard_sessions SET last_seen_at = ? WHERE id = ?').run(now, r.id);
      r.last_seen_at = now;
    }
    return row(r);
  }

  /** Whether a session (by its public id) is still live: asked by open event streams, so a revoked one's streams end. */
  live(id: string): boolean {
    const now = this.clock();
    const r = this.db.prepare('SELECT expires_at, last_seen_at FROM dashboard_sessions WHERE id = ? AND revoked_at IS NULL').get(id) as any;
    return !!r && r.expires_at > now && r.last_seen_at + this.limits.idleMs > now;
  }

  /** Ends one session (sign-out); false when it was not live. */
  revoke(id: string): boolean {
    return this.db.prepare('UPDATE dashboard_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.clock(), id).changes > 0;
  }

  /** Ends every session (`nanoclaw dashboard --revoke-all`) and spends every unused login code; returns how many sessions were live. */
  revokeAll(): number {
    const now = this.clock();
    return this.db.transaction(() => {
      this.db.prepare('UPDATE dashboard_logins SET used_at = ? WHERE used_at IS NULL').run(now);
      const live = this.list().length;
      this.db.prepare('UPDATE dashboard_sessions SET revoked_at = ? WHERE revoked_at IS NULL').run(now);
      return live;
    })();
  }

  /** Sessions still live, newest first. */
  list(): DashboardSession[] {
    const now = this.clock();
    return (this.db.prepare('SELECT * FROM dashboard_sessions WHERE revoked_at IS NULL AND expires_at > ? AND last_seen_at > ? ORDER BY created_at DESC')
      .all(now, now - this.limits.idleMs) as any[]).map(row);
  }
}
