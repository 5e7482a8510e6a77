import { rm } from 'node:fs/promises';
import { DisconnectReason, makeWASocket, type WASocket } from 'baileys';
import QRCode from 'qrcode';
import { AuthStore } from './auth-store.ts';
import { baileysLogger } from './baileys-logger.ts';
import type { SocketFactory } from './connection.ts';
import { statusOf } from './outbound.ts';

export interface LinkOptions {
  /** The session folder (sessionDir of the channel's data dir); replaced by the new link. */
  dir: string;
  url: string;
  /** Digits with the country code for a pairing code; empty for a QR code. */
  phone: string;
  out: NodeJS.WritableStream;
  signal: AbortSignal;
  makeSocket?: SocketFactory;
  log?: { debug(msg: string): void; warn(msg: string): void };
}

/**
 * Links this machine as a device of the user's WhatsApp account: shows the
 * QR code WhatsApp offers (or asks for a pairing code for `phone`), waits for
 * the phone to confirm, follows the one restart WhatsApp asks for after
 * pairing (515), and returns once the connection opened with the new keys,
 * which are then in `dir` (see AuthStore). A session already there is
 * replaced: it is either dead or the user chose to link again.
 *
 *   const me = await linkDevice({ dir, url: config.apiBaseUrl, phone: '', out: process.stdout, signal });
 */
export async function linkDevice(opts: LinkOptions): Promise<string> {
  await rm(opts.dir, { recursive: true, force: true });
  const store = await AuthStore.open(opts.dir);
  const make = opts.makeSocket ?? makeWASocket;
  const log = opts.log ?? { debug: () => {}, warn: () => {} };
  let sock: WASocket | undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      const abort = () => reject(new Error('linking was cancelled or took too long (10 minutes); run `nanoclaw setup whatsapp` again'));
      if (opts.signal.aborted) return abort();
      opts.signal.addEventListener('abort', abort, { once: true });
      let codeAsked = false;
      const open = () => {
        const s = make({
          auth: store.state, waWebSocketUrl: opts.url, logger: baileysLogger(log),
          shouldSyncHistoryMessage: () => false, markOnlineOnConnect: false, printQRInTerminal: false,
        });
        sock = s;
        s.ev.on('creds.update', () => { void store.saveCreds(); });
        s.ev.on('connection.update', async (u) => {
          if (s !== sock) return;
          try {
            if (u.qr && opts.phone && !codeAsked) {
              codeAsked = true;
              const code = await s.requestPairingCode(opts.phone);
              opts.out.write(`\nOn your phone: WhatsApp, Settings, Linked devices, Link a device, "Link with phone number instead", and enter:\n\n    ${code}\n\n`);
            } else if (u.qr && !opts.phone) {
              opts.out.write(`\nOn your phone: WhatsApp, Settings, Linked devices, Link a device, and scan this code (a new one comes every 20 s):\n\n${await QRCode.toString(u.qr, { type: 'terminal', small: true })}\n`);
            }
            if (u.connection === 'open') {
              await store.saveCreds();
              resolve(store.me ?? 'the linked account');
            } else if (u.connection === 'close') {
              const code = statusOf(u.lastDisconnect?.error);
              if (code === DisconnectReason.restartRequired) return open(); // the normal restart right after pairing
              reject(new Error(code === DisconnectReason.timedOut
                ? 'no QR code was scanned in time; run `nanoclaw setup whatsapp` again and scan it within a minute'
                : `WhatsApp closed the connection while linking (${u.lastDisconnect?.error?.message ?? 'closed'}${code ? `, ${code}` : ''}); run \`nanoclaw setup whatsapp\` again`));
            }
          } catch (err) {
            reject(new Error(`linking failed: ${(err as Error).message}; run \`nanoclaw setup whatsapp\` again`, { cause: err }));
          }
        });
      };
      open();
    });
  } finally {
    const s = sock;
    sock = undefined;
    await s?.end(undefined).catch(() => {});
  }
}
