/**
 * How to reach one provider's API for one model: what `modelClient` takes.
 *
 *   modelClient({ kind: 'openai', baseUrl: 'http://127.0.0.1:4100/p/groq', apiKey: token, model: 'llama-3.3-70b' });
 */
import type { ProviderKind } from '../model.ts';

export interface ClientOptions {
  /** Anthropic: without `/v1` (`https://api.anthropic.com`); OpenAI-compatible: with it (`https://api.openai.com/v1`). */
  baseUrl: string;
  /** Sent as `x-api-key` (Anthropic) or `Authorization: Bearer` (OpenAI-compatible). */
  apiKey: string;
  model: string;
  /** Replaces the global fetch (tests, a custom transport). */
  fetch?: typeof fetch;
}

export interface ModelClientOptions extends ClientOptions {
  kind: ProviderKind;
}
