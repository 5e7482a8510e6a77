/**
 * What a failed Slack Web API call means for NanoClaw: retry it (and when), give up on the
 * message, or stop and ask the user for a new token. The Web API answers HTTP 200 with
 * `{ok: false, error: "<code>"}` for almost everything, so the code is what counts.
 */
import { ErrorCode } from '@slack/web-api';
import { DeliveryError } from '../channel.ts';

/** Codes that mean the token itself is no good: no retry helps, the user must act. */
const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive', 'user_removed_from_team', 'team_disabled', 'no_permission', 'missing_scope', 'not_allowed_token_type']);

/** Codes Slack documents as passing conditions; everything else a platform error says is about the request and will not change on retry. */
const TRANSIENT_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited', 'team_added_to_org']);

/** The `{ok:false}` code of a Web API error, if it is one. */
export function slackErrorCode(err: unknown): string | undefined {
  const e = err as { code?: string; data?: { error?: unknown } };
  return e?.code === ErrorCode.PlatformError && typeof e.data?.error === 'string' ? e.data.error : undefined;
}

/** Codes that mean the token no longer works at all (as opposed to one call it may not make). */
const TOKEN_ERRORS = new Set(['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive', 'user_removed_from_team', 'team_disabled']);

/** True when the token itself stopped working (revoked, app uninstalled): every call will fail until the user acts. */
export function isTokenError(err: unknown): boolean {
  const code = slackErrorCode(err);
  return code !== undefined && TOKEN_ERRORS.has(code);
}

/** True when the error says the token is revoked, invalid or lacks a scope: only the user can fix it. */
export function isAuthError(err: unknown): boolean {
  const code = slackErrorCode(err);
  return code !== undefined && AUTH_ERRORS.has(code);
}

/** What the user should do about an auth error, by its code. */
export function authAction(err: unknown): string {
  const code = slackErrorCode(err);
  if (code === 'missing_scope') {
    const needed = (err as { data?: { needed?: string } }).data?.needed;
    return `add the scope${needed ? ` ${needed}` : ''} to the app (api.slack.com/apps > OAuth & Permissions), reinstall it to the workspace, then run \`nanoclaw setup slack\` with the new bot token`;
  }
  return 'create or reinstall the app at api.slack.com/apps and run `nanoclaw setup slack` with its current tokens (docs/channels/slack.md)';
}

/** A short description of any error from the SDK, for logs and health details. */
export function describeSlackError(err: unknown): string {
  const e = err as { code?: string; retryAfter?: number; statusCode?: number; original?: Error; message?: string };
  const code = slackErrorCode(err);
  if (code) return `Slack answered "${code}"`;
  if (e?.code === ErrorCode.RateLimitedError) return `Slack answered 429 (retry after ${e.retryAfter} s)`;
  if (e?.code === ErrorCode.HTTPError) return `Slack answered HTTP ${e.statusCode}`;
  if (e?.code === ErrorCode.RequestError) return `Slack could not be reached (${e.original?.message ?? e.message})`;
  return String(e?.message ?? err);
}

/**
 * The delivery worker's view of a failed send: 429 waits for Slack's Retry-After; network
 * failures, 5xx and Slack's own passing errors are retried; a channel that is gone, archived or
 * closed to the bot (and any other refusal of the request) fails at once.
 *
 *   try { await web.chat.postMessage(args); } catch (err) { throw toDeliveryError(err, 'chat.postMessage'); }
 */
export function toDeliveryError(err: unknown, what: string): DeliveryError {
  const e = err as { code?: string; retryAfter?: number; statusCode?: number };
  const message = `${what}: ${describeSlackError(err)}`;
  if (e?.code === ErrorCode.RateLimitedError) return new DeliveryError('transient', message, { retryAfterMs: Math.max(1, e.retryAfter ?? 1) * 1000, cause: err });
  const code = slackErrorCode(err);
  if (code !== undefined) return new DeliveryError(TRANSIENT_ERRORS.has(code) ? 'transient' : 'permanent', message, { cause: err });
  if (e?.code === ErrorCode.HTTPError) return new DeliveryError((e.statusCode ?? 500) >= 500 ? 'transient' : 'permanent', message, { cause: err });
  return new DeliveryError('transient', message, { cause: err });
}
