/**
 * Egress: which hosts containers may reach (the global allowlist and each conversation's own
 * entries) and the latest allowed and denied requests. Allowing a host always asks first, naming
 * the exact host and conversation: the host in a denied request was chosen by the agent, and a
 * click must never widen a sandbox by surprise.
 */
import { useState } from 'preact/hooks';
import { api } from './api';
import { Badge, Card, Empty, Mono, PageFrame, Status, When } from './blocks';
import { confirmAction } from './confirm';
import { time } from './format';
import { html } from './html';
import { useResource } from './resource';
import { conversationPath } from './router';
import { act, showToast } from './toast';
import type { Egress } from './types';

export function EgressPage() {
  const r = useResource<Egress>('/egress', (e) => e.name === 'audit' && e.data.type.startsWith('egress.'));
  const eg = r.data;
  const [form, setForm] = useState({ conversation: '', host: '' });

  const allow = async (conversation: string, host: string) => {
    conversation = conversation.trim();
    host = host.trim();
    if (!conversation || !host) { showToast('Name both the conversation and the host to allow.', true); return false; }
    const yes = await confirmAction({
      title: 'Allow this host?',
      body: html`<p>Let conversation <${Mono} text=${conversation} /> reach <strong><${Mono} text=${host} /></strong> from now on?</p>
        <p class="muted">Its container's requests to this host go out through the egress proxy without being asked again, until the entry is removed.</p>`,
      yes: `Allow ${host}`,
      danger: true,
    });
    if (!yes) return false;
    const done = await act(() => api<{ allowed: string; conversation: string }>('/egress/allow', { body: { conversation, host, confirm: true } }),
      (x) => `Allowed ${x.allowed} for ${x.conversation}.`);
    if (done) r.reload();
    return !!done;
  };
  const remove = async (conversation: string, host: string) => {
    const done = await act(() => api<{ removed: boolean }>('/egress/disallow', { body: { conversation, host } }),
      (x) => (x.removed ? `Removed ${host} from ${conversation}.` : `${host} was not on ${conversation}'s allowlist.`));
    if (done) r.reload();
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    if (await allow(form.conversation, form.host)) setForm({ conversation: form.conversation, host: '' });
  };
  const known = eg ? [...new Set([...eg.conversations.map((c) => c.id), ...eg.recent.flatMap((d) => (d.conversation ? [d.conversation] : []))])] : [];

  return html`<${PageFrame} id="page-egress" title="Egress">
    <${Status} loading=${r.loading} error=${r.error} hasData=${!!eg} />
    ${eg ? html`<div class="grid">
      <${Card} title="Global allowlist">
        ${eg.global.length === 0 ? html`<${Empty}>Empty: no host is open to every conversation.<//>`
          : html`<ul class="chips">${eg.global.map((h) => html`<li><${Mono} text=${h} /></li>`)}</ul>`}
        <p class="muted small">Set in the configuration file; every conversation may reach these.</p>
      <//>
      <${Card} title="Allow a host for a conversation">
        <form class="stack" onSubmit=${submit}>
          <label>Conversation <input data-testid="egress-allow-conversation" list="egress-conversations" placeholder="c-…" required
            value=${form.conversation} onInput=${(e: Event) => setForm({ ...form, conversation: (e.currentTarget as HTMLInputElement).value })} /></label>
          <datalist id="egress-conversations">${known.map((id) => html`<option value=${id} />`)}</datalist>
          <label>Host <input data-testid="egress-allow-host" placeholder="api.example.com" required autocomplete="off" spellcheck=${false}
            value=${form.host} onInput=${(e: Event) => setForm({ ...form, host: (e.currentTarget as HTMLInputElement).value })} /></label>
          <div><button type="submit" class="primary" data-testid="egress-allow-submit">Allow…</button></div>
        </form>
      <//>
      <${Card} title="Each conversation's own entries" wide>
        ${eg.conversations.every((c) => c.entries.length === 0) ? html`<${Empty}>No conversation has entries of its own.<//>` : html`<div class="table-wrap"><table>
          <thead><tr><th>Conversation</th><th>Host</th><th>Added by</th><th>Added</th><th></th></tr></thead>
          <tbody>${eg.conversations.flatMap((c) => c.entries.map((entry) => html`<tr data-testid="egress-entry" data-entry=${entry.entry} data-conversation=${c.id}>
            <td><a href=${conversationPath(c.id)}><${Mono} text=${c.id} /></a> <span class="muted small">${c.channel} · ${c.chat}</span></td>
            <td><${Mono} text=${entry.entry} /></td>
            <td>${entry.addedBy}</td>
            <td><${When} iso=${entry.addedAt} text=${time(entry.addedAt)} /></td>
            <td class="row-actions"><button type="button" class="small-btn" data-testid="egress-remove" onClick=${() => remove(c.id, entry.entry)}>Remove</button></td>
          </tr>`))}</tbody>
        </table></div>`}
      <//>
      <${Card} title="Recent decisions" wide>
        ${eg.recent.length === 0 ? html`<${Empty}>No requests through the egress proxy yet.<//>` : html`<div class="table-wrap"><table>
          <thead><tr><th>Decision</th><th>Host</th><th>Method</th><th>Reason</th><th>Conversation</th><th>Time</th><th></th></tr></thead>
          <tbody>${eg.recent.map((d) => html`<tr data-testid="egress-decision" data-decision=${d.decision} data-host=${d.host ?? ''}>
            <td><${Badge} tone=${d.decision === 'allowed' ? 'ok' : 'bad'}>${d.decision}<//>${d.status ? html` <span class="muted small">${d.status}</span>` : null}</td>
            <td><${Mono} text=${`${d.host ?? '?'}${d.port ? `:${d.port}` : ''}`} max=${48} /></td>
            <td>${d.method ?? ''}</td>
            <td class="small">${d.reason ?? ''}</td>
            <td>${d.conversation ? html`<a href=${conversationPath(d.conversation)}><${Mono} text=${d.conversation} /></a>` : html`<span class="muted">–</span>`}</td>
            <td class="nowrap"><${When} iso=${d.ts} text=${time(d.ts)} /></td>
            <td class="row-actions">${d.decision === 'denied' && d.conversation && d.host
              ? html`<button type="button" class="small-btn" data-testid="egress-allow" onClick=${() => allow(d.conversation!, d.host!)}>Allow…</button>` : null}</td>
          </tr>`)}</tbody>
        </table></div>`}
      <//>
    </div>` : null}
  <//>`;
}
