import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';

/** A mail in the stand-in's mailbox. */
interface StoredMessage { id: string; threadId: string; labelIds: string[]; raw: Buffer; historyId: number; internalDate: number }

/** A reply the channel sent (messages.send), parsed. */
export interface SentMail { id: string; threadId?: string; raw: Buffer; mail: ParsedMail; bearer: string }

/** A mail a test delivers into the inbox. */
export interface IncomingMail {
  from: string;
  subject?: string;
  text?: string;
  html?: string;
  threadId?: string;
  inReplyTo?: string;
  references?: string[];
  attachments?: Array<{ filename: string; content: Buffer }>;
  /** Gmail's Authentication-Results verdict, e.g. 'dmarc=fail'. */
  authResults?: string;
}

type Json = Record<string, any>;

/**
 * A local stand-in for the Gmail REST API and Google's OAuth token endpoint,
 * for tests: the real `@googleapis/gmail` client and `google-auth-library`
 * talk to it through `channels.gmail.apiBaseUrl` and `oauthTokenUrl`, over
 * the real wire (`/gmail/v1/users/me/{profile,history,messages,messages/send}`,
 * Google's JSON error shape, a form-encoded POST `/token` for refresh and
 * code exchange with PKCE). Every API call must carry a bearer the token
 * endpoint issued and that is still valid; a test can expire them all
 * (the client must refresh), revoke the refresh token (`invalid_grant`), or
 * forget old history (404, so the client must resync).
 *
 *   const g = await GmailStandIn.start();
 *   // config: { channels: { gmail: { enabled: true, apiBaseUrl: g.url, oauthTokenUrl: g.tokenUrl, pollIntervalSec: 1 } } }, env: g.env
 *   const { threadId } = await g.deliver({ from: 'owner@example.com', subject: 'Hi', text: 'hello' });
 *   const reply = await g.nextSent();   // reply.threadId === threadId
 */
export class GmailStandIn {
  readonly account = 'agent@gmail.test';
  readonly clientId = '1234567890-standin.apps.googleusercontent.com';
  readonly clientSecret = 'GOCSPX-standin-secret';
  refreshToken = '1//standin-refresh-token';
  /** Every call: method, path (no query), query, the bearer it carried. */
  readonly calls: Array<{ method: string; path: string; query: URLSearchParams; bearer?: string }> = [];
  /** Token endpoint requests, form fields as sent. */
  readonly tokenRequests: Array<Record<string, string>> = [];
  readonly sent: SentMail[] = [];

  private readonly messages: StoredMessage[] = [];
  private readonly history: Array<{ id: number; messageId: string }> = [];
  private historyId = 5000;
  /** History ids below this are gone: history.list answers 404. */
  private oldestHistory = 1;
  private readonly accessTokens = new Set<string>();
  private readonly codes = new Map<string, { challenge: string; redirectUri?: string }>();
  private readonly failures = new Map<string, number[]>();
  private readonly stalls = new Map<string, number>();
  private nextId = 1;
  private read = 0;
  private waiters: Array<() => void> = [];

  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<GmailStandIn> {
    let self: GmailStandIn | undefined;
    const server = createServer((req, res) => { void self!.serve(req, res).catch((err) => { res.writeHead(500).end(String(err)); }); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new GmailStandIn(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return self;
  }

  get tokenUrl(): string { return `${this.url}token`; }

  /** The secrets a gateway needs for this stand-in. */
  get env(): Record<string, string> {
    return { GMAIL_CLIENT_ID: this.clientId, GMAIL_CLIENT_SECRET: this.clientSecret, GMAIL_REFRESH_TOKEN: this.refreshToken };
  }

  /** Delivers a mail into the inbox (a history record `messageAdded`); returns its Gmail ids and Message-ID. */
  async deliver(m: IncomingMail): Promise<{ id: string; threadId: string; messageId: string }> {
    const id = (this.nextId++).toString(16).padStart(16, '0');
    const threadId = m.threadId ?? id;
    const messageId = `<${randomBytes(8).toString('hex')}@example.com>`;
    const headers: Array<{ key: string; value: string }> = [];
    if (m.authResults) headers.push({ key: 'Authentication-Results', value: `mx.google.com; ${m.authResults}` });
    const raw = await new MailComposer({
      from: m.from, to: this.account, subject: m.subject ?? 'Hello', text: m.text, html: m.html,
      messageId, inReplyTo: m.inReplyTo, references: m.references, attachments: m.attachments, headers,
    }).compile().build();
    this.add({ id, threadId, labelIds: ['INBOX', 'UNREAD'], raw, historyId: 0, internalDate: Date.now() });
    return { id, threadId, messageId };
  }

  /** Waits for the channel's next sent mail (in order of sending). */
  async nextSent(timeoutMs = 60_000): Promise<SentMail> {
    const index = this.read;
    await this.until(() => this.sent.length > index, timeoutMs, 'no mail sent');
    this.read = index + 1;
    return this.sent[index];
  }

  /** Waits until `check` holds (re-checked on every call, and every 100 ms). */
  async until(check: () => boolean, timeoutMs = 60_000, what = 'the condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 100); });
    }
  }

  count(path: string): number { return this.calls.filter((c) => c.path.endsWith(path)).length; }

  /** The next `times` calls of `route` ('history', 'messages/send', ...) are answered with `status` (503: Gmail down). */
  fail(route: string, status: number, times = 1): void {
    this.failures.set(route, [...(this.failures.get(route) ?? []), ...Array(times).fill(status)]);
  }

  /** The next `times` calls of `route` get no answer at all (a stalled connection): the client must give up and poll again. */
  stall(route: string, times = 1): void {
    this.stalls.set(route, (this.stalls.get(route) ?? 0) + times);
  }

  /** Every access token stops working: the next call gets 401 and the client must refresh. */
  expireAccessTokens(): void { this.accessTokens.clear(); }

  /** The refresh token stops working (Google: revoked, or 7 days old in testing mode): `invalid_grant`. */
  revokeRefreshToken(): void { this.refreshToken = `revoked-${this.refreshToken}`; this.accessTokens.clear(); }

  /** Gmail no longer has history before now (it keeps about a week): older start ids get 404. */
  forgetHistory(): void { this.oldestHistory = this.historyId + 1; }

  /** An authorization code for the consent a test plays, bound to the PKCE challenge and redirect of the auth URL. */
  issueCode(codeChallenge: string, redirectUri?: string): string {
    const code = `4/standin-${randomBytes(6).toString('hex')}`;
    this.codes.set(code, { challenge: codeChallenge, redirectUri });
    return code;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private add(m: StoredMessage): void {
    m.historyId = ++this.historyId;
    this.messages.push(m);
    this.history.push({ id: m.historyId, messageId: m.id });
  }

  // ---- the wire ----

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await new Promise<Buffer>((resolve) => { const parts: Buffer[] = []; req.on('data', (c) => parts.push(c)); req.on('end', () => resolve(Buffer.concat(parts))); });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    this.calls.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, bearer });
    try {
      if (url.pathname === '/token' && req.method === 'POST') return this.token(Object.fromEntries(new URLSearchParams(body.toString())), req, res);
      const m = /^\/gmail\/v1\/users\/me\/(.+)$/.exec(url.pathname);
      if (!m) return apiError(res, 404, 'Not Found', 'NOT_FOUND');
      if (!bearer || !this.accessTokens.has(bearer)) return apiError(res, 401, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.', 'UNAUTHENTICATED');
      const route = m[1];
      const stalled = this.stalls.get(route) ?? 0;
      if (stalled > 0) { this.stalls.set(route, stalled - 1); return; }
      const failure = this.failures.get(route)?.shift();
      if (failure) return apiError(res, failure, failure === 429 ? 'Too many concurrent requests for user.' : 'The service is currently unavailable.', failure === 429 ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE');
      if (route === 'profile' && req.method === 'GET') {
        return json(res, 200, { emailAddress: this.account, messagesTotal: this.messages.length, threadsTotal: new Set(this.messages.map((x) => x.threadId)).size, historyId: String(this.historyId) });
      }
      if (route === 'history' && req.method === 'GET') return this.listHistory(url.searchParams, res);
      if (route === 'messages' && req.method === 'GET') {
        const label = url.searchParams.getAll('labelIds');
        const max = Number(url.searchParams.get('maxResults') ?? 100);
        const found = this.messages.filter((x) => label.every((l) => x.labelIds.includes(l))).reverse().slice(0, max);
        return json(res, 200, { messages: found.map((x) => ({ id: x.id, threadId: x.threadId })), resultSizeEstimate: found.length });
      }
      if (route === 'messages/send' && req.method === 'POST') {
        const sent = JSON.parse(body.toString()) as { raw?: string; threadId?: string };
        if (!sent.raw) return apiError(res, 400, "'raw' RFC822 payload message string or uploading message via /upload/* URL required", 'INVALID_ARGUMENT');
        const raw = Buffer.from(sent.raw, 'base64url');
        const id = (this.nextId++).toString(16).padStart(16, '0');
        const threadId = sent.threadId && this.messages.some((x) => x.threadId === sent.threadId) ? sent.threadId : id;
        this.add({ id, threadId, labelIds: ['SENT'], raw, historyId: 0, internalDate: Date.now() });
        this.sent.push({ id, threadId: sent.threadId, raw, mail: await simpleParser(raw), bearer });
        return json(res, 200, { id, threadId, labelIds: ['SENT'] });
      }
      const thread = /^threads\/([0-9a-f]+)$/.exec(route);
      if (thread && req.method === 'GET') {
        const found = this.messages.filter((x) => x.threadId === thread[1]);
        if (!found.length) return apiError(res, 404, 'Requested entity was not found.', 'NOT_FOUND');
        const wanted = url.searchParams.getAll('metadataHeaders').map((n) => n.toLowerCase());
        return json(res, 200, {
          id: thread[1], historyId: String(this.historyId),
          messages: found.map((x) => {
            const full = this.resource(x, 'full');
            return { ...full, payload: { ...full.payload, body: undefined, headers: full.payload.headers.filter((hd: { name: string }) => wanted.includes(hd.name.toLowerCase())) } };
          }),
        });
      }
      const get = /^messages\/([0-9a-f]+)$/.exec(route);
      if (get && req.method === 'GET') {
        const msg = this.messages.find((x) => x.id === get[1]);
        if (!msg) return apiError(res, 404, 'Requested entity was not found.', 'NOT_FOUND');
        return json(res, 200, this.resource(msg, url.searchParams.get('format') ?? 'full'));
      }
      return apiError(res, 404, 'Not Found', 'NOT_FOUND');
    } finally {
      const waiting = this.waiters;
      this.waiters = [];
      for (const w of waiting) w();
    }
  }

  /** POST /token: a refresh (grant_type=refresh_token) or the set-up's code exchange with PKCE. */
  private token(form: Record<string, string>, req: IncomingMessage, res: ServerResponse): void {
    this.tokenRequests.push(form);
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [id, secret] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [form.client_id, form.client_secret];
    if (id !== this.clientId || secret !== this.clientSecret) return json(res, 401, { error: 'invalid_client', error_description: 'The OAuth client was not found.' });
    const access = `ya29.standin-${randomBytes(6).toString('hex')}`;
    if (form.grant_type === 'refresh_token') {
      if (form.refresh_token !== this.refreshToken) return json(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
      this.accessTokens.add(access);
      return json(res, 200, { access_token: access, expires_in: 3599, scope: 'https://www.googleapis.com/auth/gmail.readonly https://www.googleapis.com/auth/gmail.send', token_type: 'Bearer' });
    }
    if (form.grant_type === 'authorization_code') {
      const code = this.codes.get(form.code);
      this.codes.delete(form.code);
      const challenge = createHash('sha256').update(form.code_verifier ?? '').digest('base64url');
      if (!code || code.challenge !== challenge || (code.redirectUri && code.redirectUri !== form.redirect_uri)) {
        return json(res, 400, { error: 'invalid_grant', error_description: 'Malformed auth code.' });
      }
      this.accessTokens.add(access);
      return json(res, 200, { access_token: access, refresh_token: this.refreshToken, expires_in: 3599, token_type: 'Bearer' });
    }
    return json(res, 400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${form.grant_type}` });
  }

  private listHistory(q: URLSearchParams, res: ServerResponse): void {
    const start = Number(q.get('startHistoryId'));
    if (!start) return apiError(res, 400, 'Invalid startHistoryId', 'INVALID_ARGUMENT');
    if (start < this.oldestHistory) return apiError(res, 404, 'Requested entity was not found.', 'NOT_FOUND');
    const label = q.get('labelId');
    const records = this.history
      .filter((h) => h.id > start)
      .map((h) => ({ h, m: this.messages.find((x) => x.id === h.messageId)! }))
      .filter(({ m }) => !label || m.labelIds.includes(label))
      .map(({ h, m }) => ({ id: String(h.id), messages: [{ id: m.id, threadId: m.threadId }], messagesAdded: [{ message: { id: m.id, threadId: m.threadId, labelIds: m.labelIds } }] }));
    json(res, 200, { ...(records.length ? { history: records } : {}), historyId: String(this.historyId) });
  }

  /** A message resource as Gmail returns it: `raw` (base64url RFC 822) or `full` (headers and a text body). */
  private resource(m: StoredMessage, format: string): Json {
    const base = { id: m.id, threadId: m.threadId, labelIds: m.labelIds, snippet: '', sizeEstimate: m.raw.length, historyId: String(m.historyId), internalDate: String(m.internalDate) };
    if (format === 'raw') return { ...base, raw: m.raw.toString('base64url') };
    const text = m.raw.toString('utf8');
    const split = text.indexOf('\r\n\r\n');
    const headers = text.slice(0, split).replace(/\r\n[ \t]+/g, ' ').split('\r\n').map((l) => { const i = l.indexOf(':'); return { name: l.slice(0, i), value: l.slice(i + 1).trim() }; });
    const body = Buffer.from(text.slice(split + 4));
    return { ...base, payload: { partId: '', mimeType: headers.find((h) => /^content-type$/i.test(h.name))?.value.split(';')[0] ?? 'text/plain', filename: '', headers, body: { size: body.length, data: body.toString('base64url') } } };
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(body));
}

/** Google's JSON error shape for the REST APIs. */
function apiError(res: ServerResponse, code: number, message: string, status: string): void {
  json(res, code, { error: { code, message, errors: [{ message, domain: 'global', reason: status === 'NOT_FOUND' ? 'notFound' : status === 'UNAUTHENTICATED' ? 'authError' : 'badRequest' }], status } });
}
