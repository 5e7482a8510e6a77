import { fdatasync, fdatasyncSync, fsync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { commitHead, discardHead, prepareHead, writeHead, type AuditHead, type PendingHead } from './head.ts';

const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);

export interface GroupCommitOptions {
  /** fdatasync the log and fsync the head witness (false: write them, skip the syncs). */
  fsync: boolean;
  /** The longest a record waits in the file before its batch's sync starts. */
  delayMs: number;
  /** Called with each new durable head, once per batch. */
  onHead?: (head: AuditHead) => void;
}

/**
 * Makes the records an AuditLog has written durable, many at a time: the
 * gateway audits every egress request, model call and tool call, and one
 * fdatasync plus one head fsync per record on the event loop (a few
 * milliseconds, far more on a busy disk) let one busy container stall every
 * conversation.
 *
 * The log writes each record with write(2) as it is appended, so it is in the
 * file at once and survives a crash of the process. Here, at most `delayMs`
 * after the first record that is not yet durable, one batch runs: fdatasync
 * the log and fsync the new head witness on libuv's thread pool, then rename
 * the witness into place. Only one batch runs at a time; records appended
 * while it syncs go into the next one.
 *
 * Invariants, the same as with one sync per record:
 * - the head witness names a record only after that record is on disk, so a
 *   power loss leaves it behind the log, never ahead;
 * - witnesses are put in place in seq order. `flushSync` (on close) writes
 *   the newest witness itself, which supersedes the batch in flight; the
 *   batch checks for that and renames in the same synchronous step, so an
 *   older witness can never land after a newer one.
 *
 *   const commit = new GroupCommit(fd, headPath(file), last, { fsync: true, delayMs: 5 });
 *   writeSync(fd, line); commit.written(head);   // durable within ~5 ms plus one sync
 *   await commit.flush();                        // or commit.flushSync() when closing
 */
export class GroupCommit {
  /** The newest record in the file. */
  private latest: AuditHead;
  /** The newest record on disk and named by the head witness. */
  private durable: AuditHead;
  /** performance.now() when the oldest record that no batch has taken yet was written. */
  private waitingSince = 0;
  private timer?: NodeJS.Timeout;
  private batch?: Promise<void>;
  /** The newest record the batch in flight will make durable. */
  private batchTarget?: AuditHead;
  /** A batch that failed and that no one has been told about yet. */
  private failure?: Error;
  /** Set by flushSync on close: a batch still in flight must not move the witness. */
  private stopped = false;
  private readonly waiters: Array<{ seq: number; resolve: (h: AuditHead) => void; reject: (err: Error) => void }> = [];

  constructor(
    private readonly fd: number,
    private readonly headFile: string,
    start: AuditHead,
    private readonly opts: GroupCommitOptions,
  ) {
    this.latest = { ...start };
    this.durable = { ...start };
  }

  /** Record `head` (and every one before it) is in the file: make it durable soon. */
  written(head: AuditHead): void {
    if (this.latest.seq === (this.batchTarget ?? this.durable).seq) this.waitingSince = performance.now();
    this.latest = { ...head };
    this.schedule();
  }

  /** seq and hash of the newest record that is on disk and named by the head witness. */
  get durableHead(): AuditHead {
    return { ...this.durable };
  }

  /** The error of a failed batch, once: AuditLog.append throws it. */
  takeFailure(): Error | undefined {
    const failure = this.failure;
    this.failure = undefined;
    return failure;
  }

  /** Resolves when every record written so far is durable; starts the batch now rather than after the delay. */
  flush(): Promise<AuditHead> {
    if (this.latest.seq === this.durable.seq) return Promise.resolve(this.durableHead);
    return new Promise((resolve, reject) => {
      this.waiters.push({ seq: this.latest.seq, resolve, reject });
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      this.schedule();
    });
  }

  /**
   * Makes everything durable now, on this thread, and stops: for close, and
   * for a log that syncs each record before append returns. Throws when the
   * sync fails, or when an earlier batch failed and no one was told.
   */
  flushSync(opts: { stop: boolean }): void {
    if (opts.stop) this.stopped = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const target = { ...this.latest };
    if (target.seq > this.durable.seq) {
      try {
        if (this.opts.fsync) fdatasyncSync(this.fd);
        // writeHead's temporary file is not the one a batch in flight may hold open.
        writeHead(this.headFile, target, this.opts.fsync);
      } catch (err) {
        this.failed(target, err as Error);
        throw this.takeFailure()!;
      }
      this.advance(target);
    }
    const failure = this.takeFailure();
    if (failure) throw failure;
  }

  /** Stops without syncing: for a log whose open failed. */
  abandon(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Runs `then` once no batch is in flight (at once if none is): close waits for it before closing the fd. */
  whenIdle(then: () => void): void {
    if (this.batch) void this.batch.finally(then);
    else then();
  }

  private schedule(): void {
    if (this.timer || this.batch || this.stopped || this.latest.seq === this.durable.seq) return;
    // flush() is waiting: start now.
    const wait = this.waiters.length ? 0 : Math.max(0, this.waitingSince + this.opts.delayMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.batchTarget = { ...this.latest };
      this.batch = this.runBatch(this.batchTarget).then((ok) => {
        this.batch = undefined;
        this.batchTarget = undefined;
        // After a failure, the next append (or flush, or close) tries again, rather than a tight loop against a failing disk.
        if (ok) this.schedule();
      });
    }, wait);
  }

  /** One batch: sync the log, then the witness for its newest record. Never rejects. */
  private async runBatch(target: AuditHead): Promise<boolean> {
    let pending: PendingHead | undefined;
    try {
      // Superseded: flushSync made all of it durable and moved the witness meanwhile.
      const superseded = () => this.stopped || target.seq <= this.durable.seq;
      if (this.opts.fsync) await fdatasyncAsync(this.fd);
      if (superseded()) return true;
      pending = prepareHead(this.headFile, target, 'batch');
      if (this.opts.fsync) await fsyncAsync(pending.fd);
      // Checked and renamed in one synchronous step: see the ordering invariant above.
      if (superseded()) {
        discardHead(pending);
        return true;
      }
      commitHead(pending);
    } catch (err) {
      if (pending) discardHead(pending);
      if (this.stopped) return true; // close synced everything itself, or reported its own failure
      this.failed(target, err as Error);
      return false;
    }
    this.advance(target);
    return true;
  }

  private advance(target: AuditHead): void {
    if (target.seq <= this.durable.seq) return;
    this.durable = target;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].seq <= target.seq) this.waiters.splice(i, 1)[0].resolve({ ...target });
    }
    try {
      this.opts.onHead?.({ ...target });
    } catch (err) {
      this.failure = new Error(`the audit log's onHead callback failed at seq ${target.seq}: ${(err as Error).message}`, { cause: err });
    }
  }

  private failed(target: AuditHead, err: Error): void {
    const from = this.durable.seq + 1;
    const range = from === target.seq ? `record seq ${target.seq}` : `records seq ${from}-${target.seq}`;
    const error = new Error(`${range} of the audit log could not be made durable (${err.message}): they are in the file, but a power loss may lose them, and the head witness still names seq ${this.durable.seq}. Check the disk; the next record tries again.`, { cause: err });
    this.failure = error;
    for (const w of this.waiters.splice(0)) w.reject(error);
    // The retry after a failure waits the normal delay.
    this.waitingSince = performance.now();
  }
}
