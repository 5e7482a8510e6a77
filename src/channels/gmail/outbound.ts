import { readFile } from 'node:fs/promises';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { toDialect } from '../format/index.ts';
import type { OutboundFile } from '../channel.ts';
import type { ReplyContext } from './mailbox-state.ts';

/** Carries the stored outbound row's key on every reply. */
export const OUTBOUND_HEADER = 'X-NanoClaw-Outbound';

/**
 * The agent's answer as a reply in its thread (RFC 822, ready for
 * `messages.send` as base64url `raw`): "Re:" subject, In-Reply-To the
 * message answered and References the thread's chain, so every mail program
 * (not only Gmail, which also gets the threadId) files it in the thread.
 *
 *   const raw = await buildReply({ from: 'me@gmail.com', reply: state.thread(id)!, markdown: 'Done.', files: [] });
 *   await api.users.messages.send({ userId: 'me', requestBody: { raw: raw.toString('base64url'), threadId: id } });
 */
export async function buildReply(opts: { from: string; reply: ReplyContext; markdown: string; files: OutboundFile[]; mark?: string }): Promise<Buffer> {
  const { reply } = opts;
  const attachments = await Promise.all(opts.files.map(async (f) => ({ filename: f.name, content: await readFile(f.path) })));
  const mail = new MailComposer({
    from: opts.from,
    to: reply.to,
    subject: /^re:/i.test(reply.subject.trim()) ? reply.subject.trim() : `Re: ${reply.subject.trim()}`.trim(),
    inReplyTo: reply.messageId,
    references: reply.references.length ? reply.references : undefined,
    text: toDialect(opts.markdown, 'plain'),
    attachments,
    // Which stored reply this is: after a crash mid-send, `wasDelivered` looks for it in the thread.
    headers: opts.mark ? { [OUTBOUND_HEADER]: opts.mark } : undefined,
  });
  return mail.compile().build();
}

/**
 * A new mail, not a reply (RFC 822 for `messages.send` without a threadId,
 * so Gmail starts a thread): from the account to `to`, the agent's Markdown
 * as plain text.
 *
 *   const raw = await buildNewMail({ from: 'me@gmail.com', to: ['bob@example.com'], subject: 'Lunch', markdown: 'Friday?' });
 */
export async function buildNewMail(opts: { from: string; to: string[]; subject: string; markdown: string }): Promise<Buffer> {
  const mail = new MailComposer({ from: opts.from, to: opts.to, subject: opts.subject, text: toDialect(opts.markdown, 'plain') });
  return mail.compile().build();
}
