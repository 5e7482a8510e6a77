/**
 * Containers: every live container (its conversation, security profile and OCI runtime, uptime, memory and pids)
 * with a Stop button that asks first, the warm pool, and the containers that ended lately with
 * the reason each one ended.
 */
import { api } from './api';
import { Badge, Card, Empty, Mono, PageFrame, Status, When } from './blocks';
import { confirmAction } from './confirm';
import { ago, bytes, count, duration } from './format';
import { html } from './html';
import { useResource } from './resource';
import { conversationPath } from './router';
import { act } from './toast';
import type { ContainerInfo, ContainerList } from './types';

export function ContainersPage() {
  const r = useResource<ContainerList>('/containers', (e) =>
    e.name === 'turn' && (e.data.type === 'container' || e.data.type === 'turn_start' || e.data.type === 'turn_end'));
  const list = r.data;
  const stop = async (c: ContainerInfo) => {
    const yes = await confirmAction({
      title: 'Stop this container?',
      body: html`<p>Stop <${Mono} text=${c.name} />${c.conversation ? html` (conversation <${Mono} text=${c.conversation} />)` : null}?</p>
        <p class="muted">A turn running in it ends now; the conversation gets a new container with its next message.</p>`,
      yes: 'Stop container',
      danger: true,
    });
    if (!yes) return;
    const done = await act(() => api<{ stopped: boolean; result: string }>(`/containers/${encodeURIComponent(c.name)}/stop`, { body: {} }), (x) => x.result);
    if (done) r.reload();
  };
  return html`<${PageFrame} id="page-containers" title="Containers"
      actions=${list ? html`<span class="muted">${list.runtime.engine}${list.runtime.version ? ` ${list.runtime.version}` : ''} · ${count(list.pool)} warm in the pool</span>` : null}>
    <${Status} loading=${r.loading} error=${r.error} hasData=${!!list} />
    ${list ? html`
      ${list.containers.length === 0 ? html`<${Empty}>No containers running.<//>` : html`<div class="table-wrap"><table>
        <thead><tr><th>Name</th><th>Conversation</th><th>Profile</th><th>State</th><th>Uptime</th><th class="num">Memory</th><th class="num">PIDs</th><th></th></tr></thead>
        <tbody>${list.containers.map((c) => html`<tr data-testid="container-row" data-name=${c.name}>
          <td><${Mono} text=${c.name} /></td>
          <td>${c.conversation ? html`<a href=${conversationPath(c.conversation)}><${Mono} text=${c.conversation} /></a>` : html`<span class="muted">pool</span>`}</td>
          <td><${Badge} tone=${c.runtime === 'runsc' ? 'ok' : 'idle'}>${c.profile} · ${c.runtime}<//></td>
          <td>${c.busy ? html`<${Badge} tone="busy">busy<//>` : html`<${Badge} tone="idle">${c.state || 'idle'}<//>`}</td>
          <td><${When} iso=${c.createdAt} text=${duration(c.uptimeSec)} /></td>
          <td class="num">${bytes(c.memoryBytes)}${c.memoryLimitBytes ? html`<span class="muted"> / ${bytes(c.memoryLimitBytes)}</span>` : null}</td>
          <td class="num">${count(c.pids)}</td>
          <td class="row-actions">${c.conversation
            ? html`<button type="button" class="danger small-btn" data-testid="stop-container" onClick=${() => stop(c)}>Stop</button>`
            : html`<span class="muted small" title="A warm container no conversation has taken yet">warm</span>`}</td>
        </tr>`)}</tbody>
      </table></div>`}
      <${Card} title="Recently ended" wide>
        <div data-testid="containers-recent">
          ${list.recent.length === 0 ? html`<${Empty}>No container has ended yet.<//>` : html`<div class="table-wrap"><table>
            <thead><tr><th>Name</th><th>Conversation</th><th>Started</th><th>Ended</th><th>Reason</th></tr></thead>
            <tbody>${list.recent.map((c) => html`<tr>
              <td><${Mono} text=${c.name} /></td>
              <td>${c.conversation ? html`<a href=${conversationPath(c.conversation)}><${Mono} text=${c.conversation} /></a>` : html`<span class="muted">pool</span>`}</td>
              <td><${When} iso=${c.createdAt} text=${ago(c.createdAt)} /></td>
              <td><${When} iso=${c.endedAt} text=${ago(c.endedAt)} /></td>
              <td>${c.reason}</td>
            </tr>`)}</tbody>
          </table></div>`}
        </div>
      <//>` : null}
  <//>`;
}
