import type { Config } from '../config/schema.ts';
import type { Store, UsageTotals } from '../store/store.ts';
import { PriceList, type MeteredUsage, type ModelPrice } from './pricing.ts';

/**
 * Daily spending limits, checked by the credential proxy as each model call
 * leaves. Usage is what the proxy metered from earlier answers, every token
 * kind included (cache writes and reads are most of an agent's input), and
 * cost is priced per call, when it is recorded: by the provider's own prices
 * when the operator set them (providers.<name>.prices), else by the model that
 * answered. The same limits hold for every provider.
 * A call in flight when a limit is crossed still finishes; the next one is
 * refused with a message the agent passes to the user. The proxy lets only a
 * few calls of a container fly at once, so the overshoot is bounded.
 *
 *   const budget = new Budget(config.budget, store);
 *   store.addUsage(id, usage, budget.cost(usage));
 *   const refusal = budget.check('c-...');   // undefined: go ahead
 */
export class Budget {
  private readonly prices: PriceList;

  constructor(private readonly config: Config['budget'], private readonly store: Store, private readonly providerPrices: ReadonlyMap<string, ModelPrice> = new Map()) {
    this.prices = new PriceList(config.prices);
  }

  /** Estimated USD of one call: by its provider's prices when set, else by its model's. */
  cost(u: MeteredUsage & { provider?: string }): number {
    const p = u.provider ? this.providerPrices.get(u.provider) : undefined;
    if (!p) return this.prices.cost(u);
    return (u.inputTokens * p.input + u.outputTokens * p.output + u.cacheWriteTokens * p.cacheWrite + u.cacheReadTokens * p.cacheRead) / 1e6;
  }

  check(conversationId: string): string | undefined {
    const c = this.config;
    if (!c.conversationTokensPerDay && !c.globalTokensPerDay && !c.conversationCostPerDayUsd && !c.globalCostPerDayUsd) return undefined;
    const mine = this.store.usageToday(conversationId);
    const all = this.store.usageToday();
    const over = (what: string, used: string, limit: string) =>
      `NanoClaw budget: ${what} has used ${used} of its ${limit} for today (UTC). The owner can raise budget.* in the config; it resets at midnight UTC.`;
    if (c.conversationTokensPerDay && tokens(mine) >= c.conversationTokensPerDay) return over('this conversation', `${tokens(mine)} tokens`, `${c.conversationTokensPerDay}-token daily limit`);
    if (c.globalTokensPerDay && tokens(all) >= c.globalTokensPerDay) return over('NanoClaw as a whole', `${tokens(all)} tokens`, `${c.globalTokensPerDay}-token daily limit`);
    if (c.conversationCostPerDayUsd && mine.costUsd >= c.conversationCostPerDayUsd) return over('this conversation', usd(mine.costUsd), `$${c.conversationCostPerDayUsd} daily limit`);
    if (c.globalCostPerDayUsd && all.costUsd >= c.globalCostPerDayUsd) return over('NanoClaw as a whole', usd(all.costUsd), `$${c.globalCostPerDayUsd} daily limit`);
    return undefined;
  }
}

/** Every token the model processed: fresh input, output, cache writes and cache reads. */
export function tokens(u: UsageTotals): number {
  return u.inputTokens + u.outputTokens + u.cacheWriteTokens + u.cacheReadTokens;
}

/** Cents for ordinary sums; tiny test-sized sums keep their digits. */
export function usd(value: number): string {
  return value >= 0.01 || value === 0 ? `$${value.toFixed(2)}` : `$${value.toPrecision(2)}`;
}
