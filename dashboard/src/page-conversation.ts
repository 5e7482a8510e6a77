/**
 * One conversation: who and where it is, its container and usage, the recent messages, and the
 * live turn view (what the agent is doing right now, from the event stream) with a Stop button
 * while a turn runs.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { Card, Empty, Mono, PageFrame, Status, When } from './blocks';
import { subscribe } from './events';
import { ago, clock, count, time, usd } from './format';
import { html } from './html';
import { useResource } from './resource';
import { act } from './toast';
import { applyEvent, emptyLog, withServerTurn, type TurnEntry, type TurnLog } from './turn-log';
import type { ConversationDetail } from './types';

const KIND_LABEL: Record<TurnEntry['kind'], string> = {
  start: 'start', text: 'text', tool_use: 'tool', tool_result: 'result', egress: 'egress', usage: 'tokens', reply: 'reply', end: 'end',
};

export function ConversationPage(props: { id: string }) {
  const { id } = props;
  const path = `/conversations/${encodeURIComponent(id)}`;
  const r = useResource<ConversationDetail>(path, (e) =>
    e.name === 'turn' && e.data.conversation === id && e.data.type !== 'progress');
  const [log, setLog] = useState<TurnLog>(emptyLog());
  const [stopping, setStopping] = useState(false);
  const [stopResult, setStopResult] = useState<string>();

  useEffect(() => subscribe((event) => setLog((l) => applyEvent(l, event, id))), [id]);
  // The page's fetch says whether a turn runs when the view opens or the stream reconnects; the
  // stream's turn_start and turn_end are newer than any fetch after that (turn-log.ts).
  useEffect(() => { if (r.data) setLog((l) => withServerTurn(l, r.data!.turn)); }, [r.data]);

  const stop = async () => {
    setStopping(true);
    const result = await act(() => api<{ result: string }>(`${path}/stop`, { body: {} }), (x) => x.result);
    setStopping(false);
    if (result) { setStopResult(result.result); r.reload(); }
  };

  const d = r.data;
  const c = d?.conversation;
  return html`<${PageFrame} id="page-conversation" title=${html`Conversation <${Mono} text=${id} />`}>
    <p class="crumbs"><a href="/dash/conversations">← Conversations</a></p>
    <${Status} loading=${r.loading} error=${r.error} hasData=${!!d} />
    ${c ? html`<div class="grid">
      <${Card} wide>
        <dl class="facts">
          <div><dt>Channel</dt><dd>${c.channel}</dd></div>
          <div><dt>Chat</dt><dd><${Mono} text=${c.chat} />${c.thread ? html` · thread <${Mono} text=${c.thread} />` : null}</dd></div>
          ${c.title ? html`<div><dt>Title</dt><dd>${c.title}</dd></div>` : null}
          <div><dt>Container</dt><dd>${c.container ? html`<${Mono} text=${c.container} />` : html`<span class="muted">none</span>`}</dd></div>
          <div><dt>Memory</dt><dd>${c.memory ? 'persistent memory on' : 'off'}</dd></div>
          <div><dt>Usage</dt><dd>${count(c.usage.requests)} ${c.usage.requests === 1 ? 'request' : 'requests'} · ${count(c.usage.tokens)} tokens · ${usd(c.usage.costUsd)}</dd></div>
          <div><dt>Last active</dt><dd><${When} iso=${c.lastActiveAt} text=${ago(c.lastActiveAt)} /></dd></div>
          <div><dt>Egress allowlist</dt><dd>${d!.egress.length ? d!.egress.map((h) => html`<${Mono} text=${h} /> `) : html`<span class="muted">none of its own</span>`}${' · '}<a class="small" href="/dash/egress">Egress</a></dd></div>
        </dl>
      <//>
    </div>` : null}
    ${d ? html`<${Card} title=${html`Live turn <span class=${`turn-state ${log.running ? 'running' : 'idle'}`} data-testid="turn-state">${log.running ? 'running' : 'idle'}</span>`} wide>
      <div class="turn-bar">
        <button type="button" class="danger" data-testid="stop-turn" disabled=${!log.running || stopping} onClick=${stop}>${stopping ? 'Stopping…' : 'Stop turn'}</button>
        ${log.turnTokens ? html`<span class="muted">${count(log.turnTokens)} tokens this turn</span>` : null}
        ${stopResult ? html`<span class="muted" data-testid="stop-result">${stopResult}</span>` : null}
      </div>
      <${TurnLogView} log=${log} />
    <//>
    <${Card} title="Recent messages" wide>
      <${Messages} detail=${d} />
    <//>` : null}
  <//>`;
}

function TurnLogView(props: { log: TurnLog }) {
  const end = useRef<HTMLOListElement>(null);
  const entries = props.log.entries;
  // Follow the newest entry unless the reader scrolled up to read an older one.
  useEffect(() => {
    const el = end.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 120) el.scrollTop = el.scrollHeight;
  }, [entries.length]);
  return html`<ol class="turn-log" data-testid="turn-log" ref=${end} aria-live="polite">
    ${entries.length === 0 ? html`<li class="muted turn-empty">Nothing yet: what the agent does in its next turn shows here as it happens.</li>` : null}
    ${entries.map((e) => html`<li key=${e.n} class=${`turn-entry k-${e.kind}${e.denied ? ' denied' : ''}${e.streaming ? ' streaming' : ''}`} data-testid="turn-entry" data-kind=${e.kind} data-streaming=${e.streaming ? 'true' : undefined}>
      <span class="k">${KIND_LABEL[e.kind]}</span>
      <span class="t"><${When} iso=${e.at} text=${clock(e.at)} /></span>
      <div class="b">
        <div class="title">${e.title}</div>
        ${e.text ? html`<pre class="text">${e.text}</pre>` : null}
      </div>
    </li>`)}
  </ol>`;
}

function Messages(props: { detail: ConversationDetail }) {
  const messages = props.detail.messages;
  if (messages.length === 0) return html`<div data-testid="messages"><${Empty}>No messages yet.<//></div>`;
  return html`<ol class="messages" data-testid="messages">
    ${messages.map((m) => html`<li class=${`msg msg-${m.direction}`}>
      <div class="msg-head"><strong>${m.direction === 'in' ? (m.sender || 'user') : 'agent'}</strong>
        <span class="muted small"><${When} iso=${m.at} text=${time(m.at)} /></span></div>
      <div class="msg-text">${m.text}</div>
    </li>`)}
  </ol>`;
}
