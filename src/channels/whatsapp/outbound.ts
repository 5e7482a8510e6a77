import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { AnyMessageContent } from 'baileys';
import { DeliveryError, type OutboundFile, type OutboundPayload, type SendResult } from '../channel.ts';
import { formatForChannel } from '../format/index.ts';
import type { WhatsappLink } from './link.ts';

/**
 * WhatsApp takes about 65 000 characters in one message, but a wall of text
 * that long is unreadable on a phone and the Cloud API caps at 4096: replies
 * are split at 4000.
 */
export const MAX_MESSAGE = 4000;
/** WhatsApp's document limit (images and audio are smaller, 5 and 16 MB, and fall back to documents). */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

const IMAGES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp' };
const AUDIO: Record<string, string> = { '.ogg': 'audio/ogg; codecs=opus', '.opus': 'audio/ogg; codecs=opus', '.mp3': 'audio/mpeg', '.m4a': 'audio/mp4' };

/**
 * Sends one outbound payload: text parts (WhatsApp markers, split at
 * MAX_MESSAGE), then each file (an image as a photo, audio as an audio
 * message, anything else as a document with its name). Buttons are not
 * sent: WhatsApp's interactive messages are not available to linked devices,
 * so the core lists the choices in the text. `resumeAt` skips parts an
 * earlier attempt delivered.
 *
 *   const { platformIds } = await sendPayload(link, '15551234567@s.whatsapp.net', payload, remember);
 */
export async function sendPayload(link: WhatsappLink, jid: string, payload: OutboundPayload, remember: (id: string) => void): Promise<SendResult> {
  const parts: Array<() => Promise<AnyMessageContent>> = [];
  const text = payload.text.trim() ? formatForChannel(payload.text, 'whatsapp', { maxLength: MAX_MESSAGE }) : [];
  for (const t of text) parts.push(async () => ({ text: t }));
  for (const f of payload.files) parts.push(() => fileContent(f));
  const delivered: string[] = [];
  for (const part of parts.slice(payload.resumeAt ?? 0)) {
    let id: string | undefined;
    try {
      id = await link.sendMessage(jid, await part());
    } catch (err) {
      throw deliveryError(err, delivered);
    }
    if (id) remember(id);
    delivered.push(id ?? '');
  }
  return { platformIds: delivered.filter(Boolean) };
}

async function fileContent(file: OutboundFile): Promise<AnyMessageContent> {
  if (file.size > MAX_UPLOAD_BYTES) throw new DeliveryError('permanent', `${file.name} is ${file.size} bytes; WhatsApp takes files up to ${MAX_UPLOAD_BYTES} bytes`);
  const data = await readFile(file.path);
  const ext = extname(file.name).toLowerCase();
  if (IMAGES[ext] && data.length <= 5 * 1024 * 1024) return { image: data, mimetype: IMAGES[ext] };
  if (AUDIO[ext] && data.length <= 16 * 1024 * 1024) return { audio: data, mimetype: AUDIO[ext], ptt: ext === '.ogg' || ext === '.opus' };
  return { document: data, fileName: file.name, mimetype: 'application/octet-stream' };
}

/**
 * Baileys fails with Boom errors: 4xx other than 408/429 are refusals no
 * retry changes (a jid that is not on WhatsApp, a group the account left);
 * everything else (the connection closed, a timeout) is worth another try
 * once the socket is back.
 */
export function deliveryError(err: unknown, delivered: string[] = []): DeliveryError {
  if (err instanceof DeliveryError) return new DeliveryError(err.kind, err.message, { cause: err, delivered, retryAfterMs: err.retryAfterMs });
  const status = statusOf(err);
  const message = `WhatsApp refused the message${status ? ` (${status})` : ''}: ${(err as Error)?.message ?? String(err)}`;
  if (status && status >= 400 && status < 500 && status !== 408 && status !== 428 && status !== 429) return new DeliveryError('permanent', message, { cause: err, delivered });
  return new DeliveryError('transient', message, { cause: err, delivered, retryAfterMs: status === 429 ? 30_000 : undefined });
}

/** The status code of a Baileys (Boom) error, if it has one. */
export function statusOf(err: unknown): number | undefined {
  const output = (err as { output?: { statusCode?: unknown } } | undefined)?.output;
  return typeof output?.statusCode === 'number' ? output.statusCode : undefined;
}
