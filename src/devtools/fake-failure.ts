/**
 * Failures the model API stand-ins (fake-anthropic.ts, fake-openai.ts) can be
 * told to answer with, so tests reach a client's error paths over a real
 * socket. Each stand-in renders a failure in its own API's shape: the status,
 * headers and error body the real service sends for it.
 *
 *   const fake = await startFakeOpenAI({ fail: (_body, i) => (i === 0 ? { kind: 'rate_limit', retryAfterSec: 1 } : undefined) });
 *   // the first request gets 429 with `retry-after: 1`, later ones the script's answer
 */

export type Failure =
  /** 429 with `retry-after` (default 1 s): Anthropic `rate_limit_error`, OpenAI `rate_limit_exceeded`. */
  | { kind: 'rate_limit'; retryAfterSec?: number }
  /** Anthropic 529 `overloaded_error`; OpenAI 503 `server_error`. */
  | { kind: 'overloaded' }
  /** Out of credit: Anthropic 429 with `error.details.error_code: enforced_spend_limit_reached`, OpenAI 429 `insufficient_quota`. */
  | { kind: 'quota' }
  /** Any other refusal, in the API's error shape; `code` is Anthropic's `details.error_code` or OpenAI's `code`. */
  | { kind: 'http'; status: number; type?: string; code?: string; message?: string; retryAfterSec?: number }
  /**
   * A 200 stream that starts (`text` as the answer's first words, default
   * `Partial answer`) and then breaks: `error` (the default) sends the API's
   * in-stream error (Anthropic `event: error`, OpenAI/OpenRouter a chunk with
   * an `error` object) and ends; `cut` drops the connection; `stall` sends
   * nothing more until the client goes away or the stand-in closes.
   * `errorType` names the in-stream error (Anthropic default `api_error`).
   * A request that did not ask to stream gets a 500 instead.
   */
  | { kind: 'midstream'; text?: string; end?: 'error' | 'cut' | 'stall'; errorType?: string };

/**
 * Chooses a failure for a request, or undefined to answer normally.
 * `requestIndex` is the request's place in the stand-in's `requests` (0-based).
 */
export type FailFn<Body> = (body: Body, requestIndex: number) => Failure | undefined;

/** The default first words of a `midstream` failure. */
export const MIDSTREAM_TEXT = 'Partial answer';

/**
 * How long a `cut` waits after the opening reached the socket before dropping
 * the connection: a real stream breaks after its first words were read, and
 * Bun's fetch discards data it has received but not yet handed out when the
 * connection then resets.
 */
export const CUT_AFTER_MS = 100;
