import { Client, DiscordjsErrorCodes, Events, GatewayIntentBits, Partials, type Interaction, type Message } from 'discord.js';
import type { ChannelHealth } from '../channel.ts';
import type { Logger } from '../../core/logger.ts';

/** What only the user can fix, said once in the log and kept in `health()` until the gateway restarts. */
const TOKEN_REFUSED = {
  detail: 'Discord refused the bot token (it was reset, or the bot was deleted)',
  action: 'create a new token in the Discord Developer Portal (your application → Bot → Reset Token) and run `nanoclaw setup discord`, then restart the gateway',
};
const INTENT_REFUSED = {
  detail: 'Discord closed the gateway with 4014: the bot asks for the Message Content intent, which is not enabled for it',
  action: 'turn on "Message Content Intent" in the Discord Developer Portal (your application → Bot → Privileged Gateway Intents), then restart the gateway',
};
const NO_TOKEN = {
  detail: 'no Discord bot token (DISCORD_BOT_TOKEN) is set',
  action: 'run `nanoclaw setup discord`, or set DISCORD_BOT_TOKEN in the environment',
};

/** Gateway close codes that no reconnect fixes: 4004 bad token, 4013 invalid intents, 4014 disallowed (privileged) intents. */
const FATAL_CLOSE: Record<number, { detail: string; action: string }> = {
  4004: TOKEN_REFUSED,
  4013: { detail: 'Discord closed the gateway with 4013 (invalid intents)', action: 'update NanoClaw; the intents it asks for are not valid for this API version' },
  4014: INTENT_REFUSED,
};

/** First watchdog restart at once, then 5 s, 10 s, … up to 10 minutes: each restart is an IDENTIFY, of which Discord allows 1000 a day. */
const RESTART_BASE_MS = 5000;
const RESTART_MAX_MS = 10 * 60 * 1000;
/** How long `start()` waits for the first READY (or a refusal) before it lets the gateway go on. */
const START_WAIT_MS = 5000;

export interface ConnectionOptions {
  token: string | undefined;
  apiBaseUrl: string;
  stallTimeoutMs: number;
  log: Logger;
  onMessage(message: Message): void;
  onInteraction(interaction: Interaction): void;
}

/**
 * The Discord gateway connection: one discord.js `Client` at a time, which
 * resumes dropped sessions itself. Around it:
 * - a refusal only the user can fix (token refused: 401 or close 4004;
 *   disallowed intents: close 4014) marks the channel `failed` with what to
 *   do, destroys the client and never logs in again by itself;
 * - a watchdog: when the shard shows no heartbeat acknowledgement, no event
 *   and no readiness for `stallTimeoutMs`, the client is destroyed and a new
 *   one logs in, with backoff (each login is an IDENTIFY, 1000 a day).
 *
 *   const conn = new DiscordConnection({ token, apiBaseUrl, stallTimeoutMs: 120_000, log, onMessage, onInteraction });
 *   await conn.start(); conn.health(); // { state: 'connected', since }
 */
export class DiscordConnection {
  private client?: Client;
  private state: ChannelHealth = { state: 'starting', since: Date.now() };
  /** Bumped whenever a client is given up: late events of an old client are ignored. */
  private generation = 0;
  private lastLife = Date.now();
  private lastPing = -1;
  private readySince = 0;
  private restarts = 0;
  private watchdog?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private stopped = false;
  private settled?: () => void;

  constructor(private readonly opts: ConnectionOptions) {}

  /** The bot's own user id once READY came (for mentions and to ignore its own messages). */
  get botId(): string | undefined { return this.client?.user?.id; }

  health(): ChannelHealth { return { ...this.state }; }

  /** Logs in; waits a few seconds for READY or a refusal, never throws (a refusal shows in `health()`). */
  async start(): Promise<void> {
    if (!this.opts.token) { this.fail(NO_TOKEN); return; }
    const ready = new Promise<void>((resolve) => { this.settled = resolve; });
    this.login();
    const tick = Math.max(250, Math.min(5000, Math.floor(this.opts.stallTimeoutMs / 4)));
    this.watchdog = setInterval(() => this.checkAlive(), tick);
    this.watchdog.unref();
    await Promise.race([ready, new Promise((r) => setTimeout(r, START_WAIT_MS).unref())]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.restartTimer);
    await this.dropClient();
  }

  private setState(state: ChannelHealth['state'], info: { detail?: string; action?: string } = {}): void {
    if (this.state.state !== state || this.state.detail !== info.detail) this.state = { state, ...info, since: Date.now() };
    if (state !== 'starting' && state !== 'reconnecting') { this.settled?.(); this.settled = undefined; }
  }

  private login(): void {
    if (this.stopped) return;
    const generation = ++this.generation;
    const client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent, GatewayIntentBits.DirectMessages],
      partials: [Partials.Channel],
      rest: { api: this.opts.apiBaseUrl },
      allowedMentions: { parse: [] },
    });
    guardPackets(client, this.opts.log);
    this.client = client;
    this.lastLife = Date.now();
    this.lastPing = -1;
    const mine = () => generation === this.generation && !this.stopped;
    const alive = () => { if (mine()) this.lastLife = Date.now(); };
    client.on(Events.ClientReady, () => {
      if (!mine()) return;
      alive();
      this.readySince = Date.now();
      if (this.state.state !== 'connected') this.opts.log.info(`discord: connected as ${client.user?.tag ?? client.user?.id}`);
      this.setState('connected');
    });
    client.on(Events.ShardResume, () => { if (mine()) { alive(); this.setState('connected'); } });
    client.on(Events.ShardReconnecting, () => {
      if (mine() && this.state.state === 'connected') this.setState('reconnecting', { detail: 'the Discord gateway connection dropped; resuming' });
    });
    client.on(Events.ShardDisconnect, (ev) => {
      if (!mine()) return;
      const fatal = FATAL_CLOSE[ev.code];
      if (fatal) this.fail(fatal);
    });
    client.on(Events.Raw, alive);
    client.on(Events.ShardError, (err) => { if (mine()) this.opts.log.warn(`discord: gateway error: ${err.message}`); });
    client.on(Events.Error, (err) => this.opts.log.error(`discord: ${err.message}`));
    client.on(Events.MessageCreate, (m) => { if (mine()) this.opts.onMessage(m); });
    client.on(Events.InteractionCreate, (i) => { if (mine()) this.opts.onInteraction(i); });

    client.login(this.opts.token).catch((err: Error & { code?: string }) => {
      if (!mine()) return;
      if (err.code === DiscordjsErrorCodes.TokenInvalid || /Authentication failed/.test(err.message)) this.fail(TOKEN_REFUSED);
      else if (/disallowed intents/i.test(err.message)) this.fail(INTENT_REFUSED);
      else if (/invalid intents/i.test(err.message)) this.fail(FATAL_CLOSE[4013]);
      else this.restart(`login failed: ${err.message}`);
    });
  }

  /** Called every few seconds: a connection with no sign of life for `stallTimeoutMs` is replaced. */
  private checkAlive(): void {
    if (this.stopped || this.state.state === 'failed' || this.restartTimer) return;
    const ping = this.client?.ws.shards.first()?.lastPingTimestamp ?? -1;
    if (ping !== this.lastPing) { this.lastPing = ping; this.lastLife = Date.now(); }
    const quiet = Date.now() - this.lastLife;
    if (quiet > this.opts.stallTimeoutMs) this.restart(`no heartbeat acknowledgement or event from the Discord gateway for ${Math.round(quiet / 1000)} s`);
  }

  /** Gives up the current client and logs in again after the backoff. */
  private restart(reason: string): void {
    if (this.stopped || this.state.state === 'failed') return;
    // A connection that stayed up long enough earns a fresh backoff.
    if (this.readySince && Date.now() - this.readySince > 10 * this.opts.stallTimeoutMs) this.restarts = 0;
    this.readySince = 0;
    const delay = this.restarts === 0 ? 0 : Math.min(RESTART_BASE_MS * 2 ** (this.restarts - 1), RESTART_MAX_MS);
    this.restarts++;
    this.opts.log.warn(`discord: ${reason}; logging in again${delay ? ` in ${Math.round(delay / 1000)} s` : ''}`);
    this.setState('reconnecting', { detail: reason });
    void this.dropClient();
    this.restartTimer = setTimeout(() => { this.restartTimer = undefined; this.login(); }, delay);
    this.restartTimer.unref();
  }

  /** A refusal only the user can fix: said once, the client destroyed, no further login. */
  private fail(info: { detail: string; action: string }): void {
    if (this.state.state === 'failed') return;
    this.opts.log.error(`discord: ${info.detail}; to fix: ${info.action}`);
    this.setState('failed', info);
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    void this.dropClient();
  }

  private async dropClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.generation++;
    if (client) await client.destroy().catch((err: Error) => this.opts.log.warn(`discord: closing the gateway client: ${err.message}`));
  }
}

/**
 * discord.js turns each gateway dispatch into its structures inside the
 * websocket's message handler; a payload it cannot parse (a null `d`, an
 * attachment list that is not a list) throws there and surfaces as an
 * unhandled promise rejection, which would end the whole gateway process.
 * Its packet entry point is wrapped so such a payload is logged and skipped.
 */
function guardPackets(client: Client, log: Logger): void {
  const ws = client.ws as unknown as { handlePacket?: (packet: unknown, shard: unknown) => boolean };
  const handle = ws.handlePacket;
  if (typeof handle !== 'function') return;
  ws.handlePacket = (packet, shard) => {
    try {
      return handle.call(ws, packet, shard);
    } catch (err) {
      const t = (packet as { t?: unknown } | null)?.t;
      log.warn(`discord: a malformed ${typeof t === 'string' ? t : 'gateway'} event was skipped: ${(err as Error)?.message ?? err}`);
      return true;
    }
  };
}
