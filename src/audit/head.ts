import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { GENESIS } from './record.ts';

/**
 * The head witness: the last record's seq and hash, kept beside the log in
 * `<log>.head`. The hash chain shows an edit, a removal or a reordering
 * anywhere but at the end: cutting the last records off leaves a shorter
 * chain that is still perfectly valid. The head remembers how far the log
 * reached.
 *
 * It is written after the records it names are on disk (with fsync on), so
 * a crash can leave it behind the log (by the records of the last batch,
 * group-commit.ts), never ahead. Hence the rule both `AuditLog.open` and `verifyAuditLog` apply: the head
 * may be behind the log (a crash, or records appended while verify read), but
 * the record at the head's seq must carry the head's hash, and the log must
 * reach that far.
 */
export interface AuditHead {
  seq: number;
  hash: string;
}

export const EMPTY_HEAD: AuditHead = { seq: 0, hash: GENESIS };

export const headPath = (logFile: string): string => `${logFile}.head`;

/** The head witness, `undefined` when there is none, or what is wrong with it. */
export function readHead(file: string): { head?: AuditHead; error?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { error: `the head witness ${file} cannot be read (${(err as Error).message})` };
  }
  try {
    const h = JSON.parse(text) as AuditHead;
    if (Number.isSafeInteger(h.seq) && h.seq >= 0 && typeof h.hash === 'string' && /^[0-9a-f]{64}$/.test(h.hash)) return { head: { seq: h.seq, hash: h.hash } };
  } catch { /* reported below */ }
  return { error: `the head witness ${file} is not a {seq, hash} record` };
}

/**
 * Replaces the head witness atomically: a temporary file, then a rename. With
 * fsync on, the temporary file is on disk before the rename, so a power loss
 * leaves the old witness or the new one, never an empty file.
 */
export function writeHead(file: string, head: AuditHead, fsync: boolean): void {
  const pending = prepareHead(file, head, 'now');
  try {
    if (fsync) fsyncSync(pending.fd);
  } catch (err) {
    discardHead(pending);
    throw err;
  }
  commitHead(pending);
}

/** A head witness written to its temporary file, not yet in place. */
export interface PendingHead {
  file: string;
  tmp: string;
  /** Open on `tmp`, for an fsync before `commitHead`. */
  fd: number;
}

/**
 * The first half of `writeHead`, for a caller that syncs the temporary file
 * off the event loop. `tag` keeps two writers in one process (a background
 * batch and a closing flush) off each other's temporary file.
 */
export function prepareHead(file: string, head: AuditHead, tag: string): PendingHead {
  const tmp = `${file}.tmp-${process.pid}-${tag}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ seq: head.seq, hash: head.hash })}\n`);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  return { file, tmp, fd };
}

/** Puts a prepared witness in place. Synchronous on purpose: see GroupCommit's note on ordering. */
export function commitHead(pending: PendingHead): void {
  closeSync(pending.fd);
  try {
    renameSync(pending.tmp, pending.file);
  } catch (err) {
    rmSync(pending.tmp, { force: true });
    throw err;
  }
}

/** Drops a prepared witness that a newer one superseded, or that failed. */
export function discardHead(pending: PendingHead): void {
  try { closeSync(pending.fd); } catch { /* already closed */ }
  rmSync(pending.tmp, { force: true });
}

/**
 * What is wrong between the head witness and the log, or undefined when they
 * agree. `last` is the log's last in-order record; `hashAtHead` the hash of
 * its record whose seq is the head's (undefined when there is none).
 */
export function compareHead(
  witness: { head?: AuditHead; error?: string },
  last: AuditHead | undefined,
  hashAtHead: string | undefined,
): string | undefined {
  if (witness.error) return witness.error;
  const end = last ?? EMPTY_HEAD;
  const head = witness.head;
  if (!head) return end.seq > 0 ? `there is no head witness, though the log reaches seq ${end.seq} (it was deleted)` : undefined;
  if (head.seq > end.seq) {
    const missing = head.seq === end.seq + 1 ? `seq ${head.seq}` : `seq ${end.seq + 1}-${head.seq}`;
    return `the head witness says the log reached seq ${head.seq}, but it ends at seq ${end.seq}: ${missing} removed from the end`;
  }
  if (head.seq === 0) return head.hash === GENESIS ? undefined : 'the head witness at seq 0 has a hash (it was altered)';
  if (hashAtHead !== head.hash) return `record seq ${head.seq} is not the one the head witness recorded (the log was rewritten up to there)`;
  return undefined;
}
