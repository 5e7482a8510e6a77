/**
 * What a model call costs, from the tokens the credential proxy metered.
 * Prices are USD per million tokens, per model, in four kinds: fresh input,
 * output, cache writes (`cache_creation_input_tokens`) and cache reads
 * (`cache_read_input_tokens`). Claude Code sends most of its input through the
 * prompt cache, so a price list without the cache kinds misses most of the
 * bill.
 *
 * A model is matched by the longest key that its id starts with, so
 * `claude-sonnet-4-5-20250929` takes the `claude-sonnet-4-5` price and a new
 * dated release of a known model needs no entry. The operator's
 * `budget.prices` entries are laid over the built-in table; a model nothing
 * matches takes `UNKNOWN_MODEL_PRICE`, the dearest current model's, so a
 * budget errs on the side of stopping early.
 *
 *   const prices = new PriceList(config.budget.prices);
 *   prices.cost({ model: 'claude-sonnet-4-5', inputTokens: 10, outputTokens: 200, cacheWriteTokens: 0, cacheReadTokens: 30_000 });
 */

/** USD per million tokens of each kind. */
export interface ModelPrice {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

/** The tokens of one call (or a sum of calls), by kind, and the model that answered. */
export interface MeteredUsage {
  /** The configured provider the call went to (the credential proxy's route name). */
  provider?: string;
  model?: string;
  inputTokens: number;
  outputTokens: number;
  cacheWriteTokens: number;
  cacheReadTokens: number;
}

/** Cache writes at 1.25x input (the five-minute cache Claude Code uses), cache reads at 0.1x: Anthropic's published ratios. */
function price(input: number, output: number): ModelPrice {
  return { input, output, cacheWrite: input * 1.25, cacheRead: input / 10 };
}

/** Anthropic's list prices for the current Claude models, keyed by model id prefix. */
export const BUILT_IN_PRICES: Readonly<Record<string, ModelPrice>> = {
  'claude-opus-4-5': price(5, 25),
  'claude-opus-4-1': price(15, 75),
  'claude-opus-4': price(15, 75),
  'claude-opus': price(15, 75),
  'claude-3-opus': price(15, 75),
  'claude-sonnet-4-5': price(3, 15),
  'claude-sonnet-4': price(3, 15),
  'claude-sonnet': price(3, 15),
  'claude-3-7-sonnet': price(3, 15),
  'claude-3-5-sonnet': price(3, 15),
  'claude-haiku-4-5': price(1, 5),
  'claude-haiku': price(1, 5),
  'claude-3-5-haiku': price(0.8, 4),
  'claude-3-haiku': { input: 0.25, output: 1.25, cacheWrite: 0.3, cacheRead: 0.03 },
};

/** For a model no key matches (a new family, another provider): the dearest current price. */
export const UNKNOWN_MODEL_PRICE: Readonly<ModelPrice> = price(15, 75);

export class PriceList {
  private readonly table: Array<[string, ModelPrice]>;
  private readonly fallback: ModelPrice;

  /** `overrides` come from `budget.prices`; the key `*` replaces the price for unknown models. */
  constructor(overrides: Record<string, ModelPrice> = {}) {
    const { '*': fallback, ...byModel } = overrides;
    this.fallback = fallback ?? UNKNOWN_MODEL_PRICE;
    // Longest key first, so the first match is the most specific one.
    this.table = Object.entries({ ...BUILT_IN_PRICES, ...byModel }).sort((a, b) => b[0].length - a[0].length);
  }

  priceOf(model: string | undefined): ModelPrice {
    const id = (model ?? '').toLowerCase();
    return this.table.find(([prefix]) => id.startsWith(prefix.toLowerCase()))?.[1] ?? this.fallback;
  }

  /** USD for one call's usage, priced by the model that answered it. */
  cost(u: MeteredUsage): number {
    const p = this.priceOf(u.model);
    return (u.inputTokens * p.input + u.outputTokens * p.output + u.cacheWriteTokens * p.cacheWrite + u.cacheReadTokens * p.cacheRead) / 1e6;
  }
}
