/**
 * The application frame: it finds out whether there is a session (GET /session), then shows the
 * header (install name, session id, live indicator, Sign out), the left navigation and the page
 * the URL names. Without a session it shows the login or signed-out screen and nothing else.
 *
 *   render(html`<${App} />`, document.getElementById('app')!);
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { Mono } from './blocks';
import { ConfirmHost } from './confirm';
import { liveState, startEvents, stopEvents, type LiveState } from './events';
import { html } from './html';
import { LoginPage, SignedOutPage } from './page-login';
import { AuditPage } from './page-audit';
import { ContainersPage } from './page-containers';
import { ConversationPage } from './page-conversation';
import { ConversationsPage } from './page-conversations';
import { EgressPage } from './page-egress';
import { OverviewPage } from './page-overview';
import { PairingPage } from './page-pairing';
import { UsagePage } from './page-usage';
import { parseRoute, route, type Page } from './router';
import { session, signedOut } from './session';
import { act, ToastHost } from './toast';
import type { SessionAnswer } from './types';

const NAV: { page: Page; path: string; label: string }[] = [
  { page: 'overview', path: '/dash/', label: 'Overview' },
  { page: 'conversations', path: '/dash/conversations', label: 'Conversations' },
  { page: 'containers', path: '/dash/containers', label: 'Containers' },
  { page: 'audit', path: '/dash/audit', label: 'Audit log' },
  { page: 'usage', path: '/dash/usage', label: 'Tokens and cost' },
  { page: 'pairing', path: '/dash/pairing', label: 'Pairing' },
  { page: 'egress', path: '/dash/egress', label: 'Egress' },
];

const LIVE_TEXT: Record<LiveState, string> = {
  off: 'offline', connecting: 'connecting…', connected: 'live', paused: 'paused (tab hidden)', reconnecting: 'reconnecting…',
};

export function App() {
  const current = parseRoute(route.value);
  const out = signedOut.value;
  useEffect(() => { if (out) stopEvents(); }, [out]);
  if (out) return html`<${SignedOutPage} />`;
  if (current.page === 'login') return html`<${LoginPage} /><${ToastHost} />`;
  if (!session.value) return html`<${Boot} />`;
  return html`<${Shell} page=${current.page} id=${current.id} />`;
}

/** Asks the server for the session the cookie names; a 401 turns into the signed-out screen. */
function Boot() {
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<SessionAnswer>('/session').then((answer) => { session.value = answer; }, (err: Error) => setError(err.message));
  }, []);
  return html`<div class="boot">
    ${error ? html`<p class="note note-error" role="alert">${error}</p>` : html`<p class="muted">Opening the dashboard…</p>`}
  </div>`;
}

function Shell(props: { page: Page; id?: string }) {
  useEffect(() => { startEvents(); }, []);
  const info = session.value!;
  const live = liveState.value;
  const signOut = async () => {
    const done = await act(() => api('/logout', { body: {} }), () => 'Signed out.');
    if (done) { stopEvents(); signedOut.value = true; }
  };
  const navPage = props.page === 'conversation' ? 'conversations' : props.page;
  return html`<div class="shell">
    <header class="top">
      <a class="brand" href="/dash/"><img src="/dash/assets/icon.svg" alt="" width="22" height="22" /><span>NanoClaw</span></a>
      <span class="install mono" title="This install's dashboard name">${info.name ?? location.hostname}</span>
      <span class="spacer"></span>
      <span class=${`live live-${live}`} title="Live event stream" data-testid="live-state" data-state=${live}><i></i>${LIVE_TEXT[live]}</span>
      <span class="session muted">session <${Mono} text=${info.session.id} /></span>
      <button type="button" class="quiet" data-testid="sign-out" onClick=${signOut}>Sign out</button>
    </header>
    <nav class="side" aria-label="Dashboard">
      ${NAV.map((item) => html`<a href=${item.path} data-testid=${`nav-${item.page}`}
          class=${item.page === navPage ? 'active' : undefined} aria-current=${item.page === navPage ? 'page' : undefined}>${item.label}</a>`)}
    </nav>
    <main class="main">${pageFor(props.page, props.id)}</main>
    <${ConfirmHost} />
    <${ToastHost} />
  </div>`;
}

function pageFor(page: Page, id?: string) {
  switch (page) {
    case 'overview': return html`<${OverviewPage} />`;
    case 'conversations': return html`<${ConversationsPage} />`;
    case 'conversation': return html`<${ConversationPage} key=${id} id=${id!} />`;
    case 'containers': return html`<${ContainersPage} />`;
    case 'audit': return html`<${AuditPage} />`;
    case 'usage': return html`<${UsagePage} />`;
    case 'pairing': return html`<${PairingPage} />`;
    case 'egress': return html`<${EgressPage} />`;
    default: return html`<section class="page"><h1>Not found</h1><p>There is no dashboard page at this address. <a href="/dash/">Overview</a></p></section>`;
  }
}
