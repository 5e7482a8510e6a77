/**
 * The one way the client talks to the gateway: same-origin fetch under /dash/api, JSON in and
 * out, the CSRF header on every POST, and the server's error message surfaced as-is (it is written
 * for people: "run `nanoclaw dashboard` for a new login link"). A 401 anywhere ends the session
 * in the page, so every screen falls back to the signed-out notice rather than half-working.
 *
 *   const list = await api<ContainerList>('/containers');
 *   await api('/containers/nc-1/stop', { body: {} });   // a body makes it a POST
 */
import { csrf, signedOut } from './session';

export const API_BASE = '/dash/api';

/** A non-2xx answer, carrying the server's own message for the user. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly body?: unknown) {
    super(message);
  }
}

export interface ApiOptions {
  /** Sends a POST with this JSON body (`{}` when there is nothing to say). */
  body?: unknown;
  /** The login call handles its own 4xx: a failed login is not "the session ended". */
  keepSessionOn401?: boolean;
}

export async function api<T>(path: string, options: ApiOptions = {}): Promise<T> {
  const post = options.body !== undefined;
  let response: Response;
  try {
    response = await fetch(API_BASE + path, {
      method: post ? 'POST' : 'GET',
      credentials: 'same-origin',
      // The login POST is the one write before a session exists: it has no token to send.
      headers: post ? { 'content-type': 'application/json', ...(csrf() ? { 'x-csrf-token': csrf() } : {}) } : { accept: 'application/json' },
      body: post ? JSON.stringify(options.body) : undefined,
    });
  } catch (err) {
    throw new ApiError(0, `Could not reach the gateway (${(err as Error).message}). Is NanoClaw running?`);
  }
  const body = await response.json().catch(() => undefined) as Record<string, unknown> | undefined;
  if (response.ok) return body as T;
  if (response.status === 401 && !options.keepSessionOn401) signedOut.value = true;
  const error = body?.error as { message?: unknown } | undefined;
  const message = typeof error?.message === 'string' && error.message
    ? error.message
    : `The gateway answered ${response.status} ${response.statusText} for ${path}.`;
  throw new ApiError(response.status, message, body);
}

/** Builds a query string from the set values only: `query({ q: '', type: 'egress' })` -> `?type=egress`. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
