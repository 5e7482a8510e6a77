import { DiscordAPIError, HTTPError, RateLimitError } from 'discord.js';
import { DeliveryError } from '../channel.ts';

/**
 * Discord's JSON error codes that no retry will get past: the user closed
 * their DMs or blocked the bot (50007), the channel or message is gone
 * (10003, 10008), the bot was removed or lost a permission (50001, 50013),
 * and a request Discord calls malformed (50035, e.g. a text over 2000 chars:
 * it fails the same way every time).
 */
const PERMANENT_CODES = new Map<number, string>([
  [50007, 'Discord cannot send to this user (they closed direct messages from server members, or blocked the bot)'],
  [10003, 'the Discord channel no longer exists'],
  [10008, 'the Discord message no longer exists'],
  [50001, 'the bot has no access to this Discord channel (it was removed from the server or cannot see the channel)'],
  [50013, 'the bot lacks a permission in this Discord channel (Send Messages, Attach Files or Read Message History)'],
  [50035, 'Discord refused the message as malformed'],
]);

/**
 * What a failed Discord call means for the delivery worker: a rate limit
 * that discord.js handed back (longer than `rateLimitWaitMs`) or a 429 is
 * transient with Discord's own wait; a refusal that no retry changes
 * (blocked, unknown channel, missing access or permission, 4xx) is
 * permanent; network failures and 5xx are transient.
 *
 *   try { await rest.post(route, { body }); } catch (err) { throw deliveryError(err, 'send to 123'); }
 */
export function deliveryError(err: unknown, what: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof RateLimitError) {
    const wait = Math.max(err.retryAfter, err.sublimitTimeout ?? 0, 1000);
    return new DeliveryError('transient', `Discord rate limit on ${err.route} (${what}); retry in ${Math.ceil(wait / 1000)} s`, { retryAfterMs: wait, cause: err });
  }
  if (err instanceof DiscordAPIError) {
    const code = typeof err.code === 'number' ? err.code : Number(err.code);
    const known = PERMANENT_CODES.get(code);
    if (err.status === 429) {
      const retry = Number((err.rawError as { retry_after?: number })?.retry_after);
      return new DeliveryError('transient', `Discord answered 429 (${what})`, { retryAfterMs: Number.isFinite(retry) ? Math.ceil(retry * 1000) : undefined, cause: err });
    }
    if (known) return new DeliveryError('permanent', `${known} (${what}: Discord error ${code})`, { cause: err });
    if (err.status === 401) return new DeliveryError('permanent', `Discord refused the bot token (${what}); run \`nanoclaw setup discord\` with a new token`, { cause: err });
    if (err.status >= 500) return new DeliveryError('transient', `Discord answered ${err.status} (${what})`, { cause: err });
    return new DeliveryError('permanent', `Discord refused ${what}: ${err.status} ${err.message}`, { cause: err });
  }
  if (err instanceof HTTPError) {
    const kind = err.status >= 500 || err.status === 429 ? 'transient' : 'permanent';
    return new DeliveryError(kind, `Discord answered ${err.status} ${err.message} (${what})`, { cause: err });
  }
  return new DeliveryError('transient', `Discord could not be reached (${what}): ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
