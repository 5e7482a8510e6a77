import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { DashboardSession, DashboardSessions } from './session-store.ts';

/** The session cookie. `__Host-`: the browser keeps it only if Secure, Path=/ and without a Domain, so no other host can set or shadow it. */
export const COOKIE = '__Host-nc_dash';

/**
 * Strict: only the dashboard's own script and style files run, nothing
 * inline, nothing from elsewhere, no framing, no forms posting away. An
 * agent's text shown on a page (it may be a prompt-injected `<script>`) is
 * escaped by the client, and this makes a slip there inert too.
 */
export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export type DashboardEnv = { Variables: { session: DashboardSession }; Bindings: { incoming?: { socket?: { remoteAddress?: string } } } };

/** Why a request was refused, for the audit log (`auth.denied`, channel `dashboard`). */
export type Refusal = { reason: string; path: string; origin?: string; host?: string };

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

function refuse(c: Context, status: 401 | 403 | 421, message: string) {
  return c.json({ error: { status, message } }, status);
}

/**
 * The checks every dashboard request passes, in order:
 *
 * 1. The peer is on loopback (the listener is, but a misconfigured proxy in
 *    front of it would not be).
 * 2. `Host` is exactly the install's name and port. A DNS-rebinding page
 *    reaches 127.0.0.1 under its own name, and is answered 421 here.
 * 3. For `/dash/api/*`: `Sec-Fetch-Site`, when the browser sends it, is
 *    `same-origin`. Cookies are not kept apart by port, so a page on any
 *    other loopback port is "same-site" and carries the cookie; this stops
 *    it reading and writing.
 * 4. Writes (any method but GET) and the event stream: `Origin`, when sent
 *    (always, on a browser's write), is exactly the dashboard's; writes must
 *    send it. Then the session cookie, then the session's CSRF token
 *    (`X-CSRF-Token`, or `?csrf=` for the stream: EventSource cannot set
 *    headers). The login route is the one write without a session.
 *
 * Every refusal is reported (`onRefused`), so an attack shows in the audit log.
 */
export function dashboardGuard(opts: {
  host: () => string;
  onRefused: (r: Refusal) => void;
}): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const path = url.pathname.slice(0, 200);
    const report = (status: 401 | 403 | 421, reason: string, message: string) => {
      opts.onRefused({ reason, path, origin: c.req.header('origin')?.slice(0, 200), host: c.req.header('host')?.slice(0, 200) });
      return refuse(c, status, message);
    };
    // Set first: they go on every answer, refusals and errors included.
    c.header('content-security-policy', CSP);
    c.header('referrer-policy', 'no-referrer');
    c.header('x-content-type-options', 'nosniff');
    c.header('x-frame-options', 'DENY');
    c.header('cross-origin-opener-policy', 'same-origin');
    c.header('cross-origin-resource-policy', 'same-origin');
    if (path.startsWith('/dash/api/')) c.header('cache-control', 'no-store');
    const peer = c.env?.incoming?.socket?.remoteAddress ?? '';
    if (!LOOPBACK.test(peer)) return report(403, 'not loopback', 'The dashboard answers only on this machine (loopback).');
    const expected = opts.host();
    if ((c.req.header('host') ?? '').toLowerCase() !== expected) {
      return report(421, 'wrong host', `The dashboard answers only at http://${expected}/dash/: run \`nanoclaw dashboard\` to open it.`);
    }
    await next();
  };
}

/** The `/dash/api/*` checks (3 and 4 above); sets `session` for the routes. */
export function apiGuard(opts: {
  origin: () => string;
  sessions: DashboardSessions;
  onRefused: (r: Refusal) => void;
}): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const path = url.pathname;
    const report = (status: 401 | 403, reason: string, message: string) => {
      opts.onRefused({ reason, path: path.slice(0, 200), origin: c.req.header('origin')?.slice(0, 200) });
      return refuse(c, status, message);
    };
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin') return report(403, `sec-fetch-site ${site.slice(0, 20)}`, 'Refused: this request came from another site or port.');
    const write = c.req.method !== 'GET' && c.req.method !== 'HEAD';
    const stream = path === '/dash/api/events';
    const origin = c.req.header('origin');
    if ((write || stream) && origin !== undefined && origin !== opts.origin()) return report(403, 'wrong origin', 'Refused: this request came from another origin.');
    if (write && origin === undefined) return report(403, 'no origin', 'Refused: a write must come from the dashboard page (no Origin header).');
    if (path === '/dash/api/login') return next();
    const session = opts.sessions.lookup(getCookie(c, COOKIE) ?? '');
    if (!session) {
      // Not audited: an expired session is ordinary, and the page says what to do.
      return refuse(c, 401, 'Your dashboard session ended (expired, revoked or signed out). Run `nanoclaw dashboard` for a new login link.');
    }
    if (write || stream) {
      const token = (stream ? url.searchParams.get('csrf') : c.req.header('x-csrf-token')) ?? '';
      if (!same(token, session.csrf)) return report(403, 'csrf token', 'Refused: missing or wrong CSRF token. Reload the page.');
    }
    c.set('session', session);
    return next();
  };
}
