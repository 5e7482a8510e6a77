import type { Config } from '../config/schema.ts';
import type { Store } from '../store/store.ts';

/**
 * Daily spending limits, checked by the credential proxy before each model
 * call. Usage is what the proxy metered from earlier responses, so a call in
 * flight when the limit is crossed still finishes; the next one is refused
 * with a message the agent passes to the user.
 *
 *   const refusal = budget.check('c-...');   // undefined: go ahead
 */
export class Budget {
  constructor(private readonly config: Config['budget'], private readonly store: Store) {}

  cost(u: { inputTokens: number; outputTokens: number }): number {
    return (u.inputTokens * this.config.inputUsdPerMillion + u.outputTokens * this.config.outputUsdPerMillion) / 1e6;
  }

  check(conversationId: string): string | undefined {
    const c = this.config;
    if (!c.conversationTokensPerDay && !c.globalTokensPerDay && !c.conversationCostPerDayUsd && !c.globalCostPerDayUsd) return undefined;
    const mine = this.store.usageToday(conversationId);
    const all = this.store.usageToday();
    const tokens = (u: typeof mine) => u.inputTokens + u.outputTokens;
    const over = (what: string, used: string, limit: string) =>
      `NanoClaw budget: ${what} has used ${used} of its ${limit} for today (UTC). The owner can raise budget.* in the config; it resets at midnight UTC.`;
    if (c.conversationTokensPerDay && tokens(mine) >= c.conversationTokensPerDay) return over('this conversation', `${tokens(mine)} tokens`, `${c.conversationTokensPerDay}-token daily limit`);
    if (c.globalTokensPerDay && tokens(all) >= c.globalTokensPerDay) return over('NanoClaw as a whole', `${tokens(all)} tokens`, `${c.globalTokensPerDay}-token daily limit`);
    if (c.conversationCostPerDayUsd && this.cost(mine) >= c.conversationCostPerDayUsd) return over('this conversation', `$${this.cost(mine).toFixed(2)}`, `$${c.conversationCostPerDayUsd} daily limit`);
    if (c.globalCostPerDayUsd && this.cost(all) >= c.globalCostPerDayUsd) return over('NanoClaw as a whole', `$${this.cost(all).toFixed(2)}`, `$${c.globalCostPerDayUsd} daily limit`);
    return undefined;
  }
}
