import { ApplicationFlags } from 'discord.js';
import type { CheckResult } from '../registry.ts';

/** Either flag means the Message Content intent is on (the "limited" one is for bots in fewer than 100 servers). */
const MESSAGE_CONTENT = ApplicationFlags.GatewayMessageContent | ApplicationFlags.GatewayMessageContentLimited;

/**
 * Asks Discord whether the bot token works (GET /users/@me) and whether the
 * privileged Message Content intent is enabled (the application's flags):
 * without it the gateway closes with 4014 and the bot hears nothing.
 *
 *   await checkDiscord('https://discord.com/api', token); // { ok: true, detail: 'Discord bot @nano (id 1…) …' }
 */
export async function checkDiscord(apiBaseUrl: string, token: string | undefined, signal?: AbortSignal): Promise<CheckResult> {
  if (!token) return { ok: false, detail: 'no Discord bot token (DISCORD_BOT_TOKEN) is set', fix: 'run `nanoclaw setup discord`, or set DISCORD_BOT_TOKEN' };
  const base = apiBaseUrl.replace(/\/+$/, '');
  const get = (path: string) => fetch(`${base}/v10${path}`, { headers: { authorization: `Bot ${token.replace(/^Bot\s+/i, '')}` }, signal });
  let me: Response;
  try {
    me = await get('/users/@me');
  } catch (err) {
    return { ok: false, detail: `Discord could not be reached at ${base}: ${(err as Error).message}`, fix: 'check the network (or channels.discord.apiBaseUrl) and try again' };
  }
  if (me.status === 401) return { ok: false, detail: 'Discord refused the bot token (401 Unauthorized)', fix: 'copy the token again from the Discord Developer Portal (your application → Bot → Reset Token); it is shown once' };
  if (!me.ok) return { ok: false, detail: `Discord answered ${me.status} to GET /users/@me`, fix: 'try again in a minute; if it persists, check https://discordstatus.com' };
  const user = await me.json().catch(() => ({})) as { id?: string; username?: string; bot?: boolean };
  if (user.bot === false) return { ok: false, detail: `the token belongs to the user account ${user.username}, not a bot`, fix: 'use the token from your application\'s Bot page in the Developer Portal' };
  const who = `Discord bot @${user.username} (id ${user.id})`;
  const app = await get('/applications/@me').then((r) => (r.ok ? r.json() : null)).catch(() => null) as { flags?: number } | null;
  if (app && typeof app.flags === 'number' && !(app.flags & MESSAGE_CONTENT)) {
    return { ok: false, detail: `${who}: the Message Content intent is not enabled, so the bot would connect but receive nothing`, fix: 'turn on "Message Content Intent" in the Developer Portal (your application → Bot → Privileged Gateway Intents) and run this again' };
  }
  return { ok: true, detail: `${who}: the token works${app ? ' and the Message Content intent is enabled' : ''}.` };
}
