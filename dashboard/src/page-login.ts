/**
 * Signing in with the one-time link `nanoclaw dashboard` prints (/dash/login#code=...), and the
 * screen shown once a session has ended. The code is taken out of the address bar before anything
 * else happens, so it is not left in history, and it is spent by the POST whether or not that
 * succeeds.
 *
 *   /dash/login#code=Xk...   -> POST /dash/api/login {code} -> /dash/
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { WithCode } from './blocks';
import { html } from './html';
import { navigate } from './router';
import { session } from './session';
import type { SessionAnswer } from './types';

const NEW_LINK_HINT = html`Run <code>nanoclaw dashboard</code> on the machine NanoClaw runs on for a new login link.`;

// Read once, at load: the fragment is stripped right away and never read again.
let loginCode: string | null | undefined;
function takeCode(): string | null {
  if (loginCode === undefined) {
    loginCode = new URLSearchParams(location.hash.replace(/^#/, '')).get('code');
    if (location.hash) history.replaceState(null, '', '/dash/login');
  }
  const code = loginCode;
  loginCode = null;
  return code;
}

export function LoginPage() {
  const [state, setState] = useState<{ error?: string; busy: boolean }>({ busy: true });
  useEffect(() => {
    const code = takeCode();
    if (!code) {
      setState({ busy: false, error: 'This address has no login code.' });
      return;
    }
    api<SessionAnswer>('/login', { body: { code }, keepSessionOn401: true }).then(
      (answer) => { session.value = answer; navigate('/dash/', true); },
      (err: Error) => setState({ busy: false, error: err.message }),
    );
  }, []);
  return html`<div class="solo" data-testid="page-login">
    <div class="solo-card">
      <h1><img src="/dash/assets/icon.svg" alt="" width="28" height="28" /> NanoClaw dashboard</h1>
      ${state.busy
        ? html`<p class="muted">Signing in…</p>`
        : html`<div data-testid="login-error" role="alert">
            <p class="note note-error"><${WithCode} text=${state.error} /></p>
            ${state.error?.includes('nanoclaw dashboard') ? null : html`<p>${NEW_LINK_HINT}</p>`}
          </div>`}
    </div>
  </div>`;
}

export function SignedOutPage() {
  return html`<div class="solo" data-testid="page-signed-out">
    <div class="solo-card">
      <h1><img src="/dash/assets/icon.svg" alt="" width="28" height="28" /> Signed out</h1>
      <p>Your dashboard session ended (expired, revoked or signed out).</p>
      <p>${NEW_LINK_HINT}</p>
    </div>
  </div>`;
}
