/**
 * Sums the usage rows the server returns (one per day, conversation, provider and model) into the
 * three views the Tokens and cost page draws: per day (every day of the window, empty ones too),
 * per provider and model, and per conversation. Tokens count all four kinds, input, output, cache
 * writes and cache reads, as the daily budgets do.
 *
 *   const sums = sumUsage(report);
 *   sums.days.map((d) => d.tokens);
 */
import type { UsageRow } from './types';

export interface UsageTotals {
  requests: number; inputTokens: number; outputTokens: number; cacheTokens: number; tokens: number; costUsd: number;
}
export interface Keyed extends UsageTotals { key: string }
export interface UsageSums { days: Keyed[]; models: Keyed[]; conversations: Keyed[]; total: UsageTotals }

const zero = (): UsageTotals => ({ requests: 0, inputTokens: 0, outputTokens: 0, cacheTokens: 0, tokens: 0, costUsd: 0 });

function add(into: UsageTotals, row: UsageRow): void {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const cache = n(row.cacheWriteTokens) + n(row.cacheReadTokens);
  into.requests += n(row.requests);
  into.inputTokens += n(row.inputTokens);
  into.outputTokens += n(row.outputTokens);
  into.cacheTokens += cache;
  into.tokens += n(row.inputTokens) + n(row.outputTokens) + cache;
  into.costUsd += n(row.costUsd);
}

function group(rows: UsageRow[], keyOf: (row: UsageRow) => string): Map<string, Keyed> {
  const groups = new Map<string, Keyed>();
  for (const row of rows) {
    const key = keyOf(row);
    let g = groups.get(key);
    if (!g) groups.set(key, g = { key, ...zero() });
    add(g, row);
  }
  return groups;
}

/** Every YYYY-MM-DD from `from` to `to` inclusive (UTC days, as the server counts them); at most 400. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`);
  if (Number.isNaN(start) || Number.isNaN(end)) return days;
  for (let t = start; t <= end && days.length < 400; t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

export function sumUsage(report: { from: string; to: string; rows: UsageRow[] }): UsageSums {
  const byDay = group(report.rows, (r) => r.day);
  const days = daysBetween(report.from, report.to).map((day) => byDay.get(day) ?? { key: day, ...zero() });
  // Rows outside from..to would be a server bug; show them rather than hide them.
  for (const [day, g] of byDay) if (!days.some((d) => d.key === day)) days.push(g);
  days.sort((a, b) => a.key.localeCompare(b.key));
  const byCost = (a: Keyed, b: Keyed) => b.tokens - a.tokens || b.costUsd - a.costUsd;
  const models = [...group(report.rows, (r) => `${r.provider} / ${r.model}`).values()].sort(byCost);
  const conversations = [...group(report.rows, (r) => r.conversation).values()].sort(byCost).slice(0, 10);
  const total = zero();
  for (const row of report.rows) add(total, row);
  return { days, models, conversations, total };
}
