import { compareHead, headPath, readHead, type AuditHead } from './head.ts';
import { linesForward } from './lines.ts';
import { GENESIS, parseRecord, recordHash, type AuditRecord } from './record.ts';

/** One thing wrong with the log; `line` is 1-based (one past the last line for what is missing at the end). */
export interface AuditProblem {
  seq?: number;
  line: number;
  problem: string;
}

export interface AuditVerification {
  ok: boolean;
  /** Lines that parsed as records. */
  records: number;
  problems: AuditProblem[];
}

/**
 * Checks the whole log against its hash chain and its head witness: an
 * edited record (its hash), a removed or moved one (a seq gap, a `prev` that
 * does not match), a line that is not a record, and records cut from the end
 * (the head witness is ahead of the log). `head` replaces the `<log>.head`
 * file, for a copy kept elsewhere.
 *
 *   const v = verifyAuditLog(auditLogPath(home));
 *   if (!v.ok) for (const p of v.problems) console.log(`line ${p.line}: ${p.problem}`);
 */
export function verifyAuditLog(file: string, opts: { head?: AuditHead } = {}): AuditVerification {
  // The head first: an append racing this read then shows as a head behind
  // the log (allowed), never as a head ahead of it (a false alarm).
  const witness = opts.head ? { head: opts.head } : readHead(headPath(file));
  const problems: AuditProblem[] = [];
  let records = 0;
  let lines = 0;
  let last: AuditRecord | undefined;
  let hashAtHead: string | undefined;
  for (const line of linesForward(file)) {
    lines = line.no;
    if (!line.complete) {
      problems.push({ line: line.no, problem: `line ${line.no} is cut short (${line.bytes.length} bytes without a newline: a write interrupted by a crash, or a cut file)` });
      continue;
    }
    const parsed = parseRecord(line.bytes.toString('utf8'));
    if ('error' in parsed) {
      problems.push({ line: line.no, problem: `line ${line.no} is not an audit record (${parsed.error})` });
      continue;
    }
    records++;
    const r = parsed.record;
    const at = { seq: r.seq, line: line.no };
    if (recordHash(r as unknown as Record<string, unknown>) !== r.hash) problems.push({ ...at, problem: `record seq ${r.seq} does not match its hash (it was edited)` });
    const expected = (last?.seq ?? 0) + 1;
    if (r.seq === expected) {
      if (r.prev !== (last?.hash ?? GENESIS)) {
        problems.push({ ...at, problem: `record seq ${r.seq} does not follow ${last ? `record seq ${last.seq}` : 'the start of the log'}: its prev hash differs (the record before it was changed or replaced)` });
      }
      last = r;
      if (r.seq === witness.head?.seq) hashAtHead = r.hash;
    } else if (r.seq > expected) {
      const missing = r.seq === expected + 1 ? `seq ${expected} is` : `seq ${expected}-${r.seq - 1} are`;
      problems.push({ ...at, problem: `${missing} missing before record seq ${r.seq} (removed, or moved)` });
      last = r;
      if (r.seq === witness.head?.seq) hashAtHead = r.hash;
    } else {
      problems.push({ ...at, problem: `record seq ${r.seq} comes after record seq ${last!.seq} (records reordered or repeated)` });
    }
    if (r.type === 'audit.recovered' && typeof r.data?.headProblem === 'string') {
      problems.push({ ...at, problem: `when the log was reopened, ${r.data.headProblem}` });
    }
  }
  const headProblem = compareHead(witness, last && { seq: last.seq, hash: last.hash }, hashAtHead);
  if (headProblem) problems.push({ seq: (last?.seq ?? 0) + 1, line: lines + 1, problem: headProblem });
  return { ok: problems.length === 0, records, problems };
}

/** Which records `readAuditLog` returns; every field narrows. */
export interface AuditFilter {
  /** Prefix of the type: `egress` matches `egress.allowed` and `egress.denied`. */
  type?: string;
  conversation?: string;
  /** Records at or after this time. */
  since?: Date;
  /** The last N matching records. */
  limit?: number;
}

/**
 * The records that match, oldest first. Lines that are not records are
 * skipped here; `verifyAuditLog` is the place that reports them.
 *
 *   readAuditLog(auditLogPath(home), { type: 'egress', limit: 20 })
 */
export function readAuditLog(file: string, filter: AuditFilter = {}): AuditRecord[] {
  const since = filter.since?.getTime();
  const limit = filter.limit ?? Infinity;
  const out: AuditRecord[] = [];
  if (limit <= 0) return out;
  for (const line of linesForward(file)) {
    if (!line.complete) continue;
    const parsed = parseRecord(line.bytes.toString('utf8'));
    if ('error' in parsed) continue;
    const r = parsed.record;
    if (filter.type !== undefined && !r.type.startsWith(filter.type)) continue;
    if (filter.conversation !== undefined && r.conversation !== filter.conversation) continue;
    if (since !== undefined && Date.parse(r.ts) < since) continue;
    out.push(r);
    if (out.length > limit) out.shift();
  }
  return out;
}
