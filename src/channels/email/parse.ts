import { simpleParser } from 'mailparser';

/** One mail as the channel needs it: who, which thread, the new text, the files. */
export interface InboundMail {
  /** The Message-ID, with its angle brackets: the clientId the core deduplicates by. */
  messageId: string;
  /** The thread's root Message-ID (first of References, else In-Reply-To, else its own). */
  threadRoot: string;
  /** The sender's address in lower case: the sender id owners and approvals name ("email:<address>"). */
  from: string;
  fromName?: string;
  /** Where a reply goes: Reply-To when given, else From. */
  replyTo: string;
  subject: string;
  /** References of this mail plus its own Message-ID: what a reply's References carries. */
  references: string[];
  /** Plain text (HTML converted), with the quoted history under it trimmed. */
  text: string;
  attachments: Array<{ name: string; data: Buffer }>;
  /** Auto-Submitted other than "no" (RFC 3834): never answered, so two robots cannot loop. */
  automatic: boolean;
}

/** Why a mail cannot be handled: logged and skipped, never answered. */
export class MalformedMailError extends Error {}

const ID = /<[^<>\s]+>/g;
const ids = (v: string | string[] | undefined): string[] => (Array.isArray(v) ? v.join(' ') : v ?? '').match(ID) ?? [];

/**
 * Reads a raw RFC 5322 message. A mail without a From address or a
 * Message-ID cannot be attributed or deduplicated, so it is refused.
 *
 *   const mail = await parseMail(source);
 *   host.receive({ chat: account, thread: mail.threadRoot }, { clientId: mail.messageId, sender: mail.from, text: mail.text });
 */
export async function parseMail(source: Buffer): Promise<InboundMail> {
  let parsed;
  try {
    parsed = await simpleParser(source, { skipImageLinks: true });
  } catch (err) {
    throw new MalformedMailError(`the mail could not be parsed: ${(err as Error).message}`, { cause: err });
  }
  const from = parsed.from?.value.find((a) => a.address)?.address?.trim().toLowerCase();
  if (!from || !/^[^\s@]+@[^\s@]+$/.test(from)) throw new MalformedMailError('the mail has no usable From address');
  const messageId = ids(parsed.messageId)[0];
  if (!messageId) throw new MalformedMailError(`the mail from ${from} has no Message-ID`);
  const references = ids(parsed.references);
  const inReplyTo = ids(parsed.inReplyTo)[0];
  const chain = references.length ? references : inReplyTo ? [inReplyTo] : [];
  const auto = String(parsed.headers.get('auto-submitted') ?? 'no').trim().toLowerCase();
  const body = parsed.text ?? '';
  return {
    messageId,
    threadRoot: chain[0] ?? messageId,
    from,
    fromName: parsed.from?.value[0]?.name || undefined,
    replyTo: parsed.replyTo?.value.find((a) => a.address)?.address?.trim() ?? from,
    subject: (parsed.subject ?? '').trim(),
    references: [...chain, messageId],
    text: trimQuoted(body),
    attachments: parsed.attachments
      .filter((a) => a.contentDisposition !== 'inline' || a.filename)
      .map((a, i) => ({ name: a.filename || `attachment-${i + 1}`, data: a.content })),
    automatic: auto !== 'no',
  };
}

/** The lines mail clients put above the history they quote. */
const QUOTE_HEADERS = [
  /^On .{1,300}wrote:\s*$/, // Gmail, Apple Mail, Thunderbird ("On Mon, 1 Dec 2026, Ann <a@x> wrote:")
  /^-{2,}\s*Original Message\s*-{2,}\s*$/i, // Outlook
  /^_{10,}\s*$/, // Outlook on the web, before "From: …"
  /^Am .{1,300} schrieb .{0,200}:\s*$/, // German clients
  /^Le .{1,300} a écrit\s*:\s*$/, // French clients
];

/**
 * The new part of a reply: everything above the quoted history (a quote
 * header such as "On … wrote:", or a run of "> " lines that reaches the end),
 * and without a trailing "-- " signature. Quoting inline ("> question" then
 * an answer) keeps the quotes, since they are part of what is said. A mail
 * that is only a quote stays whole.
 *
 *   trimQuoted('Yes.\n\nOn Mon, Ann wrote:\n> Lunch?') // 'Yes.'
 */
export function trimQuoted(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    // A header may wrap onto the next line ("On Mon, … Ann <a@x>\nwrote:").
    const joined = i + 1 < lines.length ? `${line} ${lines[i + 1].trim()}` : line;
    if (QUOTE_HEADERS.some((re) => re.test(line))) { end = i; break; }
    if (/^On .{1,300}$/.test(line) && /^On .{1,300}wrote:\s*$/.test(joined)) { end = i; break; }
    if (line === '--') { end = i; break; }
  }
  // A trailing block of quoted lines (and the blank lines around it).
  let tail = end;
  while (tail > 0 && (/^\s*>/.test(lines[tail - 1]) || lines[tail - 1].trim() === '')) tail--;
  if (lines.slice(tail, end).some((l) => /^\s*>/.test(l))) end = tail;
  const kept = lines.slice(0, end).join('\n').trim();
  return kept || text.trim();
}
