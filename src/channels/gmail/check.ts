import { gmail } from '@googleapis/gmail';
import type { CheckResult } from '../registry.ts';
import type { Config } from '../../config/schema.ts';
import type { Secrets } from '../../config/secrets.ts';
import { isAuthFailure, RELINK_ACTION, statusOf } from './errors.ts';
import { oauthClient } from './oauth.ts';

/** The three secrets the channel runs on, or which one is missing. */
export function gmailCredentials(secrets: Secrets): { clientId: string; clientSecret: string; refreshToken: string } | { missing: string } {
  const clientId = secrets.get('GMAIL_CLIENT_ID');
  const clientSecret = secrets.get('GMAIL_CLIENT_SECRET');
  const refreshToken = secrets.get('GMAIL_REFRESH_TOKEN');
  if (!clientId) return { missing: 'GMAIL_CLIENT_ID' };
  if (!clientSecret) return { missing: 'GMAIL_CLIENT_SECRET' };
  if (!refreshToken) return { missing: 'GMAIL_REFRESH_TOKEN' };
  return { clientId, clientSecret, refreshToken };
}

/**
 * Asks Gmail whose mailbox the credentials open (users.getProfile, after a
 * token refresh): `nanoclaw doctor` and the end of `nanoclaw setup gmail`.
 *
 *   const r = await checkGmail({ config: config.channels.gmail, secrets });
 *   if (!r.ok) console.log(r.detail, r.fix);
 */
export async function checkGmail(opts: { config: Config['channels']['gmail']; secrets: Secrets; signal?: AbortSignal }): Promise<CheckResult> {
  const creds = gmailCredentials(opts.secrets);
  if ('missing' in creds) return { ok: false, detail: `${creds.missing} is not set`, fix: 'run `nanoclaw setup gmail`' };
  const timeoutMs = opts.config.requestTimeoutSec * 1000;
  const api = gmail({ version: 'v1', auth: oauthClient({ ...creds, tokenUrl: opts.config.oauthTokenUrl, timeoutMs }), rootUrl: opts.config.apiBaseUrl, timeout: timeoutMs });
  try {
    const profile = (await api.users.getProfile({ userId: 'me' }, { signal: opts.signal, retry: false })).data;
    return { ok: true, detail: `reads and answers ${profile.emailAddress}` };
  } catch (err) {
    const e = err as { message?: string; response?: { data?: { error?: string; error_description?: string } } };
    const why = e.response?.data?.error ? `${e.response.data.error}${e.response.data.error_description ? `: ${e.response.data.error_description}` : ''}` : `${statusOf(err) ?? ''} ${e.message ?? err}`.trim();
    if (isAuthFailure(err)) return { ok: false, detail: `Google refused the credentials (${why})`, fix: RELINK_ACTION };
    if (statusOf(err) === 403) return { ok: false, detail: `Gmail refused (${why})`, fix: 'enable the Gmail API for the project at https://console.cloud.google.com/apis/library/gmail.googleapis.com, then run `nanoclaw setup gmail` again' };
    return { ok: false, detail: `could not reach Gmail (${why})`, fix: 'check the network (and channels.gmail.apiBaseUrl), then try again' };
  }
}
