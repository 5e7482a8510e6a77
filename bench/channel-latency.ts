import { performance } from 'node:perf_hooks';
import { startApp } from '../src/app.ts';
import type { FakeAnthropic, RecordedRequest } from '../src/devtools/fake-anthropic.ts';
import { DiscordStandin } from '../test/support/discord-standin.ts';
import { SlackStandIn } from '../test/support/slack-standin.ts';
import { TelegramStandIn } from '../test/support/telegram-standin.ts';
import { GmailStandIn } from '../test/support/gmail-standin.ts';
import { MailServers, mailServersMissing } from '../test/support/mail-servers.ts';
import { WhatsappStandIn } from '../test/support/whatsapp-standin.ts';
import { sessionDir } from '../src/channels/whatsapp/index.ts';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.ts';

/**
 * One chat service's stand-in as the benchmark drives it: the gateway's
 * environment that points the channel at it, a message from the owner, and
 * the bot's next message to the owner.
 */
export interface ChatStandIn {
  name: 'telegram' | 'slack' | 'discord';
  env: Record<string, string>;
  owner: string;
  say(text: string): void;
  nextReply(): Promise<unknown>;
  close(): Promise<void>;
}

/** The three chat stand-ins (test/support), started on loopback. */
export async function startChatStandIns(): Promise<ChatStandIn[]> {
  const tg = await TelegramStandIn.start();
  const sl = await SlackStandIn.start();
  const dc = await DiscordStandin.start();
  const tgOwner = 4242;
  const slOwner = 'UOWNER001';
  const dcOwner = { id: '2000000000000000002', username: 'owner' };
  return [
    {
      name: 'telegram', owner: `telegram:${tgOwner}`,
      env: { NANOCLAW_CHANNELS_TELEGRAM_ENABLED: 'true', NANOCLAW_CHANNELS_TELEGRAM_API_BASE_URL: tg.url, TELEGRAM_BOT_TOKEN: tg.token },
      say: (text) => { tg.sendText({ from: tgOwner, text }); },
      nextReply: () => tg.nextSent(tgOwner),
      close: () => tg.close(),
    },
    {
      name: 'slack', owner: `slack:${slOwner}`,
      env: { NANOCLAW_CHANNELS_SLACK_ENABLED: 'true', NANOCLAW_CHANNELS_SLACK_API_BASE_URL: sl.apiUrl, SLACK_BOT_TOKEN: sl.botToken, SLACK_APP_TOKEN: sl.appToken },
      say: (text) => { sl.userSays({ user: slOwner, channel: 'DOWNER001', text }); },
      nextReply: () => sl.nextMessage((m) => m.channel === 'DOWNER001', { from: sl.posted.length }),
      close: () => sl.close(),
    },
    {
      name: 'discord', owner: `discord:${dcOwner.id}`,
      env: { NANOCLAW_CHANNELS_DISCORD_ENABLED: 'true', NANOCLAW_CHANNELS_DISCORD_API_BASE_URL: dc.apiBaseUrl, DISCORD_BOT_TOKEN: dc.token },
      say: (text) => { dc.dm(dcOwner, text); },
      nextReply: () => dc.nextMessage(dc.dmChannelOf(dcOwner.id)),
      close: () => dc.close(),
    },
  ];
}

/** Follow-up latency per way in: the HTTP API's and each chat channel's, in one gateway. */
export interface ChannelLatency {
  /** message sent (POST, or the update made available by the stand-in) -> the agent's model request, ms. */
  byChannel: Record<string, number[]>;
}

/**
 * One gateway in this process with all three chat channels connected to
 * their stand-ins, and a live conversation on each way in (the first message
 * starts its container, untimed). Then `followUps` rounds: each way in in
 * turn gets a message, timed from the moment the stand-in makes it available
 * (Telegram answers the waiting getUpdates, Slack pushes the envelope,
 * Discord dispatches MESSAGE_CREATE; for the API, the POST) to the stand-in
 * model receiving the request that carries it; the reply is awaited before
 * the next. All timestamps come from one clock.
 *
 *   const r = await channelLatency({ fake, cleanup, followUps: 10 });
 */
export async function channelLatency(opts: { fake: FakeAnthropic; cleanup: Cleanup; followUps: number; say: (msg: string) => void }): Promise<ChannelLatency> {
  const standIns = await startChatStandIns();
  opts.cleanup.defer(async () => { for (const s of standIns) await s.close().catch(() => {}); });
  const app = await startApp({
    home: opts.cleanup.tempHome(),
    env: {
      PATH: process.env.PATH,
      ANTHROPIC_API_KEY: 'bench',
      ANTHROPIC_BASE_URL: opts.fake.url,
      NANOCLAW_CHANNELS_API_PORT: '0',
      NANOCLAW_CONTAINER_PRESTART: '0',
      NANOCLAW_CONTAINER_MAX_RUNNING: '4',
      NANOCLAW_LOG: process.env.NANOCLAW_LOG ?? 'warn',
      NANOCLAW_ACCESS_OWNERS: standIns.map((s) => s.owner).join(','),
      ...Object.assign({}, ...standIns.map((s) => s.env)),
    },
  });
  opts.cleanup.defer(() => app.stop());
  const api = async (text: string) => {
    const res = await fetch(`${app.http.url}/api/v1/conversations/bench-api/messages`, {
      method: 'POST', headers: { authorization: `Bearer ${app.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ text }),
    });
    if (res.status !== 200) throw new Error(`the API answered ${res.status}: ${await res.text()}`);
  };
  const ways = [
    { name: 'api', send: (text: string) => api(text), reply: async () => {} },
    ...standIns.map((s) => ({ name: s.name, send: async (text: string) => { s.say(text); }, reply: () => s.nextReply() })),
  ];
  const byChannel: Record<string, number[]> = Object.fromEntries(ways.map((w) => [w.name, []]));
  let seq = 0;
  const round = async (w: typeof ways[number], timed: boolean) => {
    const marker = `bench-${w.name}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;
    const request = modelRequest(opts.fake, marker, 120_000);
    const replied = w.reply();
    const t0 = performance.now();
    await w.send(`Hello from the benchmark (${marker}).`);
    const r = await request;
    await replied;
    if (timed) byChannel[w.name].push(r.receivedAt - t0);
  };
  for (const w of ways) await round(w, false);
  for (let i = 0; i < opts.followUps; i++) {
    for (const w of ways) await round(w, true);
  }
  opts.say(`  follow-ups: ${ways.map((w) => `${w.name} p50 ${Math.round(median(byChannel[w.name]))} ms`).join(', ')}`);
  await app.stop();
  return { byChannel };
}

/**
 * The other chat channels for the memory figure: Gmail (its API stand-in),
 * email (a real Dovecot and a loopback SMTP server, when Dovecot is
 * installed) and WhatsApp (Baileys with a linked session, pointed at a local
 * websocket server: WhatsApp's handshake cannot be stood in for, so it keeps
 * connecting rather than connected). `prepare` puts the WhatsApp session into
 * the gateway's home before it starts.
 */
export async function startOtherChannels(): Promise<{ env: Record<string, string>; owners: string[]; prepare(home: string): Promise<void>; note: string; close(): Promise<void> }> {
  const gmail = await GmailStandIn.start();
  const wa = await WhatsappStandIn.start();
  const missing = mailServersMissing();
  const mail = missing ? undefined : await MailServers.start();
  const env: Record<string, string> = {
    ...gmail.env,
    NANOCLAW_CHANNELS_GMAIL_ENABLED: 'true', NANOCLAW_CHANNELS_GMAIL_API_BASE_URL: gmail.url, NANOCLAW_CHANNELS_GMAIL_OAUTH_TOKEN_URL: gmail.tokenUrl,
    NANOCLAW_CHANNELS_WHATSAPP_ENABLED: 'true', NANOCLAW_CHANNELS_WHATSAPP_API_BASE_URL: wa.url,
    ...(mail ? {
      NANOCLAW_CHANNELS_EMAIL_ENABLED: 'true', NANOCLAW_CHANNELS_EMAIL_USER: mail.user, EMAIL_PASSWORD: mail.password,
      NANOCLAW_CHANNELS_EMAIL_IMAP_HOST: '127.0.0.1', NANOCLAW_CHANNELS_EMAIL_IMAP_PORT: String(mail.imapPort),
      NANOCLAW_CHANNELS_EMAIL_SMTP_HOST: '127.0.0.1', NANOCLAW_CHANNELS_EMAIL_SMTP_PORT: String(mail.smtpPort),
    } : {}),
  };
  return {
    env,
    owners: ['gmail:owner@example.com', 'email:owner@example.test', 'whatsapp:15550001111'],
    prepare: (home) => WhatsappStandIn.linkSession(sessionDir(join(home, 'channels', 'whatsapp'))),
    note: mail ? 'Gmail, email (Dovecot) and WhatsApp (connecting)' : `Gmail and WhatsApp (connecting); email left out: ${missing}`,
    async close() { await gmail.close(); await wa.close(); await mail?.close(); },
  };
}

/** The gateway environment that connects all three chat channels to running stand-ins (for the RSS figure). */
export function chatChannelsEnv(standIns: ChatStandIn[]): Record<string, string> {
  return { NANOCLAW_ACCESS_OWNERS: standIns.map((s) => s.owner).join(','), ...Object.assign({}, ...standIns.map((s) => s.env)) };
}

function modelRequest(fake: FakeAnthropic, marker: string, timeoutMs: number): Promise<RecordedRequest> {
  return new Promise((resolve, reject) => {
    const onRequest = (r: RecordedRequest) => {
      if (!r.body || !JSON.stringify(r.body.messages ?? '').includes(marker)) return;
      clearTimeout(timer);
      fake.off('request', onRequest);
      resolve(r);
    };
    const timer = setTimeout(() => { fake.off('request', onRequest); reject(new Error(`no model request carrying ${marker} within ${timeoutMs / 1000} s`)); }, timeoutMs);
    timer.unref();
    fake.on('request', onRequest);
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}
