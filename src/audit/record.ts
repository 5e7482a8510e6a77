import { createHash } from 'node:crypto';

/**
 * One audit record, its canonical form and its hash. The rule these functions
 * implement is spelled out in the header of audit-log.ts, for anyone writing
 * an outside verifier; change one, change the other.
 */

/** `prev` of the first record. */
export const GENESIS = '0'.repeat(64);

/** What a caller reports; the log adds `seq`, `ts`, `prev` and `hash`. */
export interface AuditEvent {
  /** Dotted lower-case name: `egress.denied`, `admin.allow_domain`, ... (docs/audit.md lists them). */
  type: string;
  conversation?: string;
  container?: string;
  /** Who caused it, when not the agent itself: `owner`, `telegram:12345`, `cli`. */
  actor?: string;
  data?: Record<string, unknown>;
}

export interface AuditRecord {
  seq: number;
  ts: string;
  type: string;
  conversation?: string;
  container?: string;
  actor?: string;
  data?: Record<string, unknown>;
  prev: string;
  hash: string;
}

/** A record before it is hashed: every field but `hash`. */
export type RecordBody = Omit<AuditRecord, 'hash'>;

/**
 * RFC 8785 (JCS) canonical JSON for plain JSON values (what JSON.parse
 * returns, and what the log writes after bounding): object keys sorted by
 * UTF-16 code units at every level, no whitespace, strings and numbers as
 * ECMAScript's JSON.stringify writes them.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** sha256 (hex) of the canonical JSON of every field except `hash`, extra fields included. */
export function recordHash(record: Record<string, unknown>): string {
  const { hash: _ignored, ...body } = record;
  return createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
}

/**
 * The line as written (without its newline): the canonical body with
 * `,"hash":"<hex>"` before the closing brace, so the hashed bytes are the
 * line minus that suffix.
 */
export function serializeRecord(body: RecordBody, hash: string): string {
  return `${canonicalJson(body).slice(0, -1)},"hash":"${hash}"}`;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Parses one line; says what is wrong when it is not a well-formed record. */
export function parseRecord(text: string): { record: AuditRecord } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: text.trim() ? 'not JSON' : 'empty line' };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { error: 'not a JSON object' };
  const r = value as Record<string, unknown>;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) return { error: 'no valid seq' };
  if (typeof r.ts !== 'string' || Number.isNaN(Date.parse(r.ts))) return { error: 'no valid ts' };
  if (typeof r.type !== 'string' || !r.type) return { error: 'no type' };
  if (typeof r.prev !== 'string' || !HEX64.test(r.prev)) return { error: 'no valid prev' };
  if (typeof r.hash !== 'string' || !HEX64.test(r.hash)) return { error: 'no valid hash' };
  for (const f of ['conversation', 'container', 'actor'] as const) {
    if (r[f] !== undefined && typeof r[f] !== 'string') return { error: `${f} is not a string` };
  }
  if (r.data !== undefined && (!r.data || typeof r.data !== 'object' || Array.isArray(r.data))) return { error: 'data is not an object' };
  return { record: r as unknown as AuditRecord };
}
