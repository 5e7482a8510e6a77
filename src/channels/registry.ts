import type { Channel } from './channel.ts';
import type { Config } from '../config/schema.ts';
import type { Secrets } from '../config/secrets.ts';
import type { Logger } from '../core/logger.ts';

/** The chat channels NanoClaw ships, by their name in `channels.<name>`. */
export const CHAT_CHANNEL_NAMES = ['telegram', 'slack', 'discord', 'whatsapp', 'email', 'gmail'] as const;
export type ChatChannelName = typeof CHAT_CHANNEL_NAMES[number];

/** What a chat channel's folder gives the one place that wires channels (app.ts) and the CLI. */
export interface ChatChannelModule<N extends ChatChannelName = ChatChannelName> {
  /** Builds the channel from its validated config section and the secrets; nothing connects before `start`. */
  createChannel(opts: { config: Config['channels'][N]; secrets: Secrets; log: Logger }): Channel;
  /** Asks the service whether the credentials work (`nanoclaw doctor`, `nanoclaw setup`): what is wrong, and how to fix it. */
  check(opts: { config: Config['channels'][N]; secrets: Secrets; signal?: AbortSignal }): Promise<CheckResult>;
  /** What `nanoclaw setup <name>` explains and asks for. */
  setup: SetupSpec;
}

export interface CheckResult { ok: boolean; detail: string; fix?: string }

export interface SetupSpec {
  /** The steps shown first: what to create where, which scopes or intents to give it. */
  intro: string[];
  /**
   * Secrets asked for (stored in secrets.json, mode 0600), each checked against
   * `pattern` before the service is asked; `when` limits one to some options
   * (asked first), e.g. a signing secret only in HTTP mode.
   */
  secrets: Array<{ name: string; prompt: string; pattern?: RegExp; hint?: string; when?: (options: Record<string, unknown>) => boolean }>;
  /** Options asked for, written under `channels.<name>` in config.json (`enabled` is set to true). */
  options?: Array<{ key: string; prompt: string; default?: string }>;
  /**
   * A linking step of the channel's own, run after the questions and before
   * the check: WhatsApp shows a QR code and waits for the phone, Gmail runs
   * the OAuth flow. It returns secrets to store with the others.
   */
  link?(ctx: SetupContext): Promise<Record<string, string> | void>;
}

/** What a channel's own set-up step gets. */
export interface SetupContext {
  /** The `channels.<name>` section as it will be saved (validated). */
  config: unknown;
  /** The secrets known so far (the environment and what was asked). */
  secrets: Secrets;
  /** NANOCLAW_HOME/channels/<name>, made 0700: for a session the channel keeps. */
  dataDir: string;
  /** Asks the person at the terminal (empty without a terminal). */
  ask(prompt: string, fallback?: string): Promise<string>;
  out: NodeJS.WritableStream;
  signal: AbortSignal;
}

/**
 * Each chat channel's module, imported only when asked for: a gateway with no
 * chat channel configured never loads grammY, the Slack SDK or discord.js.
 *
 *   const telegram = await loadChatChannel('telegram');
 */
export async function loadChatChannel<N extends ChatChannelName>(name: N): Promise<ChatChannelModule<N>> {
  switch (name) {
    case 'telegram': return (await import('./telegram/index.ts')).telegram as unknown as ChatChannelModule<N>;
    case 'slack': return (await import('./slack/index.ts')).slack as unknown as ChatChannelModule<N>;
    case 'discord': return (await import('./discord/index.ts')).discord as unknown as ChatChannelModule<N>;
    case 'whatsapp': return (await import('./whatsapp/index.ts')).whatsapp as unknown as ChatChannelModule<N>;
    case 'email': return (await import('./email/index.ts')).email as unknown as ChatChannelModule<N>;
    case 'gmail': return (await import('./gmail/index.ts')).gmail as unknown as ChatChannelModule<N>;
  }
  throw new Error(`no chat channel "${name}"; the chat channels are ${CHAT_CHANNEL_NAMES.join(', ')}`);
}

