/**
 * Audit log: the hash-chained records newest first, filtered by type prefix and conversation,
 * paged with "Older"; a row opens its full JSON. "Verify chain" re-checks every link on the server
 * and shows where the chain broke, if it did.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, query } from './api';
import { Badge, Empty, Mono, PageFrame, Status, When } from './blocks';
import { count, shortHash, time } from './format';
import { html } from './html';
import { conversationPath } from './router';
import { subscribe } from './events';
import type { AuditPage as AuditAnswer, AuditRecord, Verification } from './types';

const PAGE = 50;
const MAX_SHOWN = 2_000;

function matches(rec: AuditRecord, filters: { type: string; conversation: string }): boolean {
  return typeof rec.seq === 'number' && rec.type.startsWith(filters.type) && (!filters.conversation || rec.conversation === filters.conversation);
}

/** One line of the record's data: `host=api.example.com port=443 method=GET`, cut to fit a table cell. */
export function summarize(data: Record<string, unknown> | undefined): string {
  if (!data || typeof data !== 'object') return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    parts.push(`${key}=${text && text.length > 60 ? `${text.slice(0, 59)}…` : text}`);
    if (parts.join(' ').length > 160) break;
  }
  const line = parts.join(' ');
  return line.length > 180 ? `${line.slice(0, 179)}…` : line;
}

export function AuditPage() {
  const [typed, setTyped] = useState({ type: '', conversation: '' });
  const [filters, setFilters] = useState({ type: '', conversation: '' });
  const [records, setRecords] = useState<AuditRecord[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [state, setState] = useState<{ loading: boolean; error?: string }>({ loading: true });
  const [open, setOpen] = useState<number | null>(null);
  const [fresh, setFresh] = useState(0);
  const [verify, setVerify] = useState<{ busy: boolean; result?: Verification; error?: string }>({ busy: false });

  useEffect(() => {
    const timer = setTimeout(() => setFilters({ type: typed.type.trim(), conversation: typed.conversation.trim() }), 300);
    return () => clearTimeout(timer);
  }, [typed.type, typed.conversation]);

  // The first page loads on open, on a filter change and after the stream (re)connects; records
  // that arrive live are put on top when they match the filters, so pages already loaded with
  // "Older" stay where they are.
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    api<AuditAnswer>(`/audit${query({ ...filters, limit: PAGE })}`).then(
      (page) => { if (current) { setRecords(page.records); setNext(page.next); setState({ loading: false }); } },
      (err: Error) => { if (current) setState({ loading: false, error: err.message }); },
    );
    return () => { current = false; };
  }, [filters, fresh]);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = subscribe((e) => {
      if (e.name === 'ready') {
        timer ??= setTimeout(() => { timer = undefined; setFresh((n) => n + 1); }, 1_000);
      } else if (e.name === 'audit' && matches(e.data, filters)) {
        const rec = e.data;
        setRecords((r) => (r.length && r[0].seq >= rec.seq ? r : [rec, ...r].slice(0, MAX_SHOWN)));
      }
    });
    return () => { off(); clearTimeout(timer); };
  }, [filters]);

  const older = async () => {
    if (next === null) return;
    setState({ loading: true });
    try {
      const page = await api<AuditAnswer>(`/audit${query({ ...filters, before: next, limit: PAGE })}`);
      setRecords((r) => [...r, ...page.records.filter((x) => !r.some((y) => y.seq === x.seq))]);
      setNext(page.next);
      setState({ loading: false });
    } catch (err) {
      setState({ loading: false, error: (err as Error).message });
    }
  };
  const runVerify = async () => {
    setVerify({ busy: true });
    try {
      setVerify({ busy: false, result: await api<Verification>('/audit/verify', { body: {} }) });
    } catch (err) {
      setVerify({ busy: false, error: (err as Error).message });
    }
  };
  const input = (key: 'type' | 'conversation') => (e: Event) => setTyped((t) => ({ ...t, [key]: (e.currentTarget as HTMLInputElement).value }));

  return html`<${PageFrame} id="page-audit" title="Audit log"
      actions=${html`<button type="button" class="primary" data-testid="verify-chain" disabled=${verify.busy} onClick=${runVerify}>${verify.busy ? 'Verifying…' : 'Verify chain'}</button>`}>
    ${verify.error ? html`<p class="note note-error" role="alert">${verify.error}</p>` : null}
    ${verify.result ? html`<${VerifyResult} v=${verify.result} />` : null}
    <div class="filters">
      <label>Type <input data-testid="audit-filter-type" placeholder="prefix, e.g. egress." value=${typed.type} onInput=${input('type')} /></label>
      <label>Conversation <input placeholder="c-…" value=${typed.conversation} onInput=${input('conversation')} /></label>
    </div>
    <${Status} loading=${state.loading} error=${state.error} hasData=${records.length > 0} />
    ${!state.loading && !state.error && records.length === 0 ? html`<${Empty}>No audit records match.<//>` : null}
    ${records.length ? html`<div class="table-wrap"><table class="audit">
      <thead><tr><th class="num">Seq</th><th>Time</th><th>Type</th><th>Actor</th><th>Conversation</th><th>Data</th></tr></thead>
      <tbody>${records.map((rec) => html`
        <tr class="clickable" data-testid="audit-row" data-seq=${rec.seq} aria-expanded=${open === rec.seq}
            onClick=${(e: MouseEvent) => { if (!(e.target as Element).closest('a')) setOpen(open === rec.seq ? null : rec.seq); }}>
          <td class="num mono">${rec.seq}</td>
          <td class="nowrap"><${When} iso=${rec.ts} text=${time(rec.ts)} /></td>
          <td><span class=${`type t-${rec.type.split('.')[0]}${rec.type.endsWith('denied') ? ' t-denied' : ''}`}>${rec.type}</span></td>
          <td>${rec.actor ?? html`<span class="muted">–</span>`}</td>
          <td>${rec.conversation ? html`<a href=${conversationPath(rec.conversation)}><${Mono} text=${rec.conversation} max=${14} /></a>` : html`<span class="muted">–</span>`}</td>
          <td class="summary"><code>${summarize(rec.data)}</code></td>
        </tr>
        ${open === rec.seq ? html`<tr class="expanded"><td colspan="6"><pre class="json">${JSON.stringify(rec, null, 2)}</pre></td></tr>` : null}`)}
      </tbody>
    </table></div>` : null}
    ${next !== null ? html`<p><button type="button" data-testid="audit-more" disabled=${state.loading} onClick=${older}>Older</button></p>` : null}
  <//>`;
}

function VerifyResult(props: { v: Verification }) {
  const { v } = props;
  return html`<div class=${`verify ${v.ok ? 'verify-ok' : 'verify-bad'}`} data-testid="verify-result" data-ok=${v.ok ? 'true' : 'false'} role="status">
    <div class="verify-head">
      <${Badge} tone=${v.ok ? 'ok' : 'bad'}>${v.ok ? 'chain ok' : 'BROKEN'}<//>
      <span>head ${v.head ? html`seq ${v.head.seq} <${Mono} text=${shortHash(v.head.hash)} />` : 'none'}</span>
      <span>· ${count(v.records)} records checked</span>
      <span class="muted">· ${v.ms} ms · <${When} iso=${v.at} text=${time(v.at)} /></span>
    </div>
    ${v.firstProblem ? html`<div class="first-problem">First broken link: line ${v.firstProblem.line}${v.firstProblem.seq !== undefined ? `, seq ${v.firstProblem.seq}` : ''}: <strong>${v.firstProblem.problem}</strong></div>` : null}
    ${v.problems.length > 1 ? html`<details><summary>${v.problems.length} problems</summary><ul>
      ${v.problems.map((p) => html`<li>line ${p.line}${p.seq !== undefined ? `, seq ${p.seq}` : ''}: ${p.problem}</li>`)}
    </ul></details>` : null}
  </div>`;
}
