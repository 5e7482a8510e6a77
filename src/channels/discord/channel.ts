import { REST } from 'discord.js';
import type { Channel, ChannelCapabilities, ChannelHealth, ChannelHost, OutboundPayload, SendResult } from '../channel.ts';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../core/logger.ts';
import type { Conversation } from '../../store/store.ts';
import { DiscordAnswers } from './answers.ts';
import { DiscordConnection } from './connection.ts';
import { DiscordInbound } from './inbound.ts';
import { DISCORD_MAX_CHARS, DiscordOutbound } from './outbound.ts';

/**
 * The Discord bot: direct messages, server channels and their threads.
 * The gateway websocket (discord.js, outbound only, so it works behind NAT)
 * brings messages and button taps in; replies go out over REST with their
 * own client, so sending goes on while the gateway reconnects.
 * Conversations: a DM or a server channel is `chat` = its channel id; a
 * thread is `chat` = its parent channel, `thread` = the thread's id.
 *
 *   const channel = new DiscordChannel({ config: config.channels.discord, token, log });
 *   gateway.addChannel(channel); // start() logs in; health() says how the connection is
 */
export class DiscordChannel implements Channel {
  readonly name = 'discord';
  /** Discord users are not the owner by being on Discord: DMs go through pairing, servers through `access.groups`. */
  readonly trusted = false;
  readonly capabilities: ChannelCapabilities;
  private host?: ChannelHost;
  private readonly rest: REST;
  private readonly connection: DiscordConnection;
  private readonly outbound: DiscordOutbound;

  constructor(opts: { config: Config['channels']['discord']; token: string | undefined; log: Logger }) {
    const { config, token, log } = opts;
    this.capabilities = {
      maxMessageLength: DISCORD_MAX_CHARS, dialect: 'discord',
      files: { in: true, out: true, maxOutBytes: config.maxUploadBytes },
      buttons: true,
      // Discord shows "typing…" for about 10 s, or until the bot's next message.
      typing: { lastsMs: 10_000 },
      // Message edits share a per-channel bucket (about 5 per 5 s): one every 1.5 s leaves room for replies.
      edits: { minIntervalMs: 1500 },
      threads: true, reactions: false,
    };
    this.rest = new REST({
      api: config.apiBaseUrl,
      // Short waits are taken inside discord.js; a long one goes back to the delivery queue, which retries after it.
      rejectOnRateLimit: (limit) => limit.retryAfter > config.rateLimitWaitMs,
    });
    if (token) this.rest.setToken(token.replace(/^Bot\s+/i, ''));
    this.outbound = new DiscordOutbound(this.rest);
    const inbound = new DiscordInbound({
      host: () => this.host,
      botId: () => this.connection.botId,
      notice: (channelId, text, replyTo) => this.outbound.notice(channelId, text, replyTo),
    });
    const answers = new DiscordAnswers({ host: () => this.host, rest: this.rest, choices: this.outbound.choices });
    this.connection = new DiscordConnection({
      token, apiBaseUrl: config.apiBaseUrl, stallTimeoutMs: config.stallTimeoutMs, log,
      onMessage: (m) => void inbound.handle(m),
      onInteraction: (i) => void answers.handle(i),
    });
  }

  async start(host: ChannelHost): Promise<void> {
    this.host = host;
    await this.connection.start();
  }

  health(): ChannelHealth { return this.connection.health(); }

  send(conversation: Conversation, message: OutboundPayload): Promise<SendResult> {
    return this.outbound.send(conversation, message);
  }

  edit(conversation: Conversation, platformId: string, text: string): Promise<void> {
    return this.outbound.edit(conversation, platformId, text);
  }

  remove(conversation: Conversation, platformId: string): Promise<void> {
    return this.outbound.remove(conversation, platformId);
  }

  typing(conversation: Conversation): Promise<void> {
    return this.outbound.typing(conversation);
  }

  async stop(): Promise<void> {
    await this.connection.stop();
    this.rest.clearHashSweeper();
    this.rest.clearHandlerSweeper();
  }
}
