/**
 * The built-in engine's model clients, one per wire format, behind
 * `modelClient`; the engine never imports a wire format directly.
 *
 *   const client = withRetries(modelClient({ kind: 'anthropic', baseUrl: bridgeUrl, apiKey: token, model: 'claude-sonnet-4-5' }));
 *   for await (const ev of client.stream({ system, messages, tools, maxTokens: 4096, signal })) ...
 */
import type { ModelClient } from '../model.ts';
import { AnthropicClient } from './anthropic.ts';
import { OpenAIClient } from './openai.ts';
import type { ModelClientOptions } from './options.ts';

export type { ClientOptions, ModelClientOptions } from './options.ts';
export { retryDelay, retrying, withRetries, type RetryOptions } from './retry.ts';
export { classifyHttpError } from './errors.ts';

export function modelClient(opts: ModelClientOptions): ModelClient {
  switch (opts.kind) {
    case 'anthropic':
      return new AnthropicClient(opts);
    case 'openai':
      return new OpenAIClient(opts);
  }
}
