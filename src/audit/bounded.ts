/**
 * Keeps what goes into an audit record small and plain. A tool call's input,
 * a response body or an error can be megabytes, cyclic, or hold a key; the
 * log must stay readable and every record must survive a JSON round trip
 * unchanged (its hash is computed over the value as written and again over
 * the value as read back).
 *
 * Keeping secrets out is the caller's job: log a summary, not a body. The
 * redaction here is a backstop for the obvious shapes (API keys, bearer
 * tokens, fields named like credentials), not a guarantee.
 */

/** Longest string kept whole in `data`; longer ones are cut with a marker. */
export const MAX_STRING = 1000;
const MAX_ITEMS = 50;
const MAX_DEPTH = 6;
const MAX_KEY = 200;
/** A record's whole `data`, as JSON, beyond which it is replaced by a summary. */
export const MAX_DATA_CHARS = 16_000;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const SECRET_VALUES: Array<[RegExp, string]> = [
  [/\bsk-ant-[A-Za-z0-9_-]{8,}/g, 'sk-ant-[redacted]'],
  [/\bsk-[A-Za-z0-9_-]{20,}/g, 'sk-[redacted]'],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, 'gh_[redacted]'],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/g, 'xox-[redacted]'],
  [/\b\d{6,12}:[A-Za-z0-9_-]{30,}/g, '[redacted bot token]'],
  [/\bAKIA[0-9A-Z]{16}\b/g, '[redacted AWS key]'],
];
/** Field names whose values are credentials, whatever they look like. */
const SECRET_KEYS = /^(x-)?(api[-_]?key|authorization|proxy-authorization|cookie|set-cookie|password|passwd|secret|client[-_]?secret|(access|refresh|bot|auth|api|bearer)[-_]?token|token)$/i;

/**
 * Lone surrogates (a string cut mid-pair, or bytes decoded badly) become
 * U+FFFD: JSON.stringify would escape them, which RFC 8785 does not allow.
 * (String.prototype.toWellFormed is in Node >= 20; TypeScript's ES2023 lib lacks it.)
 */
const wellFormed = (s: string): string => (s as string & { toWellFormed(): string }).toWellFormed();

/** Replaces credential-shaped substrings with a marker. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, marker] of SECRET_VALUES) out = out.replace(re, marker);
  return out;
}

/** A string of at most `max` characters (plus a marker saying how much was cut). */
export function boundString(text: string, max = MAX_STRING): string {
  const clean = wellFormed(redactSecrets(text));
  if (clean.length <= max) return clean;
  return `${wellFormed(clean.slice(0, max))}…[cut ${clean.length - max} chars]`;
}

/**
 * `data` made safe to log: plain JSON, strings cut at MAX_STRING, arrays and
 * objects cut at 50 entries, nesting cut at 6 levels, cycles and non-JSON
 * values (bigint, Buffer, Error, Map, ...) turned into strings or plain
 * values, and the whole cut to a summary beyond MAX_DATA_CHARS.
 */
export function boundData(data: Record<string, unknown>): Record<string, Json> {
  const bounded = bound(data, 0, new Set()) as Record<string, Json>;
  const size = JSON.stringify(bounded).length;
  if (size <= MAX_DATA_CHARS) return bounded;
  return { cut: `${size} chars of data`, summary: summarize(bounded, 2000) };
}

/**
 * A one-line, bounded, redacted summary of anything: what to log for a tool
 * call's input or a request body instead of the thing itself.
 *
 *   audit.append({ type: 'tool.call', conversation, data: { tool: 'Bash', input: summarize(input) } });
 *   summarize({ command: 'ls -la /workspace' })  // '{"command":"ls -la /workspace"}'
 */
export function summarize(input: unknown, max = 300): string {
  if (input === undefined) return '';
  const value = bound(input, 0, new Set());
  const text = (typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)).replace(/\s+/g, ' ').trim();
  return text.length <= max ? text : `${wellFormed(text.slice(0, Math.max(0, max - 1)))}…`;
}

function bound(value: unknown, depth: number, seen: Set<object>): Json | undefined {
  switch (typeof value) {
    case 'string': return boundString(value);
    case 'boolean': return value;
    case 'number': return Number.isFinite(value) ? value : String(value);
    case 'bigint': return value.toString();
    case 'undefined': case 'function': case 'symbol': return undefined;
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (obj instanceof Error) return boundString(`${obj.name}: ${obj.message}`);
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return `[${obj.byteLength} bytes]`;
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
  seen.add(obj);
  try {
    if (obj instanceof Map) return bound(Object.fromEntries(obj), depth, seen);
    if (obj instanceof Set || Array.isArray(obj)) {
      const items = Array.from(obj as Iterable<unknown>);
      const out = items.slice(0, MAX_ITEMS).map((v) => bound(v, depth + 1, seen) ?? null);
      if (items.length > MAX_ITEMS) out.push(`…[cut ${items.length - MAX_ITEMS} items]`);
      return out;
    }
    if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') return bound((obj as { toJSON(): unknown }).toJSON(), depth + 1, seen);
    const entries = Object.entries(obj);
    const out: Array<[string, Json]> = [];
    for (const [k, v] of entries.slice(0, MAX_ITEMS)) {
      const b = SECRET_KEYS.test(k) && v !== undefined && v !== null ? '[redacted]' : bound(v, depth + 1, seen);
      if (b !== undefined) out.push([boundString(k, MAX_KEY), b]);
    }
    if (entries.length > MAX_ITEMS) out.push(['…', `cut ${entries.length - MAX_ITEMS} keys`]);
    // fromEntries defines own properties, so a key named __proto__ stays data.
    return Object.fromEntries(out);
  } finally {
    seen.delete(obj);
  }
}
