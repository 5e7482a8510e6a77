import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { attachmentRows, writeAttachmentFiles, type StoredAttachment } from './attachments.ts';
import { insertOutbound, outboundRow as outbound, type NewOutbound, type Outbound, type OutboundKind } from './outbox.ts';

export type { NewOutbound, Outbound, OutboundKind } from './outbox.ts';

/** What identifies a conversation: one container, one workspace, one session each. */
export interface ConversationKey {
  channel: string;
  chat: string;
  /** '' for chats without threads. */
  thread: string;
}

export interface Conversation extends ConversationKey {
  id: string;
  memory: boolean;
  sessionId: string | null;
  dataDir: string | null;
  createdAt: number;
  lastActiveAt: number;
  /** The owner's /model choice for this conversation, laid over the config's; null follows the config. */
  agentChoice: AgentOverride | null;
}

/** An engine and provider chain chosen for one conversation. */
export interface AgentOverride {
  engine?: 'claude' | 'builtin';
  providers?: string[];
}

export interface Inbound {
  id: number;
  conversationId: string;
  clientId: string | null;
  sender: string;
  /** The sender's display name, when the channel knows one. */
  senderName: string | null;
  text: string;
  status: 'pending' | 'done';
  receivedAt: number;
  /** Turns started for this message so far (a crash mid-turn counts too). */
  attempts: number;
  lastError: string | null;
  /** How a done message ended; null while pending. */
  outcome: 'answered' | 'failed' | null;
  /** Set when a scheduled task's run queued this message (src/tasks/), not a person. */
  taskId: number | null;
}

/**
 * The conversation a command-line argument names: a conversation id as
 * `nanoclaw status` prints it (`c-…`), or else the id of an HTTP API
 * conversation, as API clients know it.
 *
 *   conversationIdFromArgument('my-chat') // the id of api conversation "my-chat"
 */
export function conversationIdFromArgument(arg: string): string {
  return /^c-[0-9a-f]{20}$/.test(arg) ? arg : conversationId({ channel: 'api', chat: arg, thread: '' });
}

/** Stable, path-safe id for a conversation key. */
export function conversationId(key: ConversationKey): string {
  // NUL-joined for the ordinary case; a key that itself contains NUL is
  // encoded unambiguously instead, so two keys can never share an id.
  const fields = [key.channel, key.chat, key.thread];
  const material = fields.some((f) => f.includes('\0')) ? `\0\0\0${JSON.stringify(fields)}` : fields.join('\0');
  const hash = createHash('sha256').update(material).digest('hex');
  return `c-${hash.slice(0, 20)}`;
}

const conv = (r: any): Conversation => ({
  id: r.id, channel: r.channel, chat: r.chat, thread: r.thread, memory: !!r.memory,
  sessionId: r.session_id, dataDir: r.data_dir, createdAt: r.created_at, lastActiveAt: r.last_active_at,
  agentChoice: parseChoice(r.agent_choice),
});

/** A stored choice, or null for a missing or unreadable one (then the config applies). */
function parseChoice(json: string | null): AgentOverride | null {
  if (!json) return null;
  try {
    const v = JSON.parse(json);
    return v && typeof v === 'object' ? { engine: v.engine, providers: Array.isArray(v.providers) ? v.providers.map(String) : undefined } : null;
  } catch { return null; }
}
const inbound = (r: any): Inbound => ({
  id: r.id, conversationId: r.conversation_id, clientId: r.client_id, sender: r.sender, senderName: r.sender_name ?? null, text: r.text, taskId: r.task_id ?? null,
  status: r.status, receivedAt: r.received_at, attempts: r.attempts, lastError: r.last_error, outcome: r.outcome,
});
/**
 * The durable inbox and outbox. The rules the rest of the gateway relies on:
 * an inbound message is acknowledged only after `acceptInbound` returns; a
 * turn's replies and the inbound's `done` mark are written in one transaction
 * (`completeTurn`), so after a crash a message is either still pending (and is
 * run again) or has its replies stored (and they are sent, once).
 *
 *   const { message } = store.acceptInbound(conv.id, { sender: 'me', text: 'hi' });
 *   store.completeTurn(message.id, [{ kind: 'reply', text: 'hello' }]);
 */
export class Store {
  constructor(readonly db: Database.Database) {}

  /** Finds or creates the conversation for a key. */
  conversation(key: ConversationKey, memoryByDefault = false): Conversation {
    const id = conversationId(key);
    const now = Date.now();
    this.db.prepare(`INSERT INTO conversations (id, channel, chat, thread, memory, created_at, last_active_at)
      VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
      .run(id, key.channel, key.chat, key.thread, memoryByDefault ? 1 : 0, now, now);
    return this.getConversation(id)!;
  }

  getConversation(id: string): Conversation | undefined {
    const row = this.db.prepare('SELECT * FROM conversations WHERE id = ?').get(id);
    return row ? conv(row) : undefined;
  }

  listConversations(): Conversation[] {
    return this.db.prepare('SELECT * FROM conversations ORDER BY last_active_at DESC').all().map(conv);
  }

  updateConversation(id: string, patch: Partial<Pick<Conversation, 'memory' | 'sessionId' | 'dataDir' | 'agentChoice'>>): void {
    if ('agentChoice' in patch) this.db.prepare('UPDATE conversations SET agent_choice = ? WHERE id = ?').run(patch.agentChoice ? JSON.stringify(patch.agentChoice) : null, id);
    if ('memory' in patch) this.db.prepare('UPDATE conversations SET memory = ? WHERE id = ?').run(patch.memory ? 1 : 0, id);
    if ('sessionId' in patch) this.db.prepare('UPDATE conversations SET session_id = ? WHERE id = ?').run(patch.sessionId, id);
    if ('dataDir' in patch) this.db.prepare('UPDATE conversations SET data_dir = ? WHERE id = ?').run(patch.dataDir, id);
  }

  /**
   * Stores an inbound message. A repeated `clientId` in the same conversation
   * (a client retrying after a lost answer) returns the first message instead.
   */
  acceptInbound(conversationId: string, msg: { clientId?: string; sender: string; senderName?: string; text: string; attachments?: Array<{ name: string; data: Buffer; voice?: true }> }, opts: { attachmentRoot?: string } = {}): { message: Inbound; duplicate: boolean } {
    return this.db.transaction(() => {
      if (msg.clientId) {
        const existing = this.db.prepare('SELECT * FROM inbound WHERE conversation_id = ? AND client_id = ?').get(conversationId, msg.clientId);
        if (existing) return { message: inbound(existing), duplicate: true };
      }
      const now = Date.now();
      // Bounded like the protocol's name field; an empty name is no name.
      const senderName = msg.senderName?.trim().slice(0, 128) || null;
      const info = this.db.prepare('INSERT INTO inbound (conversation_id, client_id, sender, sender_name, text, received_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(conversationId, msg.clientId ?? null, msg.sender, senderName, msg.text, now);
      this.db.prepare('UPDATE conversations SET last_active_at = ? WHERE id = ?').run(now, conversationId);
      const files = msg.attachments ?? [];
      if (files.length && opts.attachmentRoot) {
        // Written and fsynced before this transaction commits: see store/attachments.ts.
        writeAttachmentFiles(opts.attachmentRoot, conversationId, Number(info.lastInsertRowid), files).forEach((a, i) => {
          this.db.prepare('INSERT INTO attachments (inbound_id, name, size, sha256, path, voice) VALUES (?, ?, ?, ?, ?, ?)').run(info.lastInsertRowid, a.name, a.size, a.sha256, a.path, files[i].voice ? 1 : 0);
        });
      } else {
        for (const a of files) {
          this.db.prepare('INSERT INTO attachments (inbound_id, name, data, size, voice) VALUES (?, ?, ?, ?, ?)').run(info.lastInsertRowid, a.name, a.data, a.data.length, a.voice ? 1 : 0);
        }
      }
      return { message: this.getInbound(Number(info.lastInsertRowid))!, duplicate: false };
    })();
  }

  getInbound(id: number): Inbound | undefined {
    const row = this.db.prepare('SELECT * FROM inbound WHERE id = ?').get(id);
    return row ? inbound(row) : undefined;
  }

  /**
   * Files that came with an inbound message (names as the sender gave them;
   * sanitise before use): stored files by path, older rows as BLOBs, and
   * files retention deleted by when and why.
   */
  attachmentsOf(inboundId: number): StoredAttachment[] {
    return attachmentRows(this.db, inboundId);
  }

  /** Every message still waiting for its turn, oldest first (run again after a restart). */
  pendingInbound(): Inbound[] {
    return this.db.prepare("SELECT * FROM inbound WHERE status = 'pending' ORDER BY id").all().map(inbound);
  }

  /** The oldest message of one conversation still waiting for its turn. */
  nextPending(conversationId: string): Inbound | undefined {
    const row = this.db.prepare("SELECT * FROM inbound WHERE conversation_id = ? AND status = 'pending' ORDER BY id LIMIT 1").get(conversationId);
    return row ? inbound(row) : undefined;
  }

  /**
   * Counts a turn starting for a message and returns the count. Written
   * before the turn runs, so a message whose turn crashes the gateway is
   * counted too and cannot be retried forever.
   */
  startAttempt(inboundId: number): number {
    const row = this.db.prepare("UPDATE inbound SET attempts = attempts + 1 WHERE id = ? AND status = 'pending' RETURNING attempts").get(inboundId) as { attempts: number } | undefined;
    return row?.attempts ?? 0;
  }

  /** Records why a message's turn failed; it stays pending for another attempt. */
  recordFailure(inboundId: number, error: string): void {
    this.db.prepare('UPDATE inbound SET last_error = ? WHERE id = ?').run(error.slice(0, 2000), inboundId);
  }

  /** Takes back an attempt that was cut short by a graceful stop (not the message's fault). */
  releaseAttempt(inboundId: number): void {
    this.db.prepare("UPDATE inbound SET attempts = MAX(attempts - 1, 0) WHERE id = ? AND status = 'pending'").run(inboundId);
  }

  /**
   * Stores a turn's replies and marks its inbound done, atomically. Returns
   * the new outbound rows. `outcome` says whether the message was answered or
   * given up as failed.
   */
  completeTurn(inboundId: number, replies: NewOutbound[], outcome: 'answered' | 'failed' = 'answered', attachmentRoot = ''): Outbound[] {
    return this.db.transaction(() => {
      const msg = this.getInbound(inboundId);
      if (!msg) throw new Error(`completeTurn: no inbound message ${inboundId}`);
      if (msg.status === 'done') return [];
      const now = Date.now();
      const ids = replies.map((r) => insertOutbound(this.db, attachmentRoot, msg.conversationId, inboundId, r, now));
      this.db.prepare("UPDATE inbound SET status = 'done', done_at = ?, outcome = ? WHERE id = ?").run(now, outcome, inboundId);
      return ids.map((id) => this.getOutbound(id)!);
    })();
  }

  /**
   * Conversations without persistent memory that still have a folder, have
   * been quiet since `before` (ms) and have nothing waiting to run:
   * candidates for the idle clean-up.
   */
  idleWorkspaces(before: number): string[] {
    return this.db.prepare(`SELECT id FROM conversations c WHERE memory = 0 AND data_dir IS NOT NULL AND last_active_at < ?
      AND NOT EXISTS (SELECT 1 FROM inbound i WHERE i.conversation_id = c.id AND i.status = 'pending')`)
      .all(before).map((r: any) => r.id);
  }

  /** Stores a message to the user that answers no inbound (for example an idle-timeout notice). */
  addNotice(conversationId: string, text: string): Outbound {
    const id = Number(this.db.prepare("INSERT INTO outbound (conversation_id, kind, text, created_at) VALUES (?, 'notice', ?, ?)")
      .run(conversationId, text, Date.now()).lastInsertRowid);
    return this.getOutbound(id)!;
  }

  getOutbound(id: number): Outbound | undefined {
    const row = this.db.prepare('SELECT * FROM outbound WHERE id = ?').get(id);
    return row ? outbound(row) : undefined;
  }

  outboundFor(inboundId: number): Outbound[] {
    return this.db.prepare('SELECT * FROM outbound WHERE inbound_id = ? ORDER BY id').all(inboundId).map(outbound);
  }

  pendingOutbound(): Outbound[] {
    return this.db.prepare("SELECT * FROM outbound WHERE state = 'pending' ORDER BY id").all().map(outbound);
  }

  markSent(outboundId: number): void {
    this.db.prepare("UPDATE outbound SET state = 'sent', sent_at = ? WHERE id = ? AND state IN ('pending', 'sending')").run(Date.now(), outboundId);
  }

  /** The conversation's messages in order, both directions. */
  history(conversationId: string, limit = 100): Array<{ direction: 'in' | 'out'; id: number; kind: string; text: string; at: number }> {
    return this.db.prepare(`SELECT * FROM (
        SELECT 'in' AS direction, id, 'message' AS kind, text, received_at AS at FROM inbound WHERE conversation_id = ?
        UNION ALL
        SELECT 'out', id, kind, text, created_at FROM outbound WHERE conversation_id = ?
      ) ORDER BY at DESC, direction DESC, id DESC LIMIT ?`).all(conversationId, conversationId, limit).reverse() as any;
  }

  recordContainer(name: string, conversationId: string | null, state: string): void {
    this.db.prepare(`INSERT INTO containers (name, conversation_id, state, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET conversation_id = excluded.conversation_id, state = excluded.state`)
      .run(name, conversationId, state, Date.now());
  }

  endContainer(name: string, reason: string): void {
    this.db.prepare("UPDATE containers SET state = 'ended', ended_at = ?, end_reason = ? WHERE name = ? AND ended_at IS NULL")
      .run(Date.now(), reason, name);
  }

  liveContainers(): Array<{ name: string; conversationId: string | null; state: string; createdAt: number }> {
    return this.db.prepare("SELECT name, conversation_id AS conversationId, state, created_at AS createdAt FROM containers WHERE ended_at IS NULL").all() as any;
  }

  /**
   * Adds one metered model call to its conversation's row for today (UTC),
   * with its cost priced when it was made, and to the row of its provider and
   * model (`usage_models`, what the dashboard's charts split by).
   */
  addUsage(conversationId: string, u: UsageTokens & { provider?: string; model?: string }, costUsd: number): void {
    const day = new Date().toISOString().slice(0, 10);
    const sums = `requests = requests + 1,
        input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cost_usd = cost_usd + excluded.cost_usd`;
    const tokens = [u.inputTokens, u.outputTokens, u.cacheWriteTokens, u.cacheReadTokens, costUsd];
    this.db.transaction(() => {
      this.db.prepare(`INSERT INTO usage (conversation_id, day, requests, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd)
        VALUES (?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT (conversation_id, day) DO UPDATE SET ${sums}`)
        .run(conversationId, day, ...tokens);
      this.db.prepare(`INSERT INTO usage_models (conversation_id, day, provider, model, requests, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd)
        VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT (day, conversation_id, provider, model) DO UPDATE SET ${sums}`)
        .run(conversationId, day, (u.provider ?? '').slice(0, 100), (u.model ?? '').slice(0, 200), ...tokens);
    })();
  }

  /**
   * Today's (UTC) usage of one conversation, or of all when no id is given.
   * Asked before every model call: the first form reads one row by primary
   * key, the second today's rows through `usage_by_day`, never the whole table.
   */
  usageToday(conversationId?: string): UsageTotals {
    const day = new Date().toISOString().slice(0, 10);
    const where = conversationId ? 'AND conversation_id = ?' : '';
    const args = conversationId ? [day, conversationId] : [day];
    return this.db.prepare(`SELECT ${USAGE_SUMS} FROM usage WHERE day = ? ${where}`).get(...args) as UsageTotals;
  }

  /** All-time usage of one conversation. */
  usage(conversationId: string): UsageTotals {
    return this.db.prepare(`SELECT ${USAGE_SUMS} FROM usage WHERE conversation_id = ?`).get(conversationId) as UsageTotals;
  }
}

/** A model call's tokens by kind, as the credential proxy metered them. */
export interface UsageTokens {
  inputTokens: number;
  outputTokens: number;
  cacheWriteTokens: number;
  cacheReadTokens: number;
}

/** Summed usage: model calls, tokens by kind and the estimated cost in USD. */
export interface UsageTotals extends UsageTokens {
  requests: number;
  costUsd: number;
}

const USAGE_SUMS = `COALESCE(SUM(requests), 0) AS requests, COALESCE(SUM(input_tokens), 0) AS inputTokens,
  COALESCE(SUM(output_tokens), 0) AS outputTokens, COALESCE(SUM(cache_write_tokens), 0) AS cacheWriteTokens,
  COALESCE(SUM(cache_read_tokens), 0) AS cacheReadTokens, COALESCE(SUM(cost_usd), 0) AS costUsd`;
