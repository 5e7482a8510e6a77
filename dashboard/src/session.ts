/**
 * The signed-in session, held in memory only: the CSRF token never goes to localStorage,
 * sessionStorage or a cookie the page can read, so a reload asks the server again (GET /session)
 * and a stolen disk profile holds nothing but the HttpOnly cookie.
 *
 *   if (signedOut.value) return html`<${SignedOut} />`;
 *   headers['x-csrf-token'] = csrf();
 */
import { signal } from '@preact/signals';
import type { SessionAnswer } from './types';

/** The current session (null before GET /session or POST /login answered). */
export const session = signal<SessionAnswer | null>(null);

/** Set once any API call answered 401: the page shows the signed-out screen from then on. */
export const signedOut = signal(false);

/** The CSRF token every POST and the event stream carry. */
export function csrf(): string {
  return session.value?.csrf ?? '';
}
