import type { ILogger } from './baileys-logger.ts';
import { downloadMediaMessage, type AnyMessageContent, type WAMessage, type WASocket } from 'baileys';

/**
 * The three things the channel asks of a connected WhatsApp socket. Kept this
 * small so the channel reads without Baileys' whole surface, and so a test
 * can record what would have gone out: WhatsApp's servers cannot be stood in
 * for (the handshake checks a pinned certificate key), so sending is tested
 * on the real socket object with these methods' targets replaced.
 *
 *   const link = socketLink(sock, logger);
 *   await link.sendMessage('15551234567@s.whatsapp.net', { text: 'hi' });
 */
export interface WhatsappLink {
  /** Sends one message; returns WhatsApp's id for it. */
  sendMessage(jid: string, content: AnyMessageContent): Promise<string | undefined>;
  /** Shows "typing…" ('composing') or clears it ('paused') in a chat. */
  sendPresence(jid: string, presence: 'composing' | 'paused'): Promise<void>;
  /** The decrypted bytes of an inbound image, document or voice note. */
  download(message: WAMessage): Promise<Buffer>;
}

/** The link over a real Baileys socket. */
export function socketLink(sock: WASocket, logger: ILogger): WhatsappLink {
  return {
    async sendMessage(jid, content) {
      const sent = await sock.sendMessage(jid, content);
      return sent?.key.id ?? undefined;
    },
    async sendPresence(jid, presence) {
      await sock.sendPresenceUpdate(presence, jid);
    },
    async download(message) {
      // An expired media URL is asked for again through the socket (reuploadRequest).
      return downloadMediaMessage(message, 'buffer', {}, { logger, reuploadRequest: sock.updateMediaMessage });
    },
  };
}
