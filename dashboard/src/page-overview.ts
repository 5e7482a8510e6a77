/**
 * Overview: is everything up (gateway, container runtime, proxies, each channel with what to do
 * when it is not), what runs now, today's tokens and cost against the budgets, pairing requests
 * waiting, and when the audit chain was last verified.
 */
import { Badge, Card, Mono, PageFrame, Status, When, type Tone } from './blocks';
import { BudgetMeter } from './charts';
import { ago, bytes, count, duration, shortHash, usd } from './format';
import { html } from './html';
import { useResource } from './resource';
import type { ChannelState, Overview } from './types';

const CHANNEL_TONE: Record<ChannelState, Tone> = { connected: 'ok', starting: 'idle', reconnecting: 'warn', failed: 'bad' };

export function OverviewPage() {
  const r = useResource<Overview>('/overview', (e) =>
    e.name === 'audit' || (e.name === 'turn' && (e.data.type === 'turn_start' || e.data.type === 'turn_end' || e.data.type === 'container')));
  const o = r.data;
  return html`<${PageFrame} id="page-overview" title="Overview">
    <${Status} loading=${r.loading} error=${r.error} hasData=${!!o} />
    ${o ? html`<div class="grid">
      <${Card} title="Health" testid="overview-health" wide>
        <div class="health">
          <div class="health-item">
            <div class="health-head"><strong>Gateway</strong> <${Badge} tone="ok">up<//></div>
            <div class="muted">v${o.gateway.version} · up ${duration(o.gateway.uptimeSec)} · ${bytes(o.gateway.rssBytes)} RSS · Node ${o.gateway.node} · pid ${o.gateway.pid}</div>
          </div>
          <div class="health-item">
            <div class="health-head"><strong>Container runtime</strong> <${Badge} tone=${o.runtime.ok ? 'ok' : 'bad'}>${o.runtime.ok ? 'ok' : 'failing'}<//></div>
            <div class="muted">${o.runtime.engine}${o.runtime.version ? ` ${o.runtime.version}` : ''}</div>
            ${o.runtime.error ? html`<div class="detail-bad">${o.runtime.error}</div>` : null}
          </div>
          <div class="health-item">
            <div class="health-head"><strong>Proxies</strong> <${Badge} tone=${o.proxies.ok ? 'ok' : 'bad'}>${o.proxies.ok ? 'ok' : 'failing'}<//></div>
            <div class="muted">${o.proxies.detail} · ${count(o.proxies.containers)} containers served</div>
          </div>
          ${o.channels.map((c) => html`<div class="health-item" data-testid="channel-health" data-name=${c.name} data-state=${c.state}>
            <div class="health-head"><strong>${c.name}</strong> <${Badge} tone=${CHANNEL_TONE[c.state] ?? 'idle'}>${c.state}<//></div>
            ${c.detail ? html`<div class=${c.state === 'failed' ? 'detail-bad' : 'muted'}>${c.detail}</div>` : null}
            ${c.action ? html`<div class="action-hint">${c.action}</div>` : null}
            ${c.since ? html`<div class="muted small">since <${When} iso=${c.since} text=${ago(c.since)} /></div>` : null}
          </div>`)}
        </div>
      <//>
      <${Card} title="Containers">
        <div class="stats">
          <div><span class="stat">${count(o.containers.live)}</span><span class="muted">live</span></div>
          <div><span class="stat">${count(o.containers.busy)}</span><span class="muted">busy</span></div>
          <div><span class="stat">${count(o.containers.pool)}</span><span class="muted">in the pool</span></div>
        </div>
        <p class="muted small">${count(o.conversations.total)} conversations, ${count(o.conversations.busy)} running a turn. <a href="/dash/containers">Containers</a></p>
      <//>
      <${Card} title="Today" testid="overview-today">
        <p class="muted small">${count(o.today.requests)} model requests (UTC day)</p>
        <${BudgetMeter} label="Tokens" used=${o.today.tokens} limit=${o.today.budgets.globalTokensPerDay} format=${count} />
        <${BudgetMeter} label="Cost" used=${o.today.costUsd} limit=${o.today.budgets.globalCostPerDayUsd} format=${usd} />
        <p class="muted small">${`Per conversation: ${o.today.budgets.conversationTokensPerDay ? `${count(o.today.budgets.conversationTokensPerDay)} tokens` : 'no token limit'}, ${o.today.budgets.conversationCostPerDayUsd ? usd(o.today.budgets.conversationCostPerDayUsd) : 'no cost limit'} a day. `}<a href="/dash/usage">Tokens and cost</a></p>
      <//>
      <${Card} title="Pairing" testid="overview-pairings">
        <div class="stats"><div><span class="stat">${count(o.pairings.pending)}</span><span class="muted">pending requests</span></div></div>
        <p class="small"><a href="/dash/pairing">${o.pairings.pending ? 'Review the requests' : 'Pairing'}</a></p>
      <//>
      <${Card} title="Audit chain" testid="overview-audit">
        ${auditSummary(o)}
        <p class="small"><a href="/dash/audit">Audit log</a></p>
      <//>
    </div>` : null}
  <//>`;
}

function auditSummary(o: Overview) {
  const v = o.audit.lastVerification;
  const head = o.audit.head;
  return html`
    <p class="muted small">Head ${head ? html`#${head.seq} <${Mono} text=${shortHash(head.hash)} />` : 'none (no records yet)'}</p>
    ${v
      ? html`<p><${Badge} tone=${v.ok ? 'ok' : 'bad'}>${v.ok ? 'verified' : 'BROKEN'}<//>
          <span class="muted"> ${count(v.records)} records, <${When} iso=${v.at} text=${ago(v.at)} /></span></p>
          ${v.firstProblem ? html`<p class="detail-bad">line ${v.firstProblem.line}: ${v.firstProblem.problem}</p>` : null}`
      : html`<p class="muted">Not verified since the gateway started.</p>`}`;
}
