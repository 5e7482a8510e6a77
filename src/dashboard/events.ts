import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { TurnEvent } from '../channels/channel.ts';
import type { AuditRecord } from '../audit/record.ts';
import type { Outbound } from '../store/store.ts';

/** A stream ends after this long; EventSource reconnects, and the session is checked again then. */
const MAX_STREAM_MS = 30 * 60 * 1000;
const HEARTBEAT_MS = 15_000;
/** Streams one session may hold open (a few tabs); one more is refused, so a page cannot pile them up. */
const PER_SESSION = 4;
/** Events waiting for a slow browser; past this the stream is closed (the browser reconnects and re-reads the page). */
const MAX_QUEUED = 1000;
const MAX_TEXT = 4000;

export type DashboardEvent = { event: 'turn'; data: Record<string, unknown> } | { event: 'audit'; data: AuditRecord };

const brief = (m: Outbound) => ({ id: m.id, kind: m.kind, text: m.text.slice(0, MAX_TEXT) });

/** A gateway turn event as the browser gets it: the conversation named, messages cut to what a live view shows. */
export function turnData(ev: TurnEvent): Record<string, unknown> {
  const { conversationId, ...rest } = ev;
  const out: Record<string, unknown> = { conversation: conversationId, ...rest };
  if ('message' in rest) out.message = brief(rest.message);
  if ('replies' in rest) out.replies = rest.replies.map(brief);
  if ('text' in rest && typeof rest.text === 'string') out.text = rest.text.slice(0, MAX_TEXT);
  return out;
}

/**
 * The dashboard's live event stream (`GET /dash/api/events`): the gateway's
 * turn events and each new audit record, as server-sent events. Streams are
 * counted per session and end after 30 minutes; a browser that cannot keep
 * up is cut off rather than buffered for.
 *
 *   const hub = new EventHub(subscribe);
 *   app.get('/dash/api/events', (c) => hub.stream(c, session.id, () => sessions.live(session.id)));
 */
export class EventHub {
  private readonly open = new Map<string, number>();

  constructor(private readonly subscribe: (listener: (e: DashboardEvent) => void) => () => void) {}

  /** Streams open now (the benchmark and tests read it). */
  get streams(): number {
    let n = 0;
    for (const v of this.open.values()) n += v;
    return n;
  }

  /** `alive` is asked at each heartbeat: a revoked or expired session's streams end within 15 s. */
  stream(c: Context, sessionId: string, alive: () => boolean): Response {
    const held = this.open.get(sessionId) ?? 0;
    if (held >= PER_SESSION) {
      return c.json({ error: { status: 429, message: `This session already has ${PER_SESSION} live views open; close a dashboard tab.` } }, 429);
    }
    this.open.set(sessionId, held + 1);
    return streamSSE(c, async (stream) => {
      const queue: DashboardEvent[] = [];
      let wake: (() => void) | undefined;
      let open = true;
      const close = () => { open = false; wake?.(); };
      const off = this.subscribe((e) => {
        if (queue.length >= MAX_QUEUED) return close();
        queue.push(e);
        wake?.();
      });
      stream.onAbort(close);
      const beat = setInterval(() => {
        if (!alive()) return close();
        void stream.write(': keep-alive\n\n').catch(close);
      }, HEARTBEAT_MS);
      const limit = setTimeout(close, MAX_STREAM_MS);
      try {
        await stream.writeSSE({ event: 'ready', data: '{}', retry: 3000 });
        while (open) {
          const e = queue.shift();
          if (!e) {
            await new Promise<void>((r) => { wake = r; });
            wake = undefined;
            continue;
          }
          await stream.writeSSE({ event: e.event, data: JSON.stringify(e.data), ...(e.event === 'audit' ? { id: String(e.data.seq) } : {}) });
        }
      } finally {
        off();
        clearInterval(beat);
        clearTimeout(limit);
        const n = (this.open.get(sessionId) ?? 1) - 1;
        if (n > 0) this.open.set(sessionId, n); else this.open.delete(sessionId);
      }
    });
  }
}
