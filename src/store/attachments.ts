import { createHash } from 'node:crypto';
import { closeSync, constants, fsyncSync, mkdirSync, openSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { Config } from '../config/schema.ts';
import { AttachmentError, safeFileName } from '../inbox/attachments.ts';

/**
 * The host-side file store of inbound attachments:
 * `$NANOCLAW_HOME/attachments/<conversation>/<message>/<n>-<safe name>`.
 * Only the gateway writes here; no container mounts it. A message's files are
 * written and fsynced (file and folders) inside the transaction that stores
 * the message, before its rows are committed, so a row never points at a
 * file that a crash could lose; a crash before the commit leaves at most an
 * unreferenced folder, which the next message given that id replaces.
 * Retention deletes the files after `attachments.retentionDays`; the rows keep
 * the name, size and sha256 and say when and why the file went.
 *
 *   const rows = writeAttachmentFiles(layout.attachments, conv.id, inboundId, files);
 *   sweepAttachments(db, layout.attachments, 30);
 */

/** An attachment row as the turn needs it; `data` is set only for rows stored before the file store (BLOBs). */
export interface StoredAttachment {
  id: number;
  inboundId: number;
  name: string;
  size: number;
  sha256: string | null;
  /** Relative to the attachments folder; null for BLOB rows. */
  path: string | null;
  data: Buffer | null;
  removedAt: number | null;
  removedReason: string | null;
  /** A voice note, as its channel marked it (InboundMessage.attachments[].voice). */
  voice: boolean;
}

/** The per-attachment limit of a channel: its override, else attachments.maxBytes. */
export function attachmentLimit(config: Config, channel: string): number {
  return config.attachments.maxBytesByChannel[channel] ?? config.attachments.maxBytes;
}

/** Refuses, before anything is written, a message with a file over the channel's limit. */
export function checkAttachmentSizes(files: Array<{ name: string; data: Buffer }>, maxBytes: number, channel: string): void {
  for (const f of files) {
    if (f.data.length > maxBytes) {
      throw new AttachmentError('too_large', `The attachment "${String(f.name).slice(0, 100)}" is ${f.data.length} bytes, over the ${channel} channel's limit of ${maxBytes} bytes (attachments.maxBytes); the message was not stored. Send a smaller file, or raise the limit.`);
    }
  }
}

/**
 * Writes a message's files into its own new folder (`folder`: the inbound
 * message's id, or `out-<id>` for an outbound one) and returns what each row
 * records. Each file is created with O_EXCL | O_NOFOLLOW and fsynced, then the
 * folders that gained an entry are fsynced, so the files are as durable as the
 * row that is committed after this returns.
 */
export function writeAttachmentFiles(root: string, conversationId: string, folder: number | string, files: Array<{ name: string; data: Buffer }>): Array<{ name: string; size: number; sha256: string; path: string }> {
  if (!/^[A-Za-z0-9-]+$/.test(conversationId)) throw new AttachmentError('failed', `Conversation id "${conversationId}" cannot name a folder.`);
  if (!/^[A-Za-z0-9-]+$/.test(String(folder))) throw new AttachmentError('failed', `"${folder}" cannot name a folder.`);
  const convDir = join(root, conversationId);
  const dir = join(convDir, String(folder));
  mkdirSync(convDir, { recursive: true, mode: 0o700 });
  // A folder already there belongs to a message whose transaction was rolled
  // back (SQLite then hands out its id again): no committed row names it.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  const out = files.map((f, i) => {
    const name = `${i + 1}-${safeFileName(f.name)}`;
    const path = join(dir, name);
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    } catch (err) {
      throw new AttachmentError('failed', `Cannot store the attachment "${String(f.name).slice(0, 100)}" at ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      for (let off = 0; off < f.data.length;) off += writeSync(fd, f.data, off, f.data.length - off);
      fsyncSync(fd);
    } catch (err) {
      throw new AttachmentError('failed', `Cannot store the attachment "${String(f.name).slice(0, 100)}" at ${path} (disk full?): ${(err as Error).message}`, { cause: err });
    } finally {
      closeSync(fd);
    }
    return { name: f.name, size: f.data.length, sha256: createHash('sha256').update(f.data).digest('hex'), path: `${conversationId}/${folder}/${name}` };
  });
  for (const d of [dir, convDir, root]) syncDir(d);
  return out;
}

function syncDir(path: string): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** Rows as StoredAttachment. */
export function attachmentRows(db: Database.Database, inboundId: number): StoredAttachment[] {
  return db.prepare('SELECT * FROM attachments WHERE inbound_id = ? ORDER BY id').all(inboundId).map((r: any) => ({
    id: r.id, inboundId: r.inbound_id, name: r.name, size: r.size ?? r.data?.length ?? 0, sha256: r.sha256, path: r.path,
    data: r.data, removedAt: r.removed_at, removedReason: r.removed_reason, voice: r.voice === 1,
  }));
}

/** What writeInbox copies for each row: the stored file, the old BLOB, or why it is gone. */
export function inboxFiles(rows: StoredAttachment[], root: string): Array<{ name: string; size: number; data?: Buffer; source?: string; removed?: string }> {
  return rows.map((r) => {
    if (r.removedAt !== null) return { name: r.name, size: r.size, removed: `it was deleted on ${new Date(r.removedAt).toISOString().slice(0, 10)} (${r.removedReason ?? 'removed'})` };
    if (r.path) return { name: r.name, size: r.size, source: join(root, r.path) };
    return { name: r.name, size: r.size, data: r.data ?? Buffer.alloc(0) };
  });
}

/**
 * Deletes the files (and BLOBs) of answered messages older than
 * `retentionDays` and marks their rows; returns how many went. 0 days keeps
 * everything. A message still waiting for its turn keeps its files.
 */
export function sweepAttachments(db: Database.Database, root: string, retentionDays: number, now = Date.now()): number {
  if (retentionDays <= 0) return 0;
  const cutoff = now - retentionDays * 24 * 3600 * 1000;
  const rows = db.prepare(`SELECT a.id, a.path, i.id AS inbound_id, i.conversation_id FROM attachments a JOIN inbound i ON i.id = a.inbound_id
    WHERE a.removed_at IS NULL AND i.status = 'done' AND i.received_at < ?`).all(cutoff) as Array<{ id: number; path: string | null; inbound_id: number; conversation_id: string }>;
  return removeRows(db, root, rows, 'retention period over', now);
}

/**
 * Deletes the stored files of a conversation's answered messages (with its
 * workspace, on /end or the idle clean-up) and marks the rows; a message
 * still waiting for its turn keeps its files.
 */
export function removeConversationAttachments(db: Database.Database, root: string, conversationId: string, reason = 'conversation ended', now = Date.now()): number {
  const rows = db.prepare(`SELECT a.id, a.path, i.id AS inbound_id, i.conversation_id FROM attachments a JOIN inbound i ON i.id = a.inbound_id
    WHERE a.removed_at IS NULL AND i.status = 'done' AND i.conversation_id = ?`).all(conversationId) as Array<{ id: number; path: string | null; inbound_id: number; conversation_id: string }>;
  return removeRows(db, root, rows, reason, now);
}

function removeRows(db: Database.Database, root: string, rows: Array<{ id: number; path: string | null; inbound_id: number; conversation_id: string }>, reason: string, now: number): number {
  const mark = db.prepare('UPDATE attachments SET data = NULL, removed_at = ?, removed_reason = ? WHERE id = ?');
  // Files first, then the mark: a crash between the two leaves a row that
  // names a missing file, which the inbox copy reports as gone.
  for (const r of rows) if (r.path) rmSync(join(root, r.path), { force: true });
  db.transaction(() => { for (const r of rows) mark.run(now, reason, r.id); })();
  for (const key of new Set(rows.filter((r) => r.path).map((r) => `${r.conversation_id}/${r.inbound_id}`))) {
    for (const d of [join(root, key), join(root, key.split('/')[0])]) {
      try { rmdirSync(d); } catch { /* not empty, or already gone */ }
    }
  }
  return rows.length;
}

/**
 * Moves attachments stored as BLOBs (before the file store) into files, one
 * message at a time: the files are written and fsynced first, then the rows
 * point at them and drop the BLOB in one transaction. A crash in between
 * leaves the BLOB rows as they were; the next run writes the folder again.
 * Returns how many rows moved.
 */
export function migrateBlobAttachments(db: Database.Database, root: string): number {
  const messages = db.prepare(`SELECT DISTINCT i.id, i.conversation_id FROM attachments a JOIN inbound i ON i.id = a.inbound_id
    WHERE a.data IS NOT NULL AND a.path IS NULL AND a.removed_at IS NULL`).all() as Array<{ id: number; conversation_id: string }>;
  const update = db.prepare('UPDATE attachments SET path = ?, size = ?, sha256 = ?, data = NULL WHERE id = ?');
  let moved = 0;
  for (const m of messages) {
    const rows = db.prepare('SELECT id, name, data FROM attachments WHERE inbound_id = ? AND path IS NULL AND data IS NOT NULL ORDER BY id').all(m.id) as Array<{ id: number; name: string; data: Buffer }>;
    // A message's rows are all BLOBs or all files (they move in one transaction), so its folder holds nothing else.
    const written = writeAttachmentFiles(root, m.conversation_id, m.id, rows);
    db.transaction(() => { written.forEach((w, i) => update.run(w.path, w.size, w.sha256, rows[i].id)); })();
    moved += rows.length;
  }
  return moved;
}

/**
 * Moves old BLOB rows into files, then runs the retention sweep, now and then
 * daily until stopped. A failure is logged and tried again the next day; it
 * never stops the gateway.
 */
export function startAttachmentRetention(db: Database.Database, root: string, retentionDays: number, log: { warn(msg: string): void }): { stop(): void } {
  try { migrateBlobAttachments(db, root); } catch (err) { log.warn(`moving stored attachments out of the database failed: ${(err as Error).message}; they are read from the database meanwhile, and moved at the next start`); }
  const sweep = () => {
    try { sweepAttachments(db, root, retentionDays); } catch (err) { log.warn(`attachment retention sweep failed: ${(err as Error).message}; it runs again in a day`); }
  };
  sweep();
  const timer = setInterval(sweep, 24 * 3600 * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
