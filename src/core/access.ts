import type { Config } from '../config/schema.ts';
import type { SenderStore } from '../store/senders.ts';

/** What a channel says about an inbound message besides its text. */
export interface MessageContext {
  /** A group chat (several people) rather than a direct chat with the agent. */
  isGroup?: boolean;
  /** The channel saw an explicit mention of the agent (for example @bot). */
  mentioned?: boolean;
  /**
   * The channel never answers a stranger (email: a reply to an unknown
   * address is a spam and phishing vector): a direct message from a sender
   * who is neither an owner nor approved is ignored, not sent a pairing code.
   */
  ignoreStrangers?: boolean;
}

export type AccessDecision =
  | { kind: 'allow'; owner: boolean }
  | { kind: 'ignore'; reason: string }
  | { kind: 'pair'; code: string; fresh: boolean };

/**
 * Who may trigger the agent. Channels that authenticate the person
 * themselves (the terminal socket, the HTTP API's token) are trusted: their
 * sender is the owner. On other channels:
 * - a direct chat from an approved sender is allowed; an unknown sender gets
 *   a pairing code and nothing reaches a container (on a channel that never
 *   answers strangers, `ignoreStrangers`, the message is only ignored);
 * - a group chat is answered only if the group is allowed in the config and
 *   the message mentions the agent or starts with its trigger word.
 * Owner rights come from `access.owners` (channel:sender), never from the chat.
 *
 *   const d = access.check({ name: 'telegram', trusted: false }, '12345', 'hi', {});
 *   if (d.kind === 'pair') reply(`Ask the owner to approve ${d.code}`);
 */
export class AccessPolicy {
  private readonly trigger: RegExp;

  constructor(private readonly config: Config['access'], private readonly senders: SenderStore) {
    this.trigger = new RegExp(`^\\s*@?${config.triggerWord}\\b`, 'i');
  }

  isOwner(channel: { name: string; trusted: boolean }, sender: string): boolean {
    return channel.trusted || this.config.owners.includes(`${channel.name}:${sender}`);
  }

  /**
   * The conversations where the owner reads what the gateway has to tell
   * them (a reply to someone else that could not be delivered): the terminal
   * chat, and the direct chats of the senders in access.owners (a chat with
   * the owner's own id; threads are left out).
   */
  ownerConversations<C extends { channel: string; chat: string; thread: string }>(conversations: C[]): C[] {
    return conversations.filter((c) => c.thread === '' && (c.channel === 'terminal' || this.config.owners.includes(`${c.channel}:${c.chat}`)));
  }

  check(channel: { name: string; trusted: boolean }, chat: string, sender: string, text: string, ctx: MessageContext = {}): AccessDecision {
    const owner = this.isOwner(channel, sender);
    if (ctx.isGroup) {
      if (!channel.trusted && !this.config.groups.includes(`${channel.name}:${chat}`)) return { kind: 'ignore', reason: 'group not allowed' };
      if (!ctx.mentioned && !this.trigger.test(text)) return { kind: 'ignore', reason: 'not addressed to the agent' };
      return { kind: 'allow', owner };
    }
    if (owner || this.senders.isApproved(channel.name, sender)) return { kind: 'allow', owner };
    if (ctx.ignoreStrangers) return { kind: 'ignore', reason: 'sender not approved' };
    const pairing = this.senders.requestPairing(channel.name, sender);
    return { kind: 'pair', code: pairing.code!, fresh: pairing.fresh };
  }
}
