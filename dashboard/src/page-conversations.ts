/**
 * Conversations: every conversation with its channel, chat, container and today's usage,
 * filtered by channel, state (busy, idle, live) and a search; a row opens the conversation.
 */
import { useEffect, useState } from 'preact/hooks';
import { query } from './api';
import { Badge, Empty, Mono, PageFrame, Status, When } from './blocks';
import { ago, count, usd } from './format';
import { html } from './html';
import { useResource } from './resource';
import { conversationPath, navigate } from './router';
import type { ConversationList } from './types';

export function ConversationsPage() {
  const [channel, setChannel] = useState('');
  const [state, setState] = useState('');
  const [typed, setTyped] = useState('');
  const [search, setSearch] = useState('');
  // The search goes to the server a moment after typing stops, not on every key.
  useEffect(() => {
    const timer = setTimeout(() => setSearch(typed.trim()), 300);
    return () => clearTimeout(timer);
  }, [typed]);
  const r = useResource<ConversationList>(`/conversations${query({ channel, state, q: search })}`,
    (e) => e.name === 'turn' && e.data.type !== 'progress');
  const list = r.data;
  const value = (e: Event) => (e.currentTarget as HTMLInputElement | HTMLSelectElement).value;
  return html`<${PageFrame} id="page-conversations" title="Conversations">
    <div class="filters">
      <label>Channel <select data-testid="conv-filter-channel" value=${channel} onChange=${(e: Event) => setChannel(value(e))}>
        <option value="">all</option>
        ${(list?.channels ?? (channel ? [channel] : [])).map((c) => html`<option value=${c}>${c}</option>`)}
      </select></label>
      <label>State <select data-testid="conv-filter-state" value=${state} onChange=${(e: Event) => setState(value(e))}>
        <option value="">all</option><option value="busy">busy</option><option value="idle">idle</option><option value="live">live container</option>
      </select></label>
      <label class="grow">Search <input type="search" data-testid="conv-search" placeholder="chat, thread or id" value=${typed}
        onInput=${(e: Event) => setTyped(value(e))} /></label>
    </div>
    <${Status} loading=${r.loading} error=${r.error} hasData=${!!list} />
    ${list && list.conversations.length === 0 ? html`<${Empty}>No conversations match.<//>` : null}
    ${list && list.conversations.length > 0 ? html`<div class="table-wrap"><table>
      <thead><tr><th>Conversation</th><th>Channel</th><th>Chat</th><th>State</th><th>Container</th><th>Last active</th><th class="num">Tokens</th><th class="num">Cost</th></tr></thead>
      <tbody>${list.conversations.map((c) => html`<tr class="clickable" data-testid="conv-row" data-id=${c.id}
          onClick=${(e: MouseEvent) => { if (!(e.target as Element).closest('a')) navigate(conversationPath(c.id)); }}>
        <td><a href=${conversationPath(c.id)}><${Mono} text=${c.id} /></a>${c.title ? html`<div class="small">${c.title}</div>` : null}</td>
        <td>${c.channel}</td>
        <td><${Mono} text=${c.chat} max=${28} />${c.thread ? html`<div class="muted small">thread <${Mono} text=${c.thread} max=${20} /></div>` : null}</td>
        <td>${c.busy ? html`<${Badge} tone="busy">busy<//>` : html`<${Badge} tone="idle">idle<//>`}${c.memory ? html` <${Badge} tone="idle">memory<//>` : null}</td>
        <td>${c.container ? html`<${Mono} text=${c.container} max=${24} />` : html`<span class="muted">none</span>`}</td>
        <td class="nowrap"><${When} iso=${c.lastActiveAt} text=${ago(c.lastActiveAt)} /></td>
        <td class="num">${count(c.usage.tokens)}</td>
        <td class="num">${usd(c.usage.costUsd)}</td>
      </tr>`)}</tbody>
    </table></div>` : null}
  <//>`;
}
