import { GrammyError, HttpError } from 'grammy';
import { DeliveryError } from '../channel.ts';

/**
 * What Telegram's answers mean for NanoClaw. The Bot API answers every
 * failed call with an `error_code` and a `description`; grammY throws them as
 * `GrammyError`, and anything that never got an answer (DNS, reset, timeout)
 * as `HttpError`.
 */

/** A failed send as the delivery worker needs it: retry (and when), wait for the channel, or give up. */
export function deliveryError(err: unknown, what: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof GrammyError) {
    const message = `Telegram refused ${what}: ${err.error_code} ${err.description}`;
    const code = err.error_code;
    if (code === 429) {
      const seconds = err.parameters?.retry_after;
      return new DeliveryError('transient', message, { retryAfterMs: seconds !== undefined ? seconds * 1000 : undefined, cause: err });
    }
    // A revoked token: nothing can be sent until the user sets a new one and
    // the gateway restarts (which redelivers what waited), so hold, do not fail.
    if (code === 401) return new DeliveryError('offline', `${message}; run \`nanoclaw setup telegram\` with a new token`, { cause: err });
    // 403: blocked by the user, kicked from the group; 400: chat not found,
    // bad request; 404: no such method. Sending again changes none of them.
    if (code === 400 || code === 403 || code === 404) return new DeliveryError('permanent', message, { cause: err });
    return new DeliveryError('transient', message, { cause: err });
  }
  // No cause: the network error's message quotes the request URL, which holds the token.
  if (err instanceof HttpError) return new DeliveryError('transient', `could not reach Telegram for ${what}: ${describe(err)}`);
  return new DeliveryError('transient', `${what} failed: ${describe(err)}`);
}

/** Telegram could not read our HTML (400 "can't parse entities"): the text is sent again as plain text. */
export function isParseError(err: unknown): boolean {
  return err instanceof GrammyError && err.error_code === 400 && /can't parse entities|unsupported start tag|can't find end tag/i.test(err.description);
}

/** An edit that changed nothing, or of a message that is gone: nothing to do. */
export function isHarmlessEditError(err: unknown): boolean {
  return err instanceof GrammyError && err.error_code === 400 && /message is not modified|message to (edit|delete) not found|message can't be (edited|deleted)/i.test(err.description);
}

/**
 * Errors from getUpdates/getMe/setWebhook that only the user can fix: polling
 * stops for them (grammY would rethrow them too), the channel reports
 * `failed` with `action`, and nothing retries in a loop.
 */
export function needsUser(err: unknown, mode: 'polling' | 'webhook'): { detail: string; action: string } | undefined {
  if (!(err instanceof GrammyError)) return undefined;
  if (err.error_code === 401) return {
    detail: `Telegram answered 401 Unauthorized: the bot token was revoked or is wrong`,
    action: 'get the token from @BotFather (/mybots, API Token; /revoke makes a new one) and run `nanoclaw setup telegram`, then restart the gateway',
  };
  if (err.error_code === 404 && /not found/i.test(err.description)) return {
    detail: `Telegram answered 404 Not Found to the bot token: it is not a token Telegram knows`,
    action: 'copy the whole token from @BotFather (digits, a colon, then letters) and run `nanoclaw setup telegram`',
  };
  if (err.error_code === 409) return {
    detail: `Telegram answered 409 Conflict: ${err.description}`,
    action: mode === 'polling'
      ? 'another program polls with this bot token, or a webhook is set for it: stop the other program (or another NanoClaw) and restart the gateway, or give this one its own bot'
      : 'another program sets a different webhook for this bot token: stop it and restart the gateway',
  };
  return undefined;
}

/**
 * A short description of any error for logs and health details, without the
 * bot token: network errors quote the request URL, which holds it
 * (`/bot<token>/getUpdates`, `/file/bot<token>/...`).
 */
export function describe(err: unknown): string {
  if (err instanceof GrammyError) return redactToken(`${err.error_code} ${err.description}`);
  if (err instanceof HttpError) return redactToken(String((err.error as Error)?.message ?? err.message));
  return redactToken(err instanceof Error ? err.message : String(err));
}

/** Text with any bot token in a Bot API URL replaced, fit for a log line. */
export function redactToken(text: string): string {
  return text.replace(/\/bot[^/\s]+/g, '/bot<token>');
}

/** How long to wait before asking again after a failure; Telegram's own `retry_after` wins. */
export function retryDelayMs(err: unknown, failures: number): number {
  if (err instanceof GrammyError && err.error_code === 429 && err.parameters?.retry_after) return err.parameters.retry_after * 1000;
  const base = Math.min(30_000, 1000 * 2 ** Math.max(0, failures - 1));
  return base / 2 + Math.random() * base / 2;
}
