import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { auditLogPath, readAuditLog, summarize, verifyAuditLog, type AuditRecord } from '../audit/audit-log.ts';
import { headPath } from '../audit/head.ts';
import { homeLayout, resolveHome } from '../config/home.ts';
import { conversationIdFromArgument } from '../store/store.ts';

export interface AuditOptions {
  type?: string;
  conversation?: string;
  since?: string;
  limit?: string;
  json?: boolean;
}

/**
 * `nanoclaw audit` and `nanoclaw audit verify`, as one commander command
 * (main.ts: `program.addCommand(auditCommand())`).
 */
export function auditCommand(): Command {
  const audit = new Command('audit')
    .description('show the audit log (containers, tool calls, egress, model requests, admin actions), oldest first')
    .option('--type <prefix>', 'only events whose type starts with this (egress, container.created, admin)')
    .option('--conversation <id>', 'only this conversation (an API id or a c-... id)')
    .option('--since <time>', 'only events at or after this ISO 8601 time (2025-06-01, 2025-06-01T12:00:00Z)')
    .option('--limit <n>', 'only the last n matching events')
    .option('--json', 'one stored record per line (JSON Lines), hashes included')
    .action(runAudit);
  audit.command('verify')
    .description('check the hash chain and the head witness; exit code 1 if anything was edited, removed, reordered or cut')
    .option('--json', 'machine-readable result')
    // Commander gives `audit`'s own --json to the parent even after `verify`: take it from either.
    .action((_opts, cmd: Command) => runAuditVerify(cmd.optsWithGlobals()));
  return audit;
}

/** `nanoclaw audit`: the matching records, one line each. */
export async function runAudit(opts: AuditOptions): Promise<void> {
  const home = resolveHome();
  const file = auditLogPath(homeLayout(home).home);
  const filter = {
    type: opts.type,
    conversation: opts.conversation === undefined ? undefined
      : conversationIdFromArgument(opts.conversation),
    since: opts.since === undefined ? undefined : parseSince(opts.since),
    limit: opts.limit === undefined ? undefined : parseLimit(opts.limit),
  };
  if (!existsSync(file)) {
    if (!opts.json) process.stdout.write(noLog(home));
    return;
  }
  const records = readAuditLog(file, filter);
  if (opts.json) {
    process.stdout.write(records.map((r) => JSON.stringify(r) + '\n').join(''));
    return;
  }
  process.stdout.write(records.length ? records.map((r) => formatRecord(r) + '\n').join('') : 'no audit records match\n');
}

/** `nanoclaw audit verify`: "audit log intact: N records", or each problem and exit code 1. */
export async function runAuditVerify(opts: { json?: boolean } = {}): Promise<void> {
  const home = resolveHome();
  const file = auditLogPath(homeLayout(home).home);
  if (!existsSync(file) && !existsSync(headPath(file))) {
    process.stdout.write(opts.json ? JSON.stringify({ ok: true, records: 0, problems: [] }) + '\n' : noLog(home));
    return;
  }
  const result = verifyAuditLog(file);
  if (!result.ok) process.exitCode = 1;
  if (opts.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else if (result.ok) {
    process.stdout.write(`audit log intact: ${plural(result.records, 'record')}\n`);
  } else {
    const lines = result.problems.map((p) => `  line ${p.line}${p.seq ? ` (seq ${p.seq})` : ''}: ${p.problem}`);
    process.stdout.write([
      `audit log ${file} is NOT intact: ${plural(result.problems.length, 'problem')} in ${plural(result.records, 'record')}`,
      ...lines,
      'Keep the file as it is for investigation (docs/audit.md says what each problem means).',
    ].join('\n') + '\n');
  }
}

/** `2025-06-01T12:00:00.000Z     42  egress.denied        c-0123...  host=example.com method=CONNECT port=443 reason=not-allowlisted` (data keys sorted, as stored) */
export function formatRecord(r: AuditRecord): string {
  const details = [
    ...(r.actor ? [`actor=${value(r.actor)}`] : []),
    ...(r.conversation && r.container ? [`container=${r.container}`] : []),
    ...Object.entries(r.data ?? {}).map(([k, v]) => `${k}=${value(v)}`),
  ].join(' ');
  const where = r.conversation ?? r.container ?? '-';
  return `${r.ts}  ${String(r.seq).padStart(5)}  ${r.type.padEnd(20)} ${where.padEnd(22)} ${summarize(details, 200)}`.trimEnd();
}

const value = (v: unknown): string => (typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v));
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const noLog = (home: string): string => `No audit log in ${home} yet: the gateway starts one when it runs (\`nanoclaw start\`).\n`;

function parseSince(text: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new Error(`--since ${JSON.stringify(text)} is not a time: use ISO 8601, for example 2025-06-01 or 2025-06-01T12:00:00Z.`);
  return d;
}

function parseLimit(text: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`--limit ${JSON.stringify(text)} is not a whole number: for example --limit 50.`);
  return Number(text);
}
