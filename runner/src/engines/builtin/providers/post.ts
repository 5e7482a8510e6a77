/**
 * One POST to a model API whose answer is to be streamed: a refused request
 * (non-2xx) becomes a classified ProviderError, no answer at all becomes
 * `network`, and the caller's signal becomes `aborted`.
 *
 *   const res = await postModelRequest({ fetch, url, headers, body, signal, what: 'Anthropic API' });
 *   for await (const ev of sseEvents(res.body, signal, 'Anthropic API')) ...
 */
import { ProviderError } from '../model.ts';
import { abortedError, classifyHttpError, readErrorBody } from './errors.ts';

export interface ModelPost {
  fetch: typeof fetch;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  signal: AbortSignal;
  /** Names the API in error messages, e.g. `Anthropic API`. */
  what: string;
}

export async function postModelRequest(p: ModelPost): Promise<Response> {
  if (p.signal.aborted) throw abortedError(p.signal);
  let res: Response;
  try {
    res = await p.fetch(p.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...p.headers },
      body: JSON.stringify(p.body),
      signal: p.signal,
    });
  } catch (err) {
    if (p.signal.aborted) throw abortedError(p.signal);
    const reason = err instanceof Error ? [err.message, (err.cause as Error | undefined)?.message].filter(Boolean).join(': ') : String(err);
    throw new ProviderError('network', `No answer from the ${p.what} at ${p.url} (${reason}); check that it is running and reachable.`, { cause: err });
  }
  if (!res.ok) throw classifyHttpError(res.status, res.headers, await readErrorBody(res, p.signal), p.what);
  return res;
}
