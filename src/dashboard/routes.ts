import { Hono, type Context } from 'hono';
import { setCookie, deleteCookie } from 'hono/cookie';
import type { AuditEvent } from '../audit/record.ts';
import { normalizeEgressEntry } from '../core/commands.ts';
import type { OwnerActions } from '../core/owner-actions.ts';
import { auditPage, ChainChecker } from './audit-view.ts';
import { EventHub, type DashboardEvent } from './events.ts';
import { apiGuard, COOKIE, dashboardGuard, type DashboardEnv } from './guard.ts';
import type { DashboardSessions } from './session-store.ts';
import { clientFile } from './static-files.ts';
import { DashboardViews, usageCsv, type GatewayView } from './views.ts';

/** What the dashboard may do to the gateway: the owner's chat commands' powers (core/owner-actions.ts), and no more (no config, no terminal, no sandbox changes). */
export interface GatewayActions extends GatewayView {
  readonly owner: Pick<OwnerActions, 'command' | 'stopContainer' | 'approvePairing' | 'rejectPairing'>;
}

export interface DashboardDeps {
  views: Omit<ConstructorParameters<typeof DashboardViews>[0], 'gateway' | 'lastCheck'>;
  gateway: GatewayActions;
  sessions: DashboardSessions;
  auditFile: string;
  audit(event: AuditEvent): void;
  /** Subscribes to turn events and new audit records (app.ts wires both). */
  subscribe(listener: (e: DashboardEvent) => void): () => void;
  /** The install's host name and the listener's port, known once it listens. */
  host(): string;
}

const MAX_BODY = 16 * 1024;
const PAGES = /^\/dash\/(|login|conversations|conversations\/[A-Za-z0-9._:-]{1,200}|containers|audit|usage|pairing|egress)$/;
const CONVERSATION = /^c-[A-Za-z0-9._:-]{1,200}$|^[A-Za-z0-9][A-Za-z0-9._:-]{0,200}$/;
/** Refusals are audited, but a page hammering the dashboard must not flood the log: at most this many a minute, then one count. */
const REFUSALS_PER_MINUTE = 30;

function problem(c: Context, status: 400 | 404 | 409 | 413 | 415 | 500 | 503, message: string, extra: Record<string, unknown> = {}) {
  return c.json({ error: { status, message }, ...extra }, status);
}

/** Reads a small JSON object body, or says what is wrong with it. */
async function jsonBody(c: Context): Promise<{ body: Record<string, unknown> } | { error: string; status: 400 | 413 | 415 }> {
  if ((c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase() !== 'application/json') return { error: 'Send JSON with "Content-Type: application/json".', status: 415 };
  const length = Number(c.req.header('content-length') ?? 0);
  if (length > MAX_BODY) return { error: `Body over ${MAX_BODY} bytes.`, status: 413 };
  const raw = await c.req.text();
  if (Buffer.byteLength(raw) > MAX_BODY) return { error: `Body over ${MAX_BODY} bytes.`, status: 413 };
  try {
    const body = raw ? JSON.parse(raw) : {};
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) return { body };
  } catch { /* answered below */ }
  return { error: 'The body is not a JSON object.', status: 400 };
}

const str = (v: unknown, max: number) => (typeof v === 'string' && v.length > 0 && v.length <= max ? v : undefined);

/**
 * The dashboard's route group, `/dash/*`, mounted on the local HTTP API's
 * listener (loopback only): the built client's files and `/dash/api/*`,
 * behind the checks in guard.ts. Every action is audited with the session
 * as actor (`dashboard:<id>`).
 *
 *   const dash = createDashboard(deps);
 *   api.route('/', dash);
 */
export function createDashboard(deps: DashboardDeps): Hono<DashboardEnv> {
  const { sessions, gateway } = deps;
  const checker = new ChainChecker(deps.auditFile, deps.views.auditHead);
  const views = new DashboardViews({ ...deps.views, gateway, lastCheck: () => checker.last });
  const hub = new EventHub(deps.subscribe);
  const origin = () => `http://${deps.host()}`;
  // A window opens with the first refusal; when it closes, what went past the
  // cap is written as one count.
  let refused = 0;
  const onRefused = (r: { reason: string; path: string; origin?: string; host?: string }) => {
    if (++refused === 1) {
      setTimeout(() => {
        if (refused > REFUSALS_PER_MINUTE) deps.audit({ type: 'auth.denied', data: { channel: 'dashboard', reason: 'more refusals', count: refused - REFUSALS_PER_MINUTE } });
        refused = 0;
      }, 60_000).unref();
    }
    if (refused <= REFUSALS_PER_MINUTE) deps.audit({ type: 'auth.denied', data: { channel: 'dashboard', ...r } });
  };
  const actor = (c: Context<DashboardEnv>) => `dashboard:${c.get('session').id}`;
  const app = new Hono<DashboardEnv>();

  app.use('/dash/*', dashboardGuard({ host: deps.host, onRefused }));
  app.use('/dash', dashboardGuard({ host: deps.host, onRefused }));
  app.get('/dash', (c) => c.redirect('/dash/'));
  app.use('/dash/api/*', apiGuard({ origin, sessions, onRefused }));

  // --- the client's files -------------------------------------------------------
  const page = (c: Context) => {
    const f = clientFile('index.html');
    if (!f) return problem(c, 503, 'The dashboard is not built: run `npm run build` (or `npm run setup`), then reload.');
    return c.body(f.body, 200, { 'content-type': f.type, 'cache-control': 'no-cache' });
  };
  app.get('/dash/assets/:file', (c) => {
    const f = clientFile(c.req.param('file'));
    if (!f) return problem(c, 404, 'No such file.');
    return c.body(f.body, 200, { 'content-type': f.type, 'cache-control': 'no-cache' });
  });

  // --- session ----------------------------------------------------------------------
  app.post('/dash/api/login', async (c) => {
    const read = await jsonBody(c);
    if ('error' in read) return problem(c, read.status, read.error);
    const { body } = read;
    const r = sessions.redeem(typeof body.code === 'string' ? body.code : '');
    if (!r.ok) {
      deps.audit({ type: 'dashboard.login_refused', data: { reason: r.reason } });
      const why = { unknown: 'This login link is not valid', used: 'This login link was used already (each works once)', expired: 'This login link expired (each works for two minutes)' }[r.reason];
      return c.json({ error: { status: 401, message: `${why}. Run \`nanoclaw dashboard\` for a new one.` } }, 401);
    }
    deps.audit({ type: 'dashboard.login', actor: `dashboard:${r.session.id}`, data: { session: r.session.id, expiresAt: new Date(r.session.expiresAt).toISOString() } });
    setCookie(c, COOKIE, r.cookie, { path: '/', secure: true, httpOnly: true, sameSite: 'Strict', maxAge: Math.floor((r.session.expiresAt - r.session.createdAt) / 1000) });
    return c.json({ csrf: r.session.csrf, session: publicSession(r.session) });
  });
  app.get('/dash/api/session', (c) => c.json({ csrf: c.get('session').csrf, session: publicSession(c.get('session')), name: deps.host() }));
  app.post('/dash/api/logout', (c) => {
    sessions.revoke(c.get('session').id);
    deps.audit({ type: 'dashboard.logout', actor: actor(c), data: { session: c.get('session').id } });
    deleteCookie(c, COOKIE, { path: '/', secure: true });
    return c.json({ ok: true });
  });
  app.get('/dash/api/events', (c) => {
    const id = c.get('session').id;
    return hub.stream(c, id, () => sessions.live(id));
  });

  // --- pages' data ----------------------------------------------------------------------
  app.get('/dash/api/overview', async (c) => c.json(await views.overview()));
  app.get('/dash/api/conversations', (c) => c.json(views.conversations({ channel: c.req.query('channel'), state: c.req.query('state'), q: c.req.query('q') })));
  app.get('/dash/api/conversations/:id', (c) => {
    const v = views.conversation(c.req.param('id'));
    return v ? c.json(v) : problem(c, 404, 'No such conversation.');
  });
  app.get('/dash/api/containers', async (c) => c.json(await views.containers()));
  app.get('/dash/api/audit', (c) => {
    const limit = Math.min(200, Math.max(1, Number(c.req.query('limit') ?? 50) || 50));
    const before = c.req.query('before') ? Number(c.req.query('before')) : undefined;
    if (before !== undefined && !Number.isSafeInteger(before)) return problem(c, 400, '"before" must be a record number (seq).');
    const type = c.req.query('type')?.slice(0, 64) || undefined;
    const conversation = c.req.query('conversation')?.slice(0, 200) || undefined;
    return c.json({ ...auditPage(deps.auditFile, { before, type, conversation, limit }), head: deps.views.auditHead() });
  });
  app.get('/dash/api/usage', (c) => c.json(views.usage(days(c.req.query('days')))));
  app.get('/dash/api/usage.csv', (c) => {
    const n = days(c.req.query('days'));
    return c.body(usageCsv(views.usage(n).rows), 200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="nanoclaw-usage-${n}d.csv"`,
    });
  });
  app.get('/dash/api/pairing', (c) => c.json(views.pairing()));
  app.get('/dash/api/egress', (c) => {
    const recent = auditPage(deps.auditFile, { type: 'egress.', limit: 100 }).records.map((r) => ({
      seq: r.seq, ts: r.ts, decision: r.type === 'egress.allowed' ? 'allowed' : 'denied', conversation: r.conversation ?? null,
      host: r.data?.host ?? null, port: r.data?.port ?? null, method: r.data?.method ?? null, reason: r.data?.reason ?? null, status: r.data?.status ?? null,
    }));
    return c.json({ ...views.egressLists(), recent });
  });

  // --- actions: each audited with the session as actor ----------------------------------
  app.post('/dash/api/audit/verify', async (c) => {
    const result = await checker.run();
    deps.audit({ type: 'dashboard.verify', actor: actor(c), data: { ok: result.ok, records: result.records, problems: result.problems.length } });
    return c.json(result);
  });
  app.post('/dash/api/conversations/:id/stop', async (c) => {
    const result = await gateway.owner.command(c.req.param('id'), '/stop', actor(c));
    return result === undefined ? problem(c, 404, 'No such conversation.') : c.json({ result });
  });
  app.post('/dash/api/containers/:name/stop', async (c) => {
    const stopped = await gateway.owner.stopContainer(c.req.param('name'), actor(c));
    return stopped ? c.json({ stopped: true, result: 'Stopped; the conversation keeps its session, and its next message starts a new container.' })
      : problem(c, 404, 'No running container of a conversation has that name (it may have ended already).');
  });
  app.post('/dash/api/pairing/approve', async (c) => {
    const read = await jsonBody(c);
    if ('error' in read) return problem(c, read.status, read.error);
    const { body } = read;
    const code = str(body.code, 16);
    if (!code || !/^[A-Za-z0-9]{4,16}$/.test(code)) return problem(c, 400, 'Expected {"code": "<pairing code>"}.');
    const approved = gateway.owner.approvePairing(code, actor(c));
    return approved ? c.json({ approved: { channel: approved.channel, sender: approved.sender } })
      : problem(c, 404, `No pending pairing code ${code.toUpperCase()} (codes are single-use and expire after an hour).`);
  });
  app.post('/dash/api/pairing/reject', async (c) => {
    const read = await jsonBody(c);
    if ('error' in read) return problem(c, read.status, read.error);
    const { body } = read;
    const channel = str(body.channel, 64);
    const sender = str(body.sender, 500);
    if (!channel || !sender) return problem(c, 400, 'Expected {"channel": "...", "sender": "..."}.');
    return gateway.owner.rejectPairing(channel, sender, actor(c)) ? c.json({ rejected: true }) : problem(c, 404, 'No pending pairing request from that sender.');
  });
  app.post('/dash/api/egress/:verb{allow|disallow}', async (c) => {
    const read = await jsonBody(c);
    if ('error' in read) return problem(c, read.status, read.error);
    const { body } = read;
    const conversation = str(body.conversation, 210);
    const host = str(body.host, 300);
    if (!conversation || !CONVERSATION.test(conversation) || !host) return problem(c, 400, 'Expected {"conversation": "c-...", "host": "example.com"}.');
    const entry = normalizeEgressEntry(host);
    if (!entry) return problem(c, 400, `"${host.slice(0, 100)}" is not a host: use example.com, *.example.com or example.com:8443.`);
    const allow = c.req.param('verb') === 'allow';
    if (allow && body.confirm !== true) {
      return problem(c, 409, 'Allowing a host needs confirmation.', {
        confirm: { conversation, entry, message: `Allow ${conversation}'s agent to reach ${entry} (HTTP and HTTPS through the egress proxy)? It can then send anything it reads to that host.` },
      });
    }
    const had = gateway.egressAllowlist.list(conversation).includes(entry);
    const result = await gateway.owner.command(conversation, `/${allow ? 'allow' : 'disallow'} ${entry}`, actor(c));
    if (result === undefined) return problem(c, 404, 'No such conversation.');
    return allow ? c.json({ allowed: entry, conversation, result }) : c.json({ removed: had, conversation, result });
  });
  app.all('/dash/api/*', (c) => problem(c, 404, `No dashboard route ${c.req.method} ${new URL(c.req.url).pathname.slice(0, 200)}.`));

  // --- the client's pages: one document, routed in the browser --------------------------
  app.get('/dash/*', (c) => (PAGES.test(new URL(c.req.url).pathname) ? page(c) : problem(c, 404, 'No such dashboard page.')));
  return app;
}

function publicSession(s: { id: string; createdAt: number; expiresAt: number }) {
  return { id: s.id, createdAt: new Date(s.createdAt).toISOString(), expiresAt: new Date(s.expiresAt).toISOString() };
}

function days(raw: string | undefined): number {
  const n = Number(raw ?? 30);
  return Number.isInteger(n) && n >= 1 && n <= 90 ? n : 30;
}
