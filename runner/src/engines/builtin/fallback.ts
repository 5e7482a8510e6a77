import type { ProviderSpec } from '../../../../src/protocol/messages.ts';
import { ProviderError, type Block, type ModelClient, type ModelRequest, type Usage } from './model.ts';
import { withRetries } from './providers/index.ts';

/** One provider of the chain and its client. */
export interface ChainLink {
  spec: ProviderSpec;
  client: ModelClient;
}

/** One complete answer of the model: its blocks, how it ended, who gave it and who was passed over first. */
export interface StepAnswer {
  blocks: Block[];
  usage?: Usage;
  stopReason: 'end' | 'tool_use' | 'max_tokens' | 'other';
  provider: ProviderSpec;
  model: string;
  passedOver: Array<{ provider: string; error: string }>;
}

/** Every provider of the chain failed; `passedOver` says why each. */
export class ChainFailed extends Error {
  constructor(readonly passedOver: Array<{ provider: string; error: string }>, readonly last: ProviderError) {
    super(passedOver.length === 1 ? passedOver[0].error : `every provider failed: ${passedOver.map((p) => `${p.provider}: ${p.error}`).join('; ')}`);
    this.name = 'ChainFailed';
  }
}

/** A rate limit asking for a longer wait than this moves on to the next provider instead. */
export const MAX_RATE_LIMIT_WAIT_MS = 10_000;

/**
 * Gets one answer from the chain, first choice first. Each provider is
 * retried briefly by `withRetries` (a short rate limit, an overloaded or
 * failing server, a dropped connection; a quota error never); a stream that
 * breaks midway is asked once more. Then the next provider is tried. The
 * answer is collected whole before it is returned, so a broken attempt
 * leaves nothing behind and the next one starts clean.
 *
 * Not passed on: the caller's abort, the host's budget refusal (every
 * provider shares the budget) and a request too long for the context (the
 * caller compacts and asks again): these are thrown as they are.
 *
 *   const answer = await answerFromChain(chain, (link) => ({ system, messages, tools, maxTokens: link.spec.maxOutputTokens, signal }));
 */
export async function answerFromChain(chain: ChainLink[], request: (link: ChainLink) => ModelRequest, onRetry?: (provider: string, err: ProviderError, delayMs: number) => void): Promise<StepAnswer> {
  const passedOver: Array<{ provider: string; error: string }> = [];
  let last: ProviderError | undefined;
  for (const link of chain) {
    const client = withRetries(link.client, { maxRetryAfterMs: MAX_RATE_LIMIT_WAIT_MS, onRetry: (err, _n, ms) => onRetry?.(link.spec.name, err, ms) });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return { ...(await collect(client, request(link))), provider: link.spec, passedOver };
      } catch (err) {
        const e = err instanceof ProviderError ? err : new ProviderError('network', (err as Error).message, { cause: err });
        if (e.kind === 'aborted' || e.kind === 'context_overflow' || isBudgetRefusal(e)) throw e;
        last = e;
        if (e.kind === 'stream' && attempt === 0) continue;
        passedOver.push({ provider: link.spec.name, error: describe(e) });
        break;
      }
    }
  }
  throw new ChainFailed(passedOver, last ?? new ProviderError('invalid_request', 'no provider is configured for this conversation'));
}

async function collect(client: ModelClient, req: ModelRequest): Promise<Omit<StepAnswer, 'provider' | 'passedOver'>> {
  const blocks: Block[] = [];
  let text = '';
  let usage: Usage | undefined;
  let stopReason: StepAnswer['stopReason'] = 'other';
  let model = client.model;
  for await (const ev of client.stream(req)) {
    if (ev.type === 'text') text += ev.text;
    else if (ev.type === 'tool_call') {
      if (text) { blocks.push({ type: 'text', text }); text = ''; }
      blocks.push({ type: 'tool_call', id: ev.id, name: ev.name, input: ev.input });
    } else if (ev.type === 'usage') usage = ev.usage;
    else if (ev.type === 'end') {
      stopReason = ev.stopReason;
      if (ev.model) model = ev.model;
    }
  }
  if (text) blocks.push({ type: 'text', text });
  return { blocks, usage, stopReason, model };
}

/** The host's credential proxy refuses a call past a budget with this prefix; no other provider would be let through. */
export function isBudgetRefusal(e: ProviderError): boolean {
  return e.kind === 'auth' && /NanoClaw budget/.test(e.message);
}

/** A short account of a failure for the user and the audit log: kind, status, the provider's words. */
function describe(e: ProviderError): string {
  const what: Record<string, string> = {
    rate_limit: 'rate-limited', overloaded: 'overloaded', quota: 'out of quota or over its spend limit', auth: 'refused the key',
    invalid_request: 'refused the request', server: 'failed', network: 'could not be reached', stream: 'broke off its answer',
  };
  return `${what[e.kind] ?? e.kind}${e.status ? ` (HTTP ${e.status})` : ''}: ${e.message.slice(0, 300)}`;
}
