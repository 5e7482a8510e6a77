/**
 * The audit log: every security-relevant event (containers made and
 * destroyed, tool calls, egress allowed and denied, model requests, admin
 * actions, refused senders) as one JSON line, in a hash chain, so an edit, a
 * removal or a reordering shows. It records; it does not protect: someone
 * who can write the home folder can rewrite the whole chain and its head.
 * Copy the head elsewhere (`onHead`) to make that show too.
 *
 * ## The format, for an outside verifier
 * - UTF-8, one record per line, each line ended by "\n". Members:
 *   `seq` (integer: 1, 2, 3, ...), `ts` (UTC, ISO 8601 as Date#toISOString),
 *   `type` (dotted lower-case name, docs/audit.md), optional `conversation`,
 *   `container`, `actor` (strings) and `data` (object), `prev`, `hash`.
 * - `hash` = lower-case hex SHA-256 of the UTF-8 bytes of the record's
 *   canonical form: the record without its `hash` member (every other member,
 *   known or not), serialized as RFC 8785 JSON (JCS): members sorted by key in
 *   UTF-16 code-unit order at every depth, no whitespace, strings escaped as
 *   ECMAScript's JSON.stringify escapes them (`"`, `\` and U+0000-U+001F only:
 *   \b \t \n \f \r, else \u00xx in lower-case hex; nothing else, so no \/ and
 *   non-ASCII as is), numbers as ECMAScript writes them (integers plainly).
 * - `prev` = the `hash` of the record with the previous seq; 64 "0"s for seq 1.
 * - Each line is written as exactly that canonical form with `,"hash":"<hex>"`
 *   inserted before its final `}`. So, byte for byte: remove the line's last
 *   75 characters (`,"hash":"` + 64 hex + `"}`), append `}`, and the SHA-256 of
 *   the result is the hex that was removed.
 * - `<log>.head` (the head witness, head.ts) holds `{"seq":N,"hash":"<hex>"}`
 *   of the last record written. The log must reach seq N and its record N must
 *   have that hash; otherwise records were cut from the end or rewritten.
 *
 * ## Crashes and damage
 * `open` continues the chain from the last intact record. If the log does not
 * end cleanly (a line cut short by a crash mid-write, or trailing lines that
 * are not records) or disagrees with its head witness, `open` keeps the
 * damaged bytes where they are, ends a cut line with "\n" so the next record
 * starts on its own line, and appends an `audit.recovered` record naming what
 * it found (offset, length and SHA-256 of each damaged line; the head
 * problem). `verifyAuditLog` keeps reporting both: nothing is healed away,
 * and the gateway still starts after a crash. Likewise, after a write that
 * failed part way (a full disk), the next record starts on a new line.
 *
 *   const audit = AuditLog.open(auditLogPath(home));
 *   audit.append({ type: 'egress.denied', conversation, data: { host, port, reason } });
 *   audit.close();
 */
import { createHash } from 'node:crypto';
import { closeSync, fchmodSync, fdatasyncSync, fstatSync, openSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { boundData, boundString } from './bounded.ts';
import { compareHead, EMPTY_HEAD, headPath, readHead, writeHead, type AuditHead } from './head.ts';
import { linesBackward } from './lines.ts';
import { parseRecord, recordHash, serializeRecord, type AuditEvent, type AuditRecord, type RecordBody } from './record.ts';
import { acquireWriterLock } from './writer-lock.ts';

export { summarize } from './bounded.ts';
export type { AuditHead } from './head.ts';
export type { AuditEvent, AuditRecord } from './record.ts';
export { readAuditLog, verifyAuditLog, type AuditFilter, type AuditProblem, type AuditVerification } from './verify.ts';

/** Where the gateway keeps its audit log. */
export const auditLogPath = (home: string): string => join(home, 'audit.log');

export interface AuditLogOptions {
  /**
   * fdatasync the log, then fsync the head, on every append (default true):
   * a record is on disk when append returns, and the head never gets ahead
   * of the log after a power loss. Off only where durability does not matter
   * (tests, benchmarks).
   */
  fsync?: boolean;
  /** Called with the new head after each append: to keep a copy where the log's writer cannot reach. */
  onHead?: (head: AuditHead) => void;
}

const TYPE = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;
/** Files open in this process: a second writer would fork the chain. */
const openFiles = new Set<string>();

export class AuditLog {
  private closed = false;
  /** A write failed part way: the next record starts with "\n" so it is not glued to the fragment. */
  private fragment = false;

  private constructor(
    readonly file: string,
    private readonly fd: number,
    private head: AuditHead,
    private readonly opts: AuditLogOptions,
    private readonly releaseLock: () => void,
  ) {}

  /**
   * Opens (creating, mode 0600) the log and continues its chain; see the
   * header for damage. One writer at a time: a second open, in this process
   * or another (writer-lock.ts), throws.
   */
  static open(file: string, opts: AuditLogOptions = {}): AuditLog {
    const path = resolve(file);
    if (openFiles.has(path)) throw new Error(`the audit log ${path} is already open in this process: share that AuditLog (two writers would fork the chain)`);
    let fd: number | undefined;
    let release: (() => void) | undefined;
    let log: AuditLog;
    try {
      release = acquireWriterLock(path);
      fd = openSync(path, 'a+', 0o600);
      fchmodSync(fd, 0o600);
      const size = fstatSync(fd).size;
      const witness = readHead(headPath(path));
      const tail = scanTail(fd, size, witness.head?.seq);
      log = new AuditLog(path, fd, tail.last ?? EMPTY_HEAD, opts, release);
      const headProblem = compareHead(witness, tail.last, tail.hashAtHead);
      if (tail.damaged.length || headProblem) {
        if (tail.endsCut) log.fragment = true;
        log.append({ type: 'audit.recovered', data: { damaged: tail.damaged, ...(headProblem ? { headProblem } : {}) } });
      } else if (!witness.head) {
        // A new log gets its witness before its first record, so a missing witness always means a deleted one.
        writeHead(headPath(path), log.head, opts.fsync ?? true);
      }
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      release?.();
      throw new Error(`cannot open the audit log ${path}: ${(err as Error).message}`, { cause: err });
    }
    openFiles.add(path);
    return log;
  }

  /**
   * Appends one event and returns the record as written. Synchronous: when it
   * returns, the record is in the file (on disk, with fsync on) and the head
   * witness names it. Throws when the file cannot be written; the caller
   * decides whether that stops the action being audited.
   */
  append(event: AuditEvent): AuditRecord {
    if (this.closed) throw new Error(`the audit log ${this.file} is closed`);
    if (!TYPE.test(event.type) || event.type.length > 64) {
      throw new TypeError(`audit event type ${JSON.stringify(event.type)} is not a dotted lower-case name like egress.denied`);
    }
    const labels: Pick<RecordBody, 'conversation' | 'container' | 'actor'> = {};
    for (const f of ['conversation', 'container', 'actor'] as const) {
      if (event[f] !== undefined && event[f] !== null) labels[f] = boundString(String(event[f]), 200);
    }
    const body: RecordBody = {
      seq: this.head.seq + 1, ts: new Date().toISOString(), type: event.type, ...labels,
      ...(event.data !== undefined ? { data: boundData(event.data) } : {}), prev: this.head.hash,
    };
    const hash = recordHash(body as unknown as Record<string, unknown>);
    const line = Buffer.from(`${this.fragment ? '\n' : ''}${serializeRecord(body, hash)}\n`);
    try {
      for (let done = 0; done < line.length;) done += writeSync(this.fd, line, done);
      if (this.opts.fsync ?? true) fdatasyncSync(this.fd);
    } catch (err) {
      this.fragment = true;
      throw new Error(`could not write audit record seq ${body.seq} (${event.type}) to ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    this.fragment = false;
    this.head = { seq: body.seq, hash };
    try {
      writeHead(headPath(this.file), this.head, this.opts.fsync ?? true);
    } catch (err) {
      // The record stands; verify will see the head behind it, which it allows.
      throw new Error(`audit record seq ${body.seq} was written to ${this.file}, but its head witness could not be updated: ${(err as Error).message}`, { cause: err });
    }
    this.opts.onHead?.({ ...this.head });
    return { ...body, hash };
  }

  /** seq and hash of the last record (seq 0 for an empty log). */
  get last(): AuditHead {
    return { ...this.head };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    openFiles.delete(this.file);
    closeSync(this.fd);
    this.releaseLock();
  }
}

interface Tail {
  last?: AuditHead;
  hashAtHead?: string;
  /** Lines after the last intact record: a crash's fragment, or worse. */
  damaged: Array<{ offset: number; bytes: number; sha256: string }>;
  /** The file ends without "\n". */
  endsCut: boolean;
}

/**
 * Reads back from the end to the last intact record, and on to the head
 * witness's record when the head is behind (normally zero or one line).
 */
function scanTail(fd: number, size: number, headSeq: number | undefined): Tail {
  const tail: Tail = { damaged: [], endsCut: false };
  for (const line of linesBackward(fd, size)) {
    if (!line.complete) tail.endsCut = true;
    const parsed = line.complete ? parseRecord(line.bytes.toString('utf8')) : undefined;
    if (!parsed || 'error' in parsed) {
      if (!tail.last) tail.damaged.unshift({ offset: line.offset, bytes: line.bytes.length, sha256: createHash('sha256').update(line.bytes).digest('hex') });
      continue;
    }
    const r = parsed.record;
    tail.last ??= { seq: r.seq, hash: r.hash };
    if (r.seq === headSeq) tail.hashAtHead = r.hash;
    if (!headSeq || r.seq <= headSeq) break;
  }
  return tail;
}
