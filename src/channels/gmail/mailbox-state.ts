import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a reply in a thread needs: the address it goes to and the headers that keep it in the thread. */
export interface ReplyContext {
  /** The allowed sender the last message came from (never a Reply-To: the checked address is the one answered). */
  to: string;
  subject: string;
  /** Message-ID of the message answered (In-Reply-To). */
  messageId?: string;
  /** Its References plus its Message-ID. */
  references: string[];
  at: number;
}

interface Saved { historyId?: string; since?: number; seen: string[]; threads: Record<string, ReplyContext> }

/** Message ids remembered so a resync does not audit or pass the same mail twice. */
const SEEN_KEPT = 1000;
/** Threads remembered for replies; the oldest are forgotten first. */
const THREADS_KEPT = 2000;

/**
 * Where the channel is in the mailbox, kept in its data dir
 * (`NANOCLAW_HOME/channels/gmail/mailbox.json`, 0600): the history id the
 * next poll starts from, the message ids already handled, and each thread's
 * reply headers (so a reply after a restart still lands in its thread).
 *
 *   const state = MailboxState.load(host.dataDir);
 *   state.historyId = '1234'; state.save();
 */
export class MailboxState {
  private constructor(private readonly file: string, private data: Saved) {}

  static load(dataDir: string): MailboxState {
    const file = join(dataDir, 'mailbox.json');
    let data: Saved = { seen: [], threads: {} };
    if (existsSync(file)) {
      try {
        const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<Saved>;
        data = { historyId: typeof raw.historyId === 'string' ? raw.historyId : undefined, since: typeof raw.since === 'number' ? raw.since : undefined, seen: Array.isArray(raw.seen) ? raw.seen : [], threads: raw.threads ?? {} };
      } catch {
        // A damaged file costs a resync from the current position, nothing more.
      }
    }
    return new MailboxState(file, data);
  }

  get historyId(): string | undefined { return this.data.historyId; }
  set historyId(id: string | undefined) { this.data.historyId = id; }

  /** When the channel first read this mailbox (ms): older mail is never handed on, even by a resync. */
  get since(): number { return this.data.since ?? 0; }
  set since(ms: number) { this.data.since = ms; }

  hasSeen(messageId: string): boolean { return this.data.seen.includes(messageId); }

  markSeen(messageId: string): void {
    this.data.seen.push(messageId);
    if (this.data.seen.length > SEEN_KEPT) this.data.seen.splice(0, this.data.seen.length - SEEN_KEPT);
  }

  thread(threadId: string): ReplyContext | undefined { return this.data.threads[threadId]; }

  setThread(threadId: string, ctx: ReplyContext): void {
    this.data.threads[threadId] = ctx;
    const ids = Object.keys(this.data.threads);
    if (ids.length > THREADS_KEPT) {
      ids.sort((a, b) => this.data.threads[a].at - this.data.threads[b].at);
      for (const id of ids.slice(0, ids.length - THREADS_KEPT)) delete this.data.threads[id];
    }
  }

  /** Written whole to a temporary file and renamed over the old one: a crash leaves one or the other. */
  save(): void {
    writeFileSync(`${this.file}.tmp`, JSON.stringify(this.data), { mode: 0o600 });
    renameSync(`${this.file}.tmp`, this.file);
  }
}
