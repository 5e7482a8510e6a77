/**
 * Turning a provider's refusal into a ProviderError the fallback chain can
 * decide on. The status alone is not enough: Anthropic answers an exhausted
 * spend limit with 429 like a rate limit, OpenAI answers an empty account with
 * 429 `insufficient_quota`, and both must not be retried; so the body's
 * `error.type` / `error.code` / `error.details.error_code` come first.
 *
 * The error's message is the server's own message, unchanged, when it sent
 * one: the host's credential proxy refuses a spent budget with a 403 whose
 * message (`NanoClaw budget ...`) is meant for the user as it is.
 *
 *   const res = await fetch(url, init);
 *   if (!res.ok) throw classifyHttpError(res.status, res.headers, await readErrorBody(res, signal), 'Anthropic API');
 */
import { ProviderError, type ProviderErrorKind } from '../model.ts';

/** The most of an error answer read: enough for any real error JSON, bounded against a hostile or broken server. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** A server message longer than this is clipped in the error (a proxy's HTML page, say). */
const MAX_MESSAGE_CHARS = 2000;

/**
 * Reads at most MAX_ERROR_BODY_BYTES of a failed answer's body, then drops
 * the rest, so a huge or endless error body cannot hold memory or the turn.
 */
export async function readErrorBody(res: Response, signal: AbortSignal): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  const stop = () => void reader.cancel().catch(() => {});
  signal.addEventListener('abort', stop, { once: true });
  try {
    while (size < MAX_ERROR_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut short still classifies by its status; what arrived is kept.
  } finally {
    signal.removeEventListener('abort', stop);
    stop();
  }
  if (signal.aborted) throw abortedError(signal);
  const bytes = new Uint8Array(Math.min(size, MAX_ERROR_BODY_BYTES));
  let at = 0;
  for (const p of parts) {
    const take = p.subarray(0, bytes.length - at);
    bytes.set(take, at);
    at += take.length;
    if (at >= bytes.length) break;
  }
  return new TextDecoder().decode(bytes);
}

/** The fields of both APIs' error bodies that classification reads. */
interface ErrorFields {
  type?: string;
  code?: string;
  detailCode?: string;
  message?: string;
}

/**
 * Reads an error JSON of either API: Anthropic `{type:'error', error:{type,
 * message, details?:{error_code}}}`, OpenAI `{error:{type, code, message}}`
 * (OpenRouter sends a numeric `code`), or a bare `{message}`.
 */
export function errorFields(value: unknown): ErrorFields {
  if (!value || typeof value !== 'object') return {};
  const top = value as Record<string, unknown>;
  const inner = top.error && typeof top.error === 'object' ? (top.error as Record<string, unknown>) : top;
  const details = inner.details && typeof inner.details === 'object' ? (inner.details as Record<string, unknown>) : {};
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
  return {
    type: str(inner.type),
    code: str(inner.code),
    detailCode: str(details.error_code),
    message: typeof top.error === 'string' ? top.error : str(inner.message),
  };
}

/** Messages of a request longer than the model's context, as Anthropic, OpenAI, vLLM and OpenRouter word them. */
const CONTEXT_OVERFLOW = /prompt is too long|maximum context length|context[_ ]length|context window|exceeds? (the )?context|too many tokens/i;

/**
 * The ProviderError for a non-2xx answer, from its status, headers and body.
 *
 *   classifyHttpError(429, headers, '{"error":{"code":"insufficient_quota"}}', 'OpenAI-compatible API').kind // 'quota'
 */
export function classifyHttpError(status: number, headers: Headers, bodyText: string, what: string): ProviderError {
  let parsed: unknown;
  try { parsed = JSON.parse(bodyText); } catch { parsed = undefined; }
  const fields = errorFields(parsed);
  const kind = errorKind(status, fields);
  const label = [fields.type, fields.code ?? fields.detailCode].filter(Boolean).join(' ');
  // A body that is not JSON is usually a proxy's HTML page: quoted briefly, not passed on whole.
  const plain = parsed === undefined ? bodyText.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300) : '';
  const message = fields.message
    ? fields.message.slice(0, MAX_MESSAGE_CHARS)
    : `The ${what} answered HTTP ${status}${label ? ` (${label})` : ''}${plain ? `: ${plain}` : ' without a message.'}`;
  return new ProviderError(kind, message, { status, retryAfterMs: retryAfterMs(headers) });
}

function errorKind(status: number, e: ErrorFields): ProviderErrorKind {
  const names = [e.type, e.code, e.detailCode];
  if (names.includes('enforced_spend_limit_reached') || names.includes('insufficient_quota') || status === 402) return 'quota';
  if (names.includes('context_length_exceeded')) return 'context_overflow';
  if (status === 401 || status === 403) return 'auth';
  if (names.includes('overloaded_error') || status === 529 || status === 503) return 'overloaded';
  if (names.includes('rate_limit_error') || names.includes('rate_limit_exceeded') || status === 429) return 'rate_limit';
  if ((status === 400 || status === 413 || status === 422) && CONTEXT_OVERFLOW.test(e.message ?? '')) return 'context_overflow';
  if (status === 408 || status === 409 || status >= 500) return 'server';
  return 'invalid_request';
}

/**
 * The server's requested wait in ms: `retry-after-ms` (OpenAI), else
 * `retry-after` in seconds or as an HTTP date; undefined when absent or unreadable.
 */
export function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The error for a call the caller stopped. */
export function abortedError(signal: AbortSignal, midStream = false): ProviderError {
  return new ProviderError('aborted', 'The model call was stopped before it finished.', { cause: signal.reason, midStream });
}

/**
 * Any failure while reading an answer, as a ProviderError marked `midStream`
 * when output already reached the caller (a retry would repeat it).
 */
export function streamFailure(err: unknown, signal: AbortSignal, yielded: boolean, what: string): ProviderError {
  if (signal.aborted) return abortedError(signal, yielded);
  if (err instanceof ProviderError) {
    return err.midStream === yielded ? err : new ProviderError(err.kind, err.message, { ...err.details, midStream: yielded });
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new ProviderError('stream', `The ${what}'s answer broke off: ${reason}`, { cause: err, midStream: yielded });
}
