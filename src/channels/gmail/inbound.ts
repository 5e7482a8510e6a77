import { simpleParser } from 'mailparser';

/** One received mail as the channel needs it, from its raw RFC 822 form. */
export interface ParsedMessage {
  /** The From address, lower-cased: the sender id (`gmail:<address>` in access.owners). */
  from: string;
  fromName?: string;
  subject: string;
  messageId?: string;
  references: string[];
  /** The body as plain text (HTML converted), the quoted history below it trimmed. */
  text: string;
  attachments: Array<{ name: string; data: Buffer }>;
  /** Gmail's own Authentication-Results says DMARC failed: the From address is forged. */
  forged: boolean;
}

/** Longest text handed on; a longer mail is cut with a note (the agent reads mail, not books). */
const MAX_TEXT_CHARS = 50_000;

/**
 * Parses a raw message (`messages.get` with `format: 'raw'`) with mailparser:
 * HTML-only mail is converted to text, inline images are left out, the
 * quoted earlier mail under "On ... wrote:" is trimmed.
 *
 *   const mail = await parseMessage(Buffer.from(res.data.raw!, 'base64url'));
 *   host.receive({ chat, thread }, { sender: mail.from, text: mail.text });
 */
export async function parseMessage(raw: Buffer): Promise<ParsedMessage> {
  const parsed = await simpleParser(raw, { skipImageLinks: true, skipTextToHtml: true });
  const from = parsed.from?.value[0];
  const refs = parsed.references === undefined ? [] : Array.isArray(parsed.references) ? parsed.references : parsed.references.split(/\s+/);
  let text = withoutQuotedHistory(parsed.text ?? '').trim();
  if (text.length > MAX_TEXT_CHARS) text = `${text.slice(0, MAX_TEXT_CHARS)}\n[the rest of this mail, ${text.length - MAX_TEXT_CHARS} characters, was left out]`;
  return {
    from: (from?.address ?? '').trim().toLowerCase(),
    fromName: from?.name || undefined,
    subject: parsed.subject ?? '',
    messageId: parsed.messageId,
    references: refs.filter(Boolean),
    text,
    attachments: parsed.attachments
      .filter((a) => !a.related)
      .map((a, i) => ({ name: a.filename || `attachment-${i + 1}`, data: a.content })),
    forged: dmarcFailed(parsed.headers.get('authentication-results')),
  };
}

/**
 * Gmail records its verdict in Authentication-Results (added by mx.google.com
 * on receipt, so the sender cannot pre-set the first one). A DMARC failure
 * means the From domain did not send it: such mail never triggers the agent.
 */
function dmarcFailed(header: unknown): boolean {
  const first = Array.isArray(header) ? header[0] : header;
  return typeof first === 'string' && /\bdmarc=fail\b/i.test(first);
}

/** The reply above the quoted mail: cut at "On <date>, <someone> wrote:" or a trailing block of "> " lines. */
export function withoutQuotedHistory(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const wrote = lines.findIndex((l, i) => /^On .+wrote:\s*$/.test(l) || (/^On .+/.test(l) && /wrote:\s*$/.test(lines[i + 1] ?? '')));
  let end = wrote >= 0 ? wrote : lines.length;
  while (end > 0 && (/^>/.test(lines[end - 1]) || lines[end - 1].trim() === '')) end--;
  return end > 0 ? lines.slice(0, end).join('\n') : text;
}
