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
 * ## When a record is durable
 * `append` writes the record to the file with write(2) before it returns: from
 * then on it survives a crash of the process (a SIGKILL, an exception), and
 * readers see it. It reaches the disk (survives a power loss or a kernel
 * crash) in a group commit (group-commit.ts): at most `groupDelayMs` (5 ms)
 * later one fdatasync covers every record written meanwhile, then the head
 * witness moves to the newest of them. So the head witness lags the log by
 * the records not yet synced, a few milliseconds' worth. `close` syncs what
 * is left before it returns; `flush()` waits for it. A failed sync is thrown
 * by the next `append`. `commit: 'each'` syncs every record inside `append`
 * instead (milliseconds each, on the caller's thread).
 *
 *   const audit = AuditLog.open(auditLogPath(home));
 *   audit.append({ type: 'egress.denied', conversation, data: { host, port, reason } });
 *   audit.close();
 */
import { createHash } from 'node:crypto';
import { closeSync, fchmodSync, fstatSync, openSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { boundData, boundString } from './bounded.ts';
import { GroupCommit } from './group-commit.ts';
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
   * fdatasync the log, then fsync the head, before the head names a record
   * (default true): the head never gets ahead of the log after a power loss.
   * Off only where durability does not matter (tests): records then survive a
   * crash of the process but not of the machine.
   */
  fsync?: boolean;
  /**
   * When a record reaches the disk (see the header). `group` (default): in a
   * batch at most `groupDelayMs` after `append`, off the event loop. `each`:
   * inside `append`, which then blocks its caller for a sync per record; for
   * a short-lived writer that wants each record on disk before it goes on,
   * and as the benchmark's baseline.
   */
  commit?: 'group' | 'each';
  /** `group`: the longest a record waits before the sync that covers it starts (default 5 ms). */
  groupDelayMs?: number;
  /**
   * Called with each new durable head (once per batch): to keep a copy where
   * the log's writer cannot reach. It names a record only once that record
   * is on disk.
   */
  onHead?: (head: AuditHead) => void;
}

const GROUP_DELAY_MS = 5;

const TYPE = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;
/** Files open in this process: a second writer would fork the chain. */
const openFiles = new Set<string>();

export class AuditLog {
  private closed = false;
  /** A write failed part way: the next record starts with "\n" so it is not glued to the fragment. */
  private fragment = false;

  private readonly commit: GroupCommit;

  private constructor(
    readonly file: string,
    private readonly fd: number,
    private head: AuditHead,
    private readonly opts: AuditLogOptions,
    private readonly releaseLock: () => void,
  ) {
    this.commit = new GroupCommit(fd, headPath(file), head, {
      fsync: opts.fsync ?? true, delayMs: opts.groupDelayMs ?? GROUP_DELAY_MS, onHead: opts.onHead,
    });
  }

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
    let log: AuditLog | undefined;
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
        // On disk, with the witness moved past the problem, before anyone else writes.
        log.commit.flushSync({ stop: false });
      } else if (!witness.head) {
        // A new log gets its witness before its first record, so a missing witness always means a deleted one.
        writeHead(headPath(path), log.head, opts.fsync ?? true);
      }
    } catch (err) {
      log?.commit.abandon();
      if (fd !== undefined) closeSync(fd);
      release?.();
      throw new Error(`cannot open the audit log ${path}: ${(err as Error).message}`, { cause: err });
    }
    openFiles.add(path);
    return log;
  }

  /**
   * Appends one event and returns the record as written. When it returns, the
   * record is in the file, in order; it is on disk and named by the head
   * witness a few milliseconds later (see the header), or at once with
   * `commit: 'each'`. Throws, without writing, when the file cannot be
   * written or when an earlier batch could not be synced (reported once); the
   * caller decides whether that stops the action being audited.
   */
  append(event: AuditEvent): AuditRecord {
    if (this.closed) throw new Error(`the audit log ${this.file} is closed`);
    if (!TYPE.test(event.type) || event.type.length > 64) {
      throw new TypeError(`audit event type ${JSON.stringify(event.type)} is not a dotted lower-case name like egress.denied`);
    }
    const failure = this.commit.takeFailure();
    if (failure) throw failure;
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
      // One write(2) per record, in seq order; the sync is the group commit's.
      for (let done = 0; done < line.length;) done += writeSync(this.fd, line, done);
    } catch (err) {
      this.fragment = true;
      throw new Error(`could not write audit record seq ${body.seq} (${event.type}) to ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    this.fragment = false;
    this.head = { seq: body.seq, hash };
    this.commit.written(this.head);
    // The record stands either way; a head witness left behind it is allowed by verify.
    if (this.opts.commit === 'each') this.commit.flushSync({ stop: false });
    return { ...body, hash };
  }

  /** seq and hash of the last record appended (seq 0 for an empty log); it may not be on disk yet. */
  get last(): AuditHead {
    return { ...this.head };
  }

  /** seq and hash of the last record on disk and named by the head witness. */
  get durable(): AuditHead {
    return this.commit.durableHead;
  }

  /**
   * Resolves, with the durable head, once every record appended so far is on
   * disk and named by the head witness; starts that sync at once. Rejects
   * when the sync fails.
   *
   *   audit.append(event); await audit.flush();   // now it survives a power loss
   */
  flush(): Promise<AuditHead> {
    return this.commit.flush();
  }

  /**
   * Syncs every record not yet on disk, moves the head witness to the last
   * one, and closes; a graceful stop loses nothing. Throws when that sync
   * fails (the file is closed and the lock released all the same).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    openFiles.delete(this.file);
    try {
      this.commit.flushSync({ stop: true });
    } finally {
      // A batch in flight still uses the fd; it finds the log stopped and leaves the witness alone.
      this.commit.whenIdle(() => { try { closeSync(this.fd); } catch { /* already gone */ } });
      this.releaseLock();
    }
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
