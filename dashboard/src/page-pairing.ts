/**
 * Pairing: senders who asked to talk to the assistant, with their code and how long it stays
 * valid, to approve or reject; and the senders already approved.
 */
import { api } from './api';
import { Card, Empty, Mono, PageFrame, Status, When } from './blocks';
import { ago, time } from './format';
import { html } from './html';
import { useResource } from './resource';
import { act } from './toast';
import type { Pairing, PairingRequest } from './types';

export function PairingPage() {
  const r = useResource<Pairing>('/pairing', (e) => e.name === 'audit' && e.data.type.startsWith('pairing.'));
  const p = r.data;
  const approve = async (req: PairingRequest) => {
    const done = await act(() => api<{ approved: { channel: string; sender: string } }>('/pairing/approve', { body: { code: req.code } }),
      (x) => `Approved ${x.approved.sender} on ${x.approved.channel}.`);
    if (done) r.reload();
  };
  const reject = async (req: PairingRequest) => {
    const done = await act(() => api('/pairing/reject', { body: { channel: req.channel, sender: req.sender } }),
      () => `Rejected ${req.sender} on ${req.channel}.`);
    if (done) r.reload();
  };
  return html`<${PageFrame} id="page-pairing" title="Pairing">
    <${Status} loading=${r.loading} error=${r.error} hasData=${!!p} />
    ${p ? html`
      <${Card} title="Pending requests" wide>
        ${p.pending.length === 0 ? html`<${Empty}>No one is waiting.<//>` : html`<div class="table-wrap"><table>
          <thead><tr><th>Channel</th><th>Sender</th><th>Code</th><th>Asked</th><th>Expires</th><th></th></tr></thead>
          <tbody>${p.pending.map((req) => html`<tr data-testid="pairing-row" data-code=${req.code}>
            <td>${req.channel}</td>
            <td><${Mono} text=${req.sender} max=${40} /></td>
            <td><code class="mono code-pill">${req.code}</code></td>
            <td><${When} iso=${req.requestedAt} text=${ago(req.requestedAt)} /></td>
            <td><${When} iso=${req.expiresAt} text=${ago(req.expiresAt)} /></td>
            <td class="row-actions">
              <button type="button" class="primary small-btn" data-testid="pairing-approve" onClick=${() => approve(req)}>Approve</button>
              <button type="button" class="small-btn" data-testid="pairing-reject" onClick=${() => reject(req)}>Reject</button>
            </td>
          </tr>`)}</tbody>
        </table></div>`}
      <//>
      <${Card} title="Approved senders" wide>
        ${p.approved.length === 0 ? html`<${Empty}>No approved senders yet.<//>` : html`<div class="table-wrap"><table>
          <thead><tr><th>Channel</th><th>Sender</th><th>Approved</th></tr></thead>
          <tbody>${p.approved.map((a) => html`<tr data-testid="approved-row">
            <td>${a.channel}</td>
            <td><${Mono} text=${a.sender} max=${60} /></td>
            <td>${a.approvedAt ? html`<${When} iso=${a.approvedAt} text=${time(a.approvedAt)} />` : html`<span class="muted">from config</span>`}</td>
          </tr>`)}</tbody>
        </table></div>`}
      <//>` : null}
  <//>`;
}
