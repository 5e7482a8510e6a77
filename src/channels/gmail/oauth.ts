import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { CodeChallengeMethod, OAuth2Client } from 'google-auth-library';
import type { SetupContext } from '../registry.ts';

/**
 * The two scopes the channel asks for: read mail and send mail, nothing
 * else. Not `gmail.modify` (it could archive, label or trash), not
 * `https://mail.google.com/` (full access, which IMAP would need). The price:
 * the channel cannot mark mail read; it keeps its place by the history id.
 */
export const GMAIL_SCOPES = [
  'https://www.googleapis.com/auth/gmail.readonly',
  'https://www.googleapis.com/auth/gmail.send',
];

/** How long set-up waits for the browser to come back. */
const LINK_TIMEOUT_MS = 10 * 60_000;

/**
 * The user's own Google Cloud OAuth client, refreshing its access token at
 * `tokenUrl` (a stand-in in tests).
 *
 *   const auth = oauthClient({ clientId, clientSecret, tokenUrl: config.oauthTokenUrl, refreshToken });
 *   const { token } = await auth.getAccessToken();
 */
export function oauthClient(opts: { clientId: string; clientSecret: string; tokenUrl: string; refreshToken?: string; redirectUri?: string; timeoutMs?: number }): OAuth2Client {
  const client = new OAuth2Client({
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    redirectUri: opts.redirectUri,
    // A 401 before the token's own expiry (revoked early, or a clock off) gets one refresh and retry.
    forceRefreshOnFailure: true,
    // A token endpoint that never answers must not stall the poller (gaxios has no limit of its own).
    transporterOptions: { timeout: opts.timeoutMs ?? 60_000 },
    endpoints: { oauth2TokenUrl: opts.tokenUrl },
  });
  if (opts.refreshToken) client.setCredentials({ refresh_token: opts.refreshToken });
  return client;
}

/**
 * `nanoclaw setup gmail`'s own step: the OAuth consent for the user's own
 * client, with a loopback redirect (a one-shot server on 127.0.0.1, PKCE,
 * the `state` checked so no other page can hand us a code). When the browser
 * runs on another machine, the person pastes the address it ended on
 * instead. Returns the refresh token to store.
 *
 *   const { GMAIL_REFRESH_TOKEN } = await linkGmail(ctx, { clientId, clientSecret, tokenUrl });
 */
export async function linkGmail(ctx: SetupContext, opts: { clientId: string; clientSecret: string; tokenUrl: string }): Promise<{ GMAIL_REFRESH_TOKEN: string }> {
  const state = randomBytes(16).toString('base64url');
  const callback = new OneShotCallback(state);
  const redirectUri = await callback.listen();
  try {
    const client = oauthClient({ ...opts, redirectUri });
    const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
    const url = client.generateAuthUrl({
      access_type: 'offline',
      // Without consent Google returns no refresh token when the app was authorised before.
      prompt: 'consent',
      scope: GMAIL_SCOPES,
      state,
      code_challenge: codeChallenge,
      code_challenge_method: CodeChallengeMethod.S256,
    });
    ctx.out.write(`\nOpen this address in a browser, sign in with the Gmail account the agent should read, and allow access:\n\n  ${url}\n\n`
      + `Waiting for the browser to come back to ${redirectUri} ...\n`
      + 'If the browser runs on another machine, it ends on a page that does not load: paste that page\'s address here.\n');
    const pasted = ctx.ask('Address the browser ended on (or wait)').then((answer) => answer ? callback.fromPasted(answer) : new Promise<string>(() => {}));
    const timeout = new Promise<string>((_, reject) => {
      const t = setTimeout(() => reject(new Error('no answer from the browser within 10 minutes; run `nanoclaw setup gmail` again')), LINK_TIMEOUT_MS);
      t.unref();
      ctx.signal.addEventListener('abort', () => reject(new Error('set-up was cancelled')), { once: true });
    });
    const code = await Promise.race([callback.code, pasted, timeout]);
    const { tokens } = await client.getToken({ code, codeVerifier, redirect_uri: redirectUri });
    if (!tokens.refresh_token) {
      throw new Error('Google gave no refresh token: remove NanoClaw\'s access at https://myaccount.google.com/permissions and run `nanoclaw setup gmail` again');
    }
    ctx.out.write('Gmail access granted.\n');
    return { GMAIL_REFRESH_TOKEN: tokens.refresh_token };
  } finally {
    callback.close();
  }
}

/** The loopback redirect: answers one request carrying the right state, then closes. */
class OneShotCallback {
  private server?: Server;
  private resolve!: (code: string) => void;
  private reject!: (err: Error) => void;
  readonly code = new Promise<string>((res, rej) => { this.resolve = res; this.reject = rej; });

  constructor(private readonly state: string) {
    this.code.catch(() => {});
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== '/') { res.writeHead(404).end(); return; }
      try {
        const code = this.codeFrom(url);
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('NanoClaw has access to this Gmail account now. You can close this page.');
        this.resolve(code);
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(`NanoClaw set-up: ${(err as Error).message}`);
        // A wrong state is someone else's request: keep waiting for the real one.
        if (!/state/.test((err as Error).message)) this.reject(err as Error);
      }
    });
    await new Promise<void>((res, rej) => { this.server!.once('error', rej); this.server!.listen(0, '127.0.0.1', () => res()); });
    const { port } = this.server.address() as { port: number };
    return `http://127.0.0.1:${port}/`;
  }

  /** The code from the address the person pasted (or a bare code, trusted only with its state). */
  fromPasted(answer: string): string {
    let url: URL;
    try { url = new URL(answer.trim()); } catch { throw new Error('that is not the address the browser ended on (it starts with http://127.0.0.1)'); }
    return this.codeFrom(url);
  }

  private codeFrom(url: URL): string {
    const error = url.searchParams.get('error');
    if (error) throw new Error(`Google refused: ${error}${error === 'access_denied' ? ' (access was not allowed; add your address as a test user of the app if it is in testing mode)' : ''}`);
    if (url.searchParams.get('state') !== this.state) throw new Error('the state in the answer does not match this set-up (an old or forged page): ignored');
    const code = url.searchParams.get('code');
    if (!code) throw new Error('the answer carries no code');
    return code;
  }

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
  }
}
