/**
 * Tokens and cost over a window (today, 7, 30 or 90 days): per day against the daily global
 * budget, per provider and model, and the ten conversations that used the most; totals; and the
 * same rows as CSV.
 */
import { useState } from 'preact/hooks';
import { Card, PageFrame, Status } from './blocks';
import { ColumnChart, RowChart, type Series } from './charts';
import { compact, count, usd } from './format';
import { html } from './html';
import { useResource } from './resource';
import { sumUsage, type Keyed } from './usage-sums';
import type { UsageReport } from './types';

const WINDOWS = [{ days: 1, label: 'Today' }, { days: 7, label: '7 days' }, { days: 30, label: '30 days' }, { days: 90, label: '90 days' }];
type Metric = 'tokens' | 'cost';

const TOKEN_SERIES: Series[] = [
  { name: 'input', className: 's-input' }, { name: 'output', className: 's-output' }, { name: 'cache', className: 's-cache' },
];
const COST_SERIES: Series[] = [{ name: 'cost', className: 's-cost' }];

export function UsagePage() {
  const [days, setDays] = useState(30);
  const [chosen, setChosen] = useState<Metric | null>(null);
  const r = useResource<UsageReport>(`/usage?days=${days}`, (e) => e.name === 'audit' && e.data.type === 'model.request');
  const report = r.data;
  const sums = report ? sumUsage(report) : undefined;
  const budgets = report?.budgets;
  // Show the measure that has a daily budget, so its line is on the chart, unless the user chose.
  const metric: Metric = chosen ?? (budgets && !budgets.globalTokensPerDay && budgets.globalCostPerDayUsd ? 'cost' : 'tokens');
  const value = (k: Keyed) => (metric === 'tokens' ? k.tokens : k.costUsd);
  const fmt = metric === 'tokens' ? compact : usd;
  const title = (k: Keyed) => `${k.key}: ${count(k.tokens)} tokens (${count(k.inputTokens)} in, ${count(k.outputTokens)} out, ${count(k.cacheTokens)} cache), ${usd(k.costUsd)}, ${count(k.requests)} requests`;

  return html`<${PageFrame} id="page-usage" title="Tokens and cost"
      actions=${html`<a class="button" data-testid="usage-csv" href=${`/dash/api/usage.csv?days=${days}`} download=${`nanoclaw-usage-${days}d.csv`}>Download CSV</a>`}>
    <div class="filters">
      <div class="segmented" role="group" aria-label="Window" data-testid="usage-window">
        ${WINDOWS.map((w) => html`<button type="button" data-days=${w.days} aria-pressed=${days === w.days} class=${days === w.days ? 'on' : undefined} onClick=${() => setDays(w.days)}>${w.label}</button>`)}
      </div>
      <div class="segmented" role="group" aria-label="Measure">
        ${(['tokens', 'cost'] as const).map((m) => html`<button type="button" aria-pressed=${metric === m} class=${metric === m ? 'on' : undefined} onClick=${() => setChosen(m)}>${m === 'tokens' ? 'Tokens' : 'Cost'}</button>`)}
      </div>
    </div>
    <${Status} loading=${r.loading} error=${r.error} hasData=${!!report} />
    ${report && sums ? html`
      <div class="grid">
        <${Card} title="Totals" wide>
          <div class="stats">
            <div><span class="stat">${count(sums.total.tokens)}</span><span class="muted">tokens</span></div>
            <div><span class="stat">${usd(sums.total.costUsd)}</span><span class="muted">cost</span></div>
            <div><span class="stat">${count(sums.total.requests)}</span><span class="muted">requests</span></div>
            <div><span class="stat small-stat">${count(sums.total.inputTokens)} / ${count(sums.total.outputTokens)} / ${count(sums.total.cacheTokens)}</span><span class="muted">input / output / cache</span></div>
          </div>
          <p class="muted small">${report.from} to ${report.to} (UTC days). Daily budget: ${budgets!.globalTokensPerDay ? `${count(budgets!.globalTokensPerDay)} tokens` : 'no token limit'}, ${budgets!.globalCostPerDayUsd ? usd(budgets!.globalCostPerDayUsd) : 'no cost limit'}.</p>
        <//>
        <${Card} title=${`Per day (${metric})`} wide>
          <${ColumnChart} testid="chart-day" format=${fmt}
            series=${metric === 'tokens' ? TOKEN_SERIES : COST_SERIES}
            columns=${sums.days.map((d) => ({
              label: d.key.slice(5),
              values: metric === 'tokens' ? [d.inputTokens, d.outputTokens, d.cacheTokens] : [d.costUsd],
              title: title(d),
            }))}
            budget=${metric === 'tokens' ? budgets!.globalTokensPerDay : budgets!.globalCostPerDayUsd}
            budgetLabel=${metric === 'tokens' ? `daily budget ${compact(budgets!.globalTokensPerDay)}` : `daily budget ${usd(budgets!.globalCostPerDayUsd)}`} />
          ${metric === 'tokens' ? html`<div class="legend">${TOKEN_SERIES.map((s) => html`<span><i class=${s.className}></i>${s.name}</span>`)}</div>` : null}
        <//>
        <${Card} title=${`Per provider and model (${metric})`} wide>
          <${RowChart} testid="chart-model" format=${fmt} rows=${sums.models.map((k) => ({ label: k.key, value: value(k), title: title(k) }))} />
        <//>
        <${Card} title=${`Per conversation, top 10 (${metric})`} wide>
          <${RowChart} testid="chart-conversation" format=${fmt} className="s-conv" rows=${sums.conversations.map((k) => ({ label: k.key, value: value(k), title: title(k) }))} />
        <//>
      </div>` : null}
  <//>`;
}
