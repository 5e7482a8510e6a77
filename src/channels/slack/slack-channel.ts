/**
 * The Slack channel: a Slack app's bot in DMs, channels and threads. Events come over Socket
 * Mode (default) or HTTP; messages go out through the Web API with the bot token. A channel id
 * is the conversation's chat; in channels every conversation is a thread (its parent's ts).
 */
import { WebClient } from '@slack/web-api';
import type { Channel, ChannelCapabilities, ChannelHealth, ChannelHost, OutboundPayload, SendResult } from '../channel.ts';
import { DeliveryError } from '../channel.ts';
import type { Config } from '../../config/schema.ts';
import type { Secrets } from '../../config/secrets.ts';
import type { Logger } from '../../core/logger.ts';
import type { Conversation } from '../../store/store.ts';
import { authAction, describeSlackError, isAuthError, isTokenError } from './errors.ts';
import { SlackHttpEvents } from './http-events.ts';
import { SlackInbound, type SlackIdentity } from './inbound.ts';
import { SlackOutbound, SLACK_MAX_TEXT } from './outbound.ts';
import { sdkLogger } from './sdk-logger.ts';
import { SlackSocketMode } from './socket-mode.ts';

export type SlackConfig = Config['channels']['slack'];

/** Slack's own limit for one uploaded file. */
const MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;
/** Slack allows about one message a second per channel (chat.update counts): edits stay under it. */
const EDIT_INTERVAL_MS = 1200;
/** Retries of auth.test when Slack cannot be reached at start: 2 s growing to at most a minute. */
const BOOT_BACKOFF_MAX_MS = 60_000;

/**
 * Built by `slack.createChannel` from `channels.slack` and the secrets.
 *
 *   const channel = new SlackChannel({ config, secrets, log });
 *   await gateway.startChannel(channel);
 */
export class SlackChannel implements Channel {
  readonly name = 'slack';
  /** Anyone in a workspace can write to the bot: senders go through the access policy. */
  readonly trusted = false;
  /**
   * No typing: Slack shows a bot "typing" only in its AI-assistant threads
   * (assistant.threads.setStatus), not in DMs or channels. A reaction on the user's message
   * could stand in, but it needs a scope more and leaves marks in the channel; the progress
   * message (posted after 8 s, edited in place, deleted at the end) says the agent is at work.
   */
  readonly capabilities: ChannelCapabilities = {
    maxMessageLength: SLACK_MAX_TEXT, dialect: 'slack-mrkdwn', files: { in: true, out: true, maxOutBytes: MAX_UPLOAD_BYTES },
    buttons: true, typing: false, edits: { minIntervalMs: EDIT_INTERVAL_MS }, threads: true, reactions: false,
  };
  private state: ChannelHealth = { state: 'starting', since: Date.now() };
  private web?: WebClient;
  private outbound?: SlackOutbound;
  private transport?: { start(): Promise<void>; stop(): Promise<void> };
  private host?: ChannelHost;
  private bootTimer?: NodeJS.Timeout;
  private bootAttempt = 0;
  private stopped = false;

  constructor(private readonly opts: { config: SlackConfig; secrets: Secrets; log: Logger }) {}

  health(): ChannelHealth {
    return this.state;
  }

  /** The transport in use (after start): Socket Mode or the HTTP listener; tests use it to drop the connection. */
  get connection(): SlackSocketMode | SlackHttpEvents | undefined {
    return this.transport as SlackSocketMode | SlackHttpEvents | undefined;
  }

  /** Connects, or reports why it cannot; never throws, so the gateway starts either way. */
  async start(host: ChannelHost): Promise<void> {
    this.host = host;
    const { config, secrets, log } = this.opts;
    const botToken = secrets.get('SLACK_BOT_TOKEN');
    const missing = !botToken ? 'SLACK_BOT_TOKEN'
      : config.mode === 'socket' && !secrets.get('SLACK_APP_TOKEN') ? 'SLACK_APP_TOKEN'
      : config.mode === 'http' && !secrets.get('SLACK_SIGNING_SECRET') ? 'SLACK_SIGNING_SECRET' : undefined;
    if (missing) {
      this.report('failed', `${missing} is not set (channels.slack.mode is "${config.mode}")`,
        missing === 'SLACK_SIGNING_SECRET' ? 'add SLACK_SIGNING_SECRET (Basic Information > App Credentials) to secrets.json or the environment, then restart' : 'run `nanoclaw setup slack`');
      return;
    }
    // rejectRateLimitedCalls: a 429 comes back to the delivery worker, which waits Retry-After
    // without holding up other conversations; retries: 0 for the same reason (it retries itself).
    this.web = new WebClient(botToken, {
      slackApiUrl: config.apiBaseUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, timeout: 30_000,
      logger: sdkLogger(log, 'slack web') as never,
    });
    this.outbound = new SlackOutbound(this.web);
    await this.boot();
  }

  /** Who the bot is (auth.test), then the transport. A refused token stops here; an unreachable Slack is tried again. */
  private async boot(): Promise<void> {
    if (this.stopped) return;
    const { config, secrets, log } = this.opts;
    let identity: SlackIdentity;
    try {
      const me = await this.web!.auth.test();
      if (!me.user_id) throw new Error('auth.test answered without a user_id');
      identity = { userId: me.user_id, botId: me.bot_id, name: me.user, team: me.team };
      log.info(`slack: signed in as ${me.user ?? me.user_id} (${me.user_id}) in ${me.team ?? 'the workspace'}`);
    } catch (err) {
      if (isAuthError(err)) return this.report('failed', `Slack refused the bot token (SLACK_BOT_TOKEN): ${describeSlackError(err)}`, authAction(err));
      const delay = Math.min(BOOT_BACKOFF_MAX_MS, 2000 * 2 ** this.bootAttempt++);
      this.report('reconnecting', `auth.test failed: ${describeSlackError(err)}; trying again in ${Math.round(delay / 1000)} s`);
      this.bootTimer = setTimeout(() => void this.boot(), delay);
      this.bootTimer.unref();
      return;
    }
    const sink = new SlackInbound({ host: this.host!, web: this.web!, identity, botToken: secrets.get('SLACK_BOT_TOKEN')!, apiBaseUrl: config.apiBaseUrl, log });
    const report = (state: 'connected' | 'reconnecting' | 'failed', detail?: string, action?: string) => this.report(state, detail, action);
    this.transport = config.mode === 'socket'
      ? new SlackSocketMode({ appToken: secrets.get('SLACK_APP_TOKEN')!, apiBaseUrl: config.apiBaseUrl, sink, log, report })
      : new SlackHttpEvents({ ...config.http, signingSecret: secrets.get('SLACK_SIGNING_SECRET')!, sink, log, report });
    await this.transport.start();
  }

  async send(conversation: Conversation, payload: OutboundPayload): Promise<SendResult> {
    return this.guard(() => this.ready().send(conversation, payload));
  }

  async edit(conversation: Conversation, platformId: string, text: string): Promise<void> {
    return this.guard(() => this.ready().edit(conversation, platformId, text));
  }

  async remove(conversation: Conversation, platformId: string): Promise<void> {
    return this.guard(() => this.ready().remove(conversation, platformId));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.bootTimer);
    await this.transport?.stop();
  }

  private ready(): SlackOutbound {
    if (!this.outbound) throw new DeliveryError('transient', `the slack channel cannot send: ${this.state.detail ?? 'it has not started'}`);
    return this.outbound;
  }

  /** A token revoked while running shows in health too, not only as failed messages. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      if (isTokenError(cause) && this.state.state !== 'failed') {
        this.report('failed', `Slack refused the bot token (SLACK_BOT_TOKEN): ${describeSlackError(cause)}`, authAction(cause));
      }
      throw err;
    }
  }

  /** Health changes, each logged once: a failure as an error with what to do. */
  private report(state: ChannelHealth['state'], detail?: string, action?: string): void {
    const prev = this.state;
    if (prev.state === state && prev.detail === detail) return;
    this.state = { state, ...(detail ? { detail } : {}), ...(action ? { action } : {}), since: Date.now() };
    const { log } = this.opts;
    if (state === 'failed') log.error(`slack: ${detail}; to fix: ${action}`);
    else if (state === 'reconnecting') log.warn(`slack: ${detail}`);
    else if (state === 'connected') log.info(`slack: connected (${this.opts.config.mode === 'socket' ? 'Socket Mode' : `HTTP events on ${(this.transport as SlackHttpEvents).url}`})`);
  }
}
