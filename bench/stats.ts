/**
 * Summaries of timing samples. Percentiles use the nearest-rank method: the
 * p-th percentile of n sorted samples is the ceil(p/100 * n)-th one, so it is
 * always a value that was really measured (with 10-20 samples, p95 is the
 * largest or second largest).
 *
 *   summarize([12, 9, 30]) // { n: 3, p50: 12, p95: 30, min: 9, max: 30, mean: 17 }
 */
export interface Summary {
  n: number;
  p50: number;
  p95: number;
  min: number;
  max: number;
  mean: number;
}

export function percentile(samples: number[], p: number): number {
  if (!samples.length) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export function summarize(samples: number[]): Summary {
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    n: samples.length,
    p50: round(percentile(samples, 50)),
    p95: round(percentile(samples, 95)),
    min: round(Math.min(...samples)),
    max: round(Math.max(...samples)),
    mean: round(samples.reduce((a, b) => a + b, 0) / (samples.length || 1)),
  };
}

/** Median of one field over many samples; breakdown columns print with it. */
export function medianOf<T>(rows: T[], pick: (row: T) => number | undefined): number {
  const values = rows.map(pick).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return Math.round(percentile(values, 50) * 10) / 10;
}
