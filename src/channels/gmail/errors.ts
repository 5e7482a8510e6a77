import { DeliveryError } from '../channel.ts';

/** What the user must do when Google stopped accepting the refresh token. */
export const RELINK_ACTION = 'run `nanoclaw setup gmail` again (refresh tokens of apps in testing mode expire after 7 days; publishing the app avoids that)';

/** The HTTP status of a failed Google call (gaxios puts it on the error or its response). */
export function statusOf(err: unknown): number | undefined {
  const e = err as { status?: unknown; code?: unknown; response?: { status?: unknown } };
  const s = e?.response?.status ?? e?.status ?? e?.code;
  return typeof s === 'number' ? s : typeof s === 'string' && /^\d{3}$/.test(s) ? Number(s) : undefined;
}

/**
 * The refresh token no longer works (revoked, expired after 7 days in
 * testing mode, the client deleted): only the user can fix it, so the
 * channel stops and says so instead of retrying.
 */
export function isAuthFailure(err: unknown): boolean {
  const e = err as { message?: string; response?: { data?: { error?: unknown } } };
  const code = e?.response?.data?.error;
  if (code === 'invalid_grant' || code === 'invalid_client' || code === 'unauthorized_client') return true;
  if (/invalid_grant|invalid_client/.test(e?.message ?? '')) return true;
  // A 401 from the API itself, after a fresh token: the scopes were withdrawn.
  return statusOf(err) === 401;
}

/** Google's wait after a 429, when it says (Retry-After in seconds). */
function retryAfterMs(err: unknown): number | undefined {
  const headers = (err as { response?: { headers?: unknown } })?.response?.headers;
  const raw = headers instanceof Headers ? headers.get('retry-after') : (headers as Record<string, string> | undefined)?.['retry-after'];
  const seconds = Number(raw);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

/** A failed `messages.send` as the delivery worker needs it. */
export function deliveryError(err: unknown, delivered: string[] = []): DeliveryError {
  const status = statusOf(err);
  const message = `Gmail refused the reply: ${status ?? ''} ${(err as Error)?.message ?? err}`.replace(/\s+/g, ' ');
  if (isAuthFailure(err)) return new DeliveryError('transient', `${message}; ${RELINK_ACTION}`, { cause: err, delivered });
  if (status === 429 || status === undefined || status >= 500) return new DeliveryError('transient', message, { cause: err, retryAfterMs: retryAfterMs(err), delivered });
  if (status === 403 && /rate|quota/i.test(String((err as Error)?.message))) return new DeliveryError('transient', message, { cause: err, retryAfterMs: retryAfterMs(err), delivered });
  return new DeliveryError('permanent', message, { cause: err, delivered });
}
