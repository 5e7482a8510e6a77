import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a reply in one thread needs from the last mail in it. */
export interface ThreadReplyTo {
  /** The address the reply goes to (the last sender's Reply-To or From). */
  to: string;
  /** The thread's subject, without any "Re: ". */
  subject: string;
  /** The Message-ID the reply answers (In-Reply-To). */
  inReplyTo: string;
  /** The References chain, oldest first, ending with `inReplyTo`. */
  references: string[];
}

/** References kept per thread: the root and the newest ones (RFC 5322 lets a long chain be shortened this way). */
const MAX_REFERENCES = 20;

/**
 * The reply context of each thread, by its root Message-ID, kept in the
 * channel's data folder: a reply the delivery worker sends after a restart
 * still carries the right In-Reply-To and References.
 *
 *   threads.remember(mail.threadRoot, { to: mail.replyTo, subject, inReplyTo: mail.messageId, references });
 *   const ctx = threads.get(conversation.thread);
 */
export class ThreadStore {
  private readonly file: string | undefined;
  private readonly threads: Map<string, ThreadReplyTo>;

  constructor(dataDir: string | undefined) {
    this.file = dataDir ? join(dataDir, 'threads.json') : undefined;
    this.threads = new Map(this.file && existsSync(this.file) ? Object.entries(JSON.parse(readFileSync(this.file, 'utf8'))) : []);
  }

  get(root: string): ThreadReplyTo | undefined { return this.threads.get(root); }

  remember(root: string, ctx: ThreadReplyTo): void {
    const refs = ctx.references.length > MAX_REFERENCES ? [ctx.references[0], ...ctx.references.slice(-(MAX_REFERENCES - 1))] : ctx.references;
    this.threads.set(root, { ...ctx, subject: stripRe(ctx.subject), references: refs });
    this.save();
  }

  /** After our own reply: the next reply in the thread answers it, so the chain stays whole. */
  replied(root: string, messageId: string): void {
    const ctx = this.threads.get(root);
    if (ctx) this.remember(root, { ...ctx, inReplyTo: messageId, references: [...ctx.references, messageId] });
  }

  private save(): void {
    if (!this.file) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.threads)), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

/** "Re: Re: Fwd: x" → "Fwd: x": a reply's subject is then "Re: " once. */
export function stripRe(subject: string): string {
  return subject.replace(/^(\s*(re|aw|sv)\s*(\[\d+\])?\s*:\s*)+/i, '').trim();
}
