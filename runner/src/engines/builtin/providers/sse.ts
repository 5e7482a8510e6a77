/**
 * The event stream of a streamed model answer, read with eventsource-parser
 * and bounded: one event larger than MAX_EVENT_CHARS ends the answer with a
 * `stream` error instead of growing memory, and the caller's signal cancels
 * the read at once, even while the server is silent.
 *
 *   for await (const ev of sseEvents(res.body, signal, 'Anthropic API')) console.log(ev.event, ev.data);
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ProviderError } from '../model.ts';
import { abortedError } from './errors.ts';

/** The largest single event accepted (characters): far above any real delta or usage chunk. */
export const MAX_EVENT_CHARS = 4 * 1024 * 1024;

/**
 * Yields each complete event; comment lines (`: OPENROUTER PROCESSING`) are
 * skipped by the parser. Throws `aborted` when the signal fires and a
 * `stream` error when the connection breaks; a clean end just returns, and
 * the caller decides whether the answer was complete.
 */
export async function* sseEvents(body: ReadableStream<Uint8Array> | null, signal: AbortSignal, what: string): AsyncGenerator<EventSourceMessage> {
  if (!body) throw new ProviderError('stream', `The ${what} answered 200 without a body.`);
  const ready: EventSourceMessage[] = [];
  let overflow = false;
  const parser = createParser({
    maxBufferSize: MAX_EVENT_CHARS,
    onEvent: (event) => void ready.push(event),
    onError: (err) => { if (err.type === 'max-buffer-size-exceeded') overflow = true; },
  });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  // Cancelling the reader settles a pending read, so an abort never waits for the server.
  const stop = () => void reader.cancel().catch(() => {});
  signal.addEventListener('abort', stop, { once: true });
  try {
    for (;;) {
      if (signal.aborted) throw abortedError(signal);
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (signal.aborted) throw abortedError(signal);
        const reason = err instanceof Error ? err.message : String(err);
        throw new ProviderError('stream', `The ${what}'s answer broke off: ${reason}`, { cause: err });
      }
      if (signal.aborted) throw abortedError(signal);
      if (chunk.done) break;
      parser.feed(decoder.decode(chunk.value, { stream: true }));
      if (overflow) throw new ProviderError('stream', `The ${what} sent an event over ${MAX_EVENT_CHARS} characters; the answer was dropped.`);
      while (ready.length > 0) yield ready.shift()!;
    }
    parser.feed(decoder.decode());
    parser.reset({ consume: true });
    while (ready.length > 0) yield ready.shift()!;
  } finally {
    signal.removeEventListener('abort', stop);
    // Also frees the connection when the consumer stops early.
    stop();
  }
}
