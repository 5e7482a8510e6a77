/**
 * The live event stream (GET /dash/api/events, server-sent events) shared by every page. It is
 * closed while the tab is hidden and opened again when it is shown, so a dashboard left in a
 * background tab costs the gateway nothing; the server's `ready` on each (re)connect tells pages
 * to fetch again, which covers whatever happened while the stream was closed.
 *
 *   const off = subscribe((e) => { if (e.name === 'audit') console.log(e.data.type); });
 *   startEvents();   // after the session is known (the stream carries its CSRF token)
 */
import { signal } from '@preact/signals';
import { api, API_BASE } from './api';
import { csrf, session } from './session';
import type { AuditRecord, LiveEvent, SessionAnswer, TurnEvent } from './types';

/** What the header's live indicator shows. */
export type LiveState = 'off' | 'connecting' | 'connected' | 'paused' | 'reconnecting';
export const liveState = signal<LiveState>('off');

type Listener = (event: LiveEvent) => void;
const RETRY_FIRST_MS = 3_000;
const RETRY_MAX_MS = 60_000;
const listeners = new Set<Listener>();
let source: EventSource | null = null;
let wanted = false;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
/** Grows while the stream keeps failing (a restart, too many tabs: 429), back to the start on `ready`. */
let retryMs = RETRY_FIRST_MS;

/** Calls `listener` with every event until the returned function is called. */
export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function startEvents(): void {
  if (wanted) return;
  wanted = true;
  document.addEventListener('visibilitychange', onVisibility);
  open();
}

export function stopEvents(): void {
  wanted = false;
  document.removeEventListener('visibilitychange', onVisibility);
  close();
  liveState.value = 'off';
}

function onVisibility(): void {
  if (document.hidden) {
    close();
    liveState.value = 'paused';
  } else {
    open();
  }
}

function close(): void {
  clearTimeout(retryTimer);
  retryTimer = undefined;
  source?.close();
  source = null;
}

function emit(event: LiveEvent): void {
  for (const listener of [...listeners]) {
    try {
      listener(event);
    } catch (err) {
      console.error('dashboard: an event listener failed', err);
    }
  }
}

function parse<T>(message: MessageEvent): T | undefined {
  try {
    const data = JSON.parse(String(message.data)) as unknown;
    return data && typeof data === 'object' ? data as T : undefined;
  } catch {
    return undefined;
  }
}

function open(): void {
  if (!wanted || source) return;
  if (document.hidden) { liveState.value = 'paused'; return; }
  liveState.value = liveState.value === 'off' ? 'connecting' : 'reconnecting';
  const stream = new EventSource(`${API_BASE}/events?csrf=${encodeURIComponent(csrf())}`);
  source = stream;
  stream.addEventListener('open', () => { liveState.value = 'connected'; });
  stream.addEventListener('ready', () => {
    liveState.value = 'connected';
    retryMs = RETRY_FIRST_MS;
    emit({ name: 'ready' });
  });
  stream.addEventListener('turn', (message) => {
    const data = parse<TurnEvent>(message);
    if (data && typeof data.conversation === 'string') emit({ name: 'turn', data });
  });
  stream.addEventListener('audit', (message) => {
    const data = parse<AuditRecord>(message);
    if (data && typeof data.type === 'string') emit({ name: 'audit', data });
  });
  stream.addEventListener('error', () => {
    if (source !== stream) return;
    liveState.value = 'reconnecting';
    // CONNECTING: the browser retries by itself (the server ends streams every 30 minutes).
    // CLOSED: it gave up (a 401, a 429 for too many tabs, a restart); ask whether the session
    // still holds (a 401 there shows the signed-out screen) and try again, less often each time.
    if (stream.readyState !== EventSource.CLOSED) return;
    source = null;
    const wait = retryMs;
    retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      api<SessionAnswer>('/session').then(
        (answer) => { session.value = { ...session.value, ...answer }; open(); },
        () => { if (wanted && !document.hidden) retryTimer = setTimeout(open, retryMs); },
      );
    }, wait);
  });
}
