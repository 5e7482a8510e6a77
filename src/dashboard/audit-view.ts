import { closeSync, fstatSync, openSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { linesBackward } from '../audit/lines.ts';
import { parseRecord, type AuditRecord } from '../audit/record.ts';
import type { AuditProblem } from '../audit/verify.ts';

/** A page reads at most this many lines, so a filter that matches nothing in a long log still answers quickly; `next` continues. */
const SCAN_LINES = 50_000;

export interface AuditPage {
  /** Newest first. */
  records: AuditRecord[];
  /** Pass as `before` for the next (older) page; null at the log's start. */
  next: number | null;
}

/**
 * A page of the audit log, newest first, read backwards from the end of the
 * file: the newest records are what a person looks at, and the log only
 * grows, so a page never reads the whole file. Lines that are not records
 * are skipped here (verifying reports them).
 *
 *   auditPage(file, { limit: 50 })                          // the last 50
 *   auditPage(file, { before: page.next!, type: 'egress' })  // older egress records
 */
export function auditPage(file: string, q: { before?: number; type?: string; conversation?: string; limit: number }): AuditPage {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], next: null };
    throw err;
  }
  try {
    const records: AuditRecord[] = [];
    let scanned = 0;
    for (const line of linesBackward(fd, fstatSync(fd).size)) {
      if (!line.complete) continue;
      const parsed = parseRecord(line.bytes.toString('utf8'));
      if ('error' in parsed) continue;
      const r = parsed.record;
      if (q.before !== undefined && r.seq >= q.before) continue;
      if (++scanned > SCAN_LINES) return { records, next: r.seq + 1 };
      if (q.type && !r.type.startsWith(q.type)) continue;
      if (q.conversation && r.conversation !== q.conversation) continue;
      records.push(r);
      if (records.length === q.limit) return { records, next: r.seq > 1 ? r.seq : null };
    }
    return { records, next: null };
  } finally {
    closeSync(fd);
  }
}

export interface ChainCheck {
  at: string;
  ok: boolean;
  records: number;
  head: { seq: number; hash: string } | null;
  ms: number;
  problems: AuditProblem[];
  firstProblem: AuditProblem | null;
}

/**
 * Verifies the whole chain (audit/verify.ts) in a worker thread: a long log
 * takes seconds to hash, and the gateway keeps serving messages meanwhile.
 * One check at a time: a second request while one runs gets the same answer.
 *
 *   const checker = new ChainChecker(auditLogPath(home));
 *   const r = await checker.run();   // r.ok, r.firstProblem
 */
export class ChainChecker {
  private running?: Promise<ChainCheck>;
  /** The last result, for the overview. */
  last: ChainCheck | null = null;

  constructor(private readonly file: string, private readonly head: () => { seq: number; hash: string } | null) {}

  run(): Promise<ChainCheck> {
    return this.running ??= this.check().finally(() => { this.running = undefined; });
  }

  private check(): Promise<ChainCheck> {
    const started = performance.now();
    const head = this.head();
    return new Promise<ChainCheck>((resolve, reject) => {
      const worker = new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: { file: this.file }, resourceLimits: { maxOldGenerationSizeMb: 64 } });
      worker.once('message', (v: { ok: boolean; records: number; problems: AuditProblem[] }) => {
        const result: ChainCheck = {
          at: new Date().toISOString(), ok: v.ok, records: v.records, head, ms: Math.round(performance.now() - started),
          problems: v.problems.slice(0, 20), firstProblem: v.problems[0] ?? null,
        };
        this.last = result;
        resolve(result);
      });
      worker.once('error', (err) => reject(new Error(`verifying the audit log failed: ${err.message}`, { cause: err })));
      worker.once('exit', (code) => { if (code !== 0) reject(new Error(`verifying the audit log stopped (exit code ${code})`)); });
    });
  }
}
