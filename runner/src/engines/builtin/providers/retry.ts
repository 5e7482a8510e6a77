/**
 * Retrying one provider before the fallback chain moves on: a short
 * rate-limit wait, an overloaded or failing server, a dropped connection.
 * A retry happens only before the answer's first event reaches the caller,
 * so nothing the user saw is ever repeated; errors that another attempt
 * cannot fix (quota, auth, a bad or too long request) pass straight through.
 *
 *   const client = withRetries(modelClient(opts), { maxRetryAfterMs: 10_000, onRetry: (e, n, ms) => log(e.kind, n, ms) });
 *   for await (const ev of client.stream(req)) ...
 */
import { ProviderError, type ModelClient, type ModelEvent } from '../model.ts';
import { abortedError } from './errors.ts';

export interface RetryOptions {
  /** Attempts after the first (default 2). */
  maxRetries?: number;
  /** A rate limit asking for a longer wait than this is not retried (default 10 s): the chain moves on instead. */
  maxRetryAfterMs?: number;
  /** Waits before the 1st, 2nd, ... retry when the server names none (default 500 ms, 1 s; the last repeats). */
  backoffMs?: readonly number[];
  /** Told before each wait: the error, the retry's number (1-based) and the wait. */
  onRetry?: (err: ProviderError, retry: number, delayMs: number) => void;
}

/** The same client, retrying each call per `opts` until its first event arrives. */
export function withRetries(client: ModelClient, opts: RetryOptions = {}): ModelClient {
  return {
    kind: client.kind,
    model: client.model,
    stream: (req) => retrying(() => client.stream(req), req.signal, opts),
  };
}

/**
 * Runs `call` and yields its events; while it fails before its first event
 * with a retryable error, waits and runs it again.
 */
export async function* retrying(call: () => AsyncIterable<ModelEvent>, signal: AbortSignal, opts: RetryOptions = {}): AsyncGenerator<ModelEvent> {
  for (let retry = 0; ; retry++) {
    const events = call()[Symbol.asyncIterator]();
    let first: IteratorResult<ModelEvent>;
    try {
      first = await events.next();
    } catch (err) {
      const delay = retryDelay(err, retry, opts);
      if (delay === undefined) throw err;
      opts.onRetry?.(err as ProviderError, retry + 1, delay);
      await sleep(delay, signal);
      continue;
    }
    if (first.done) return;
    try {
      yield first.value;
      yield* { [Symbol.asyncIterator]: () => events };
    } finally {
      // A caller that stops early (break) still releases the connection.
      await events.return?.();
    }
    return;
  }
}

const RETRYABLE = new Set(['rate_limit', 'overloaded', 'server', 'network']);

/** The wait before retry number `retry + 1`, or undefined when `err` must not be retried. */
export function retryDelay(err: unknown, retry: number, opts: RetryOptions): number | undefined {
  const { maxRetries = 2, maxRetryAfterMs = 10_000, backoffMs = [500, 1000] } = opts;
  if (!(err instanceof ProviderError) || err.midStream || retry >= maxRetries || !RETRYABLE.has(err.kind)) return undefined;
  const backoff = backoffMs[Math.min(retry, backoffMs.length - 1)] ?? 0;
  if (err.retryAfterMs === undefined) return backoff;
  return err.retryAfterMs <= maxRetryAfterMs ? err.retryAfterMs : undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortedError(signal));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(abortedError(signal));
    };
    signal.addEventListener('abort', stop, { once: true });
  });
}
