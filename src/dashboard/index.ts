import { Hono } from 'hono';
import type Database from 'better-sqlite3';
import type { AuditEvent } from '../audit/record.ts';
import { createDashboard, type DashboardDeps } from './routes.ts';
import { DashboardSessions } from './session-store.ts';

export { dashboardName } from './install-name.ts';
export { LOGIN_TTL_MS } from './session-store.ts';
export { turnData, type DashboardEvent } from './events.ts';
export type { GatewayActions } from './routes.ts';

/** Hosts the dashboard may listen on: loopback only (docs/dashboard.md says how to reach it from elsewhere: an SSH tunnel). */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The dashboard's routes for the local HTTP API's listener: the browser's
 * `/dash/*` (cookie sessions, guard.ts) and the owner's
 * `/api/v1/dashboard/*` (login links and revocation, behind the API's bearer
 * token like every `/api` route; `nanoclaw dashboard` calls them).
 *
 *   const dash = dashboardRoutes({ db, limits, clock, audit, ...deps });
 *   new HttpChannel({ ..., routes: dash });
 */
export function dashboardRoutes(opts: Omit<DashboardDeps, 'sessions'> & {
  db: Database.Database;
  limits: { idleMs: number; maxAgeMs: number };
  clock: () => number;
}): Hono<any> {
  const sessions = new DashboardSessions(opts.db, opts.limits, opts.clock);
  const app = new Hono();
  app.route('/', createDashboard({ ...opts, sessions }));

  // A new single-use login link; the caller is the owner (bearer token).
  app.post('/api/v1/dashboard/link', (c) => {
    const { code, expiresAt } = sessions.mintCode('cli');
    const host = opts.host();
    opts.audit({ type: 'dashboard.link', actor: 'cli', data: { expiresAt: new Date(expiresAt).toISOString() } } satisfies AuditEvent);
    return c.json({ url: `http://${host}/dash/login#code=${code}`, expiresAt: new Date(expiresAt).toISOString(), name: host.replace(/:\d+$/, '') });
  });
  app.get('/api/v1/dashboard/sessions', (c) => c.json({ sessions: sessions.list().map((s) => ({
    id: s.id, createdAt: new Date(s.createdAt).toISOString(), lastSeenAt: new Date(s.lastSeenAt).toISOString(), expiresAt: new Date(s.expiresAt).toISOString(),
    // Whichever comes first: the absolute limit, or the idle limit if no request comes meanwhile.
    endsBy: new Date(Math.min(s.expiresAt, s.lastSeenAt + opts.limits.idleMs)).toISOString(),
  })) }));
  app.post('/api/v1/dashboard/revoke', (c) => {
    const revoked = sessions.revokeAll();
    opts.audit({ type: 'dashboard.revoked', actor: 'cli', data: { sessions: revoked } });
    return c.json({ revoked });
  });
  return app;
}
