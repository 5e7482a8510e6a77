/**
 * Budgets count what is spent: cache writes and reads included, priced per
 * model, and metered even when the answer comes compressed. The first suite
 * runs the real credential proxy on a Unix socket, the stand-in model behind
 * it (reporting cache tokens, answering gzip whatever it was asked) and a real
 * SQLite store; the second drives a real gateway and container.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { ConfigSchema } from '../src/config/schema.ts';
import { startFakeAnthropic, type FakeAnthropic, type UsageOverride } from '../src/devtools/fake-anthropic.ts';
import { isAgentTurn } from '../src/devtools/fake-anthropic/script.ts';
import { Budget } from '../src/sandbox/budget.ts';
import { startCredentialProxy, type CredentialProxy } from '../src/sandbox/credential-proxy.ts';
import { BUILT_IN_PRICES, UNKNOWN_MODEL_PRICE } from '../src/sandbox/pricing.ts';
import { openDatabase } from '../src/store/database.ts';
import { Store } from '../src/store/store.ts';
import { startHarness, type Harness } from './support/harness.ts';

/** What the stand-in reports for a request, chosen by the first word of its prompt. */
const USAGE: Record<string, UsageOverride> = {
  reads: { input_tokens: 10, cache_read_input_tokens: 1_000_000 },
  writes: { input_tokens: 10, cache_creation_input_tokens: 6_000 },
  plain: { input_tokens: 10 },
};

/** One model call over a Unix socket, as the container's engine makes it. */
function call(socketPath: string, model: string, prompt: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: 'POST', path: '/v1/messages', headers: { 'x-api-key': 'tok', 'content-type': 'application/json', 'accept-encoding': 'gzip' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ model, max_tokens: 64, messages: [{ role: 'user', content: prompt }] }));
  });
}

describe('budgets: cache tokens counted and priced per model, through the real proxy and store', () => {
  let dir: string;
  let fake: FakeAnthropic;
  let store: Store;
  let n = 0;
  const proxies: CredentialProxy[] = [];

  /** A "container" of conversation `conv`: its own proxy, metering into the store, refusing over `budget`. */
  async function container(conv: string, budget: object = {}) {
    const b = new Budget(ConfigSchema.parse({ budget }).budget, store);
    const socketPath = join(dir, `model-${++n}.sock`);
    proxies.push(await startCredentialProxy({
      socketPath, token: 'tok', upstream: fake.url, apiKey: 'sk-real',
      onUsage: (u) => store.addUsage(conv, u, b.cost(u)),
      checkBudget: () => b.check(conv),
    }));
    return { socketPath, budget: b };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ncb-'));
    store = new Store(openDatabase(join(dir, 'nanoclaw.db')));
    // gzip whatever the proxy asks for: the meter has to decode to count anything.
    fake = await startFakeAnthropic({ compress: 'always', usage: (body) => USAGE[JSON.stringify(body.messages?.[0]?.content ?? '').replace(/\W*(\w+).*/, '$1')] });
  });
  afterEach(async () => { for (const p of proxies.splice(0)) await p.close(); });
  after(async () => {
    await fake.close();
    store.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores cache writes and reads per conversation and day, priced by the model that answered', async () => {
    const sonnet = await container('c-sonnet');
    const answer = await call(sonnet.socketPath, 'claude-sonnet-4-5-20250929', 'reads');
    assert.equal(answer.status, 200);
    const out = answer.json.usage.output_tokens;
    const today = store.usageToday('c-sonnet');
    assert.deepEqual({ ...today, costUsd: undefined }, { requests: 1, inputTokens: 10, outputTokens: out, cacheWriteTokens: 0, cacheReadTokens: 1_000_000, costUsd: undefined });
    const p = BUILT_IN_PRICES['claude-sonnet-4-5'];
    assert.ok(Math.abs(today.costUsd - (10 * p.input + out * p.output + 1_000_000 * p.cacheRead) / 1e6) < 1e-9, String(today.costUsd));
    assert.ok(today.costUsd > 0.29, 'a million cache reads on Sonnet cost about $0.30');

    // The same tokens on Opus 4.1 cost five times as much; an unknown model is priced high, not at zero.
    const opus = await container('c-opus');
    await call(opus.socketPath, 'claude-opus-4-1', 'reads');
    const unknown = await container('c-unknown');
    await call(unknown.socketPath, 'mystery-model-9', 'reads');
    const cacheOnly = (conv: string) => store.usageToday(conv).cacheReadTokens;
    assert.equal(cacheOnly('c-opus'), 1_000_000);
    assert.ok(store.usageToday('c-opus').costUsd > 4 * today.costUsd);
    assert.ok(store.usageToday('c-unknown').costUsd >= 1_000_000 * UNKNOWN_MODEL_PRICE.cacheRead / 1e6);

    // All of it adds up in the all-conversations sum and in the all-time figure `nanoclaw status` shows.
    assert.equal(store.usageToday().cacheReadTokens, 3_000_000);
    assert.equal(store.usage('c-sonnet').cacheReadTokens, 1_000_000);
  });

  it('prices a model from budget.prices over the built-in table, by longest prefix', async () => {
    const { socketPath } = await container('c-priced', { prices: { 'acme-': { input: 0, output: 0, cacheWrite: 1000, cacheRead: 0 } } });
    await call(socketPath, 'acme-large-2', 'writes');
    assert.ok(Math.abs(store.usageToday('c-priced').costUsd - 6) < 1e-9, 'six thousand cache writes at $1000 a million');
  });

  it('refuses the next call once cache reads alone exceed a cost budget, in a compressed answer', async () => {
    const { socketPath } = await container('c-cost', { conversationCostPerDayUsd: 0.25 });
    const first = await call(socketPath, 'claude-sonnet-4-5', 'reads');
    assert.equal(first.status, 200, 'under budget: answered');
    const u = store.usageToday('c-cost');
    const withoutCache = (u.inputTokens * 3 + u.outputTokens * 15) / 1e6;
    assert.ok(withoutCache < 0.01, `input and output alone (~$${withoutCache}) are far below the budget`);
    const before = fake.requests.length;
    const second = await call(socketPath, 'claude-sonnet-4-5', 'plain');
    assert.equal(second.status, 403);
    assert.match(second.json.error.message, /NanoClaw budget: this conversation has used \$0\.3\d of its \$0\.25 daily limit/);
    assert.equal(fake.requests.length, before, 'the refused call never reached the model');
  });

  it('counts cache writes against a token budget', async () => {
    const { socketPath } = await container('c-tokens', { conversationTokensPerDay: 5_000 });
    assert.equal((await call(socketPath, 'claude-haiku-4-5', 'writes')).status, 200);
    const second = await call(socketPath, 'claude-haiku-4-5', 'plain');
    assert.equal(second.status, 403);
    assert.match(second.json.error.message, /has used 60\d\d tokens of its 5000-token daily limit/);
  });

  it('reads today\'s usage through an index, never by scanning the whole table', () => {
    for (let i = 0; i < 50; i++) store.addUsage(`c-old-${i}`, { inputTokens: 1, outputTokens: 1, cacheWriteTokens: 0, cacheReadTokens: 0 }, 0);
    const statements: string[] = [];
    const prepare = store.db.prepare.bind(store.db);
    (store.db as any).prepare = (sql: string) => { statements.push(sql); return prepare(sql); };
    try {
      store.usageToday('c-cost');
      store.usageToday();
    } finally {
      (store.db as any).prepare = prepare;
    }
    assert.equal(statements.length, 2);
    for (const sql of statements) {
      const plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(sql.includes('conversation_id = ?') ? ['2000-01-01', 'x'] : ['2000-01-01'])) as Array<{ detail: string }>)
        .map((r) => r.detail).join('; ');
      assert.match(plan, /SEARCH usage USING (COVERING )?INDEX/, plan);
      assert.doesNotMatch(plan, /SCAN usage/, plan);
    }
  });
});

describe('budgets: the credential proxy refuses model calls over a daily budget', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ config: { budget: { conversationTokensPerDay: 50, globalTokensPerDay: 100000 } } });
  });
  after(async () => { await h?.close(); });

  it('lets a conversation work until its budget is spent, then tells the user why it stopped', async () => {
    assert.equal(await h.ask('budget-a', 'first'), 'Echo: first', 'under budget: answered');
    const turnsBefore = h.fake.requests.filter((r) => r.path === '/v1/messages').length;
    const reply = await h.ask('budget-a', 'second');
    assert.match(reply, /NanoClaw budget: this conversation has used \d+ tokens of its 50-token daily limit/);
    assert.equal(h.fake.requests.filter((r) => r.path === '/v1/messages').length, turnsBefore, 'the refused call never reached the model');
    assert.ok(readAuditLog(auditLogPath(h.home), { type: 'budget.exceeded' }).some((r) => r.conversation && (r.data as any).status === 403));
  });

  it('keeps other conversations within their own budgets', async () => {
    assert.equal(await h.ask('budget-b', 'hello'), 'Echo: hello');
  });
});

describe('budgets: an agent in a real container whose turns are mostly cache reads, answered gzip', () => {
  let h: Harness;
  let fake: FakeAnthropic;
  before(async () => {
    // Cache reads only on agent turns; priced at even the cheapest model's rate they pass $0.05.
    fake = await startFakeAnthropic({ compress: 'always', usage: (body) => (isAgentTurn(body) ? { input_tokens: 3, cache_read_input_tokens: 2_000_000 } : undefined) });
    h = await startHarness({ fake, config: { budget: { conversationCostPerDayUsd: 0.05 } } });
  });
  after(async () => {
    await h?.close();
    await fake?.close();
  });

  it('meters the cache reads, shows them with the cost, and refuses the next turn', async () => {
    assert.equal(await h.ask('cache-a', 'first'), 'Echo: first');
    const reply = await h.ask('cache-a', 'second');
    assert.match(reply, /NanoClaw budget: this conversation has used \$\d+\.\d\d of its \$0\.05 daily limit/);
    const { conversations } = await (await h.api('/api/v1/conversations')).json() as { conversations: Array<{ id: string; usage: any }> };
    const usage = conversations.find((c) => c.id === 'cache-a')?.usage;
    assert.ok(usage.cacheReadTokens >= 2_000_000, JSON.stringify(usage));
    assert.ok(usage.costUsd >= 0.05, JSON.stringify(usage));
    assert.equal(readAuditLog(auditLogPath(h.home), { type: 'model.unmetered' }).length, 0, 'every compressed answer was read');
  });
});
