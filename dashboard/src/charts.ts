/**
 * The dashboard's charts, drawn as plain SVG (no chart library: a few rectangles and lines keep
 * the bundle small and the CSP strict). Labels come from the server and are SVG text nodes, never
 * markup.
 *
 *   html`<${ColumnChart} testid="chart-day" columns=${cols} series=${series} budget=${1e6} format=${compact} />`
 *   html`<${BudgetMeter} used=${tokens} limit=${budgets.globalTokensPerDay} format=${count} />`
 */
import { html } from './html';

export interface Series { name: string; className: string }
export interface Column { label: string; values: number[]; title: string }

const W = 960;
const H = 280;
const PAD = { left: 48, right: 8, top: 12, bottom: 26 };

/** A "nice" axis maximum (1, 2 or 5 times a power of ten) at or above `n`. */
function niceMax(n: number): number {
  if (n <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/**
 * Vertical bars, one column per label, each stacked from its series values, with an optional
 * dashed budget line at `budget` (the daily limit; 0 = none drawn).
 */
export function ColumnChart(props: {
  testid: string; columns: Column[]; series: Series[]; budget?: number; budgetLabel?: string; format: (n: number) => string;
}) {
  const { columns, series, format } = props;
  const budget = props.budget && props.budget > 0 ? props.budget : 0;
  const top = niceMax(Math.max(budget, ...columns.map((c) => c.values.reduce((a, b) => a + b, 0))));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const slot = plotW / Math.max(1, columns.length);
  const barW = Math.max(1, Math.min(40, slot * 0.7));
  const labelEvery = Math.max(1, Math.ceil(columns.length / 10));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * top);
  return html`<svg class="chart" viewBox=${`0 0 ${W} ${H}`} role="img" data-testid=${props.testid} aria-label=${props.testid}>
    ${ticks.map((t) => html`<g class="tick">
      <line x1=${PAD.left} x2=${W - PAD.right} y1=${y(t)} y2=${y(t)} />
      <text x=${PAD.left - 6} y=${y(t) + 4} text-anchor="end">${format(t)}</text>
    </g>`)}
    ${columns.map((col, i) => {
      const x = PAD.left + i * slot + (slot - barW) / 2;
      let base = 0;
      return html`<g class="column">
        <title>${col.title}</title>
        <rect class="hit" x=${PAD.left + i * slot} y=${PAD.top} width=${slot} height=${plotH} />
        ${col.values.map((v, s) => {
          const y0 = y(base);
          base += v;
          return v > 0 ? html`<rect class=${series[s]?.className ?? ''} x=${x} y=${y(base)} width=${barW} height=${Math.max(0.5, y0 - y(base))} />` : null;
        })}
        ${i % labelEvery === 0 ? html`<text class="xlabel" x=${x + barW / 2} y=${H - 8} text-anchor="middle">${col.label}</text>` : null}
      </g>`;
    })}
    ${budget ? html`<g class="budget" data-testid="budget-line" data-value=${budget}>
      <line x1=${PAD.left} x2=${W - PAD.right} y1=${y(budget)} y2=${y(budget)} />
      <text x=${W - PAD.right - 2} y=${y(budget) - 4} text-anchor="end">${props.budgetLabel ?? `budget ${format(budget)}`}</text>
    </g>` : null}
  </svg>`;
}

export interface Row { label: string; value: number; title: string }

/** Horizontal bars with their labels on the left and values on the right (per model, per conversation). */
export function RowChart(props: { testid: string; rows: Row[]; format: (n: number) => string; className?: string }) {
  const rowH = 26;
  const labelW = 320;
  const valueW = 80;
  const h = Math.max(1, props.rows.length) * rowH + 4;
  const max = Math.max(1, ...props.rows.map((r) => r.value));
  const barSpace = W - labelW - valueW;
  return html`<svg class="chart rows" viewBox=${`0 0 ${W} ${h}`} role="img" data-testid=${props.testid} aria-label=${props.testid}>
    ${props.rows.length === 0 ? html`<text class="muted-text" x=${W / 2} y=${rowH / 2 + 4} text-anchor="middle">No usage in this window.</text>` : null}
    ${props.rows.map((r, i) => {
      const yTop = 2 + i * rowH;
      const label = r.label.length > 40 ? `${r.label.slice(0, 39)}…` : r.label;
      return html`<g>
        <title>${r.title}</title>
        <text class="rlabel" x=${labelW - 8} y=${yTop + rowH / 2 + 4} text-anchor="end">${label}</text>
        <rect class="track" x=${labelW} y=${yTop + 5} width=${barSpace} height=${rowH - 10} rx="3" />
        <rect class=${props.className ?? 's-total'} x=${labelW} y=${yTop + 5} width=${Math.max(1, (r.value / max) * barSpace)} height=${rowH - 10} rx="3" />
        <text class="rvalue" x=${W - 4} y=${yTop + rowH / 2 + 4} text-anchor="end">${props.format(r.value)}</text>
      </g>`;
    })}
  </svg>`;
}

/** A bar that fills toward a daily limit: calm below 80 %, amber to 100 %, red at or over it; "no limit" when 0. */
export function BudgetMeter(props: { label: string; used: number; limit: number; format: (n: number) => string }) {
  const { used, limit, format } = props;
  const share = limit > 0 ? used / limit : 0;
  const tone = share >= 1 ? 'bad' : share >= 0.8 ? 'warn' : 'ok';
  return html`<div class="meter">
    <div class="meter-head"><span>${props.label}</span>
      <span>${format(used)} ${limit > 0 ? html`<span class="muted">of ${format(limit)} (${Math.round(share * 100)} %)</span>` : html`<span class="muted">· no limit</span>`}</span>
    </div>
    ${limit > 0 ? html`<svg class="meter-bar" viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true">
      <rect class="track" x="0" y="0" width="100" height="6" rx="3" />
      <rect class=${`fill-${tone}`} x="0" y="0" width=${Math.min(100, share * 100)} height="6" rx="3" />
    </svg>` : null}
  </div>`;
}
