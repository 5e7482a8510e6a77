/**
 * The built-in engine end to end: a real gateway, real containers, the
 * engine inside talking through the real credential proxy to local stand-ins
 * for the Anthropic Messages API and the OpenAI Chat Completions API. Tool
 * loops over several steps, host tools, usage and budgets per provider, the
 * fallback chain (rate limits, overload, quota, a stream that breaks), a
 * conversation resumed in a new container, compaction and /model.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { startFakeAnthropic, type FakeAnthropic, type MessagesRequest } from '../src/devtools/fake-anthropic.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../src/devtools/fake-openai.ts';
import type { Failure } from '../src/devtools/fake-failure.ts';
import { REAL_KEY, startHarness, type Harness } from './support/harness.ts';
import { assertTextStreams } from './support/turns.ts';

const OPENAI_KEY = 'sk-openai-REAL-KEY-fedcba9876543210';

/** The text of the last user message of an Anthropic request (tool results quoted as such). */
function lastUserText(body: MessagesRequest | undefined): string {
  const last = body?.messages?.[body.messages.length - 1];
  const content = last?.content;
  if (typeof content === 'string') return content;
  return (content ?? []).map((b: any) => (b.type === 'text' ? b.text : b.type === 'tool_result' ? `[result] ${typeof b.content === 'string' ? b.content : JSON.stringify(b.content)}` : '')).join('\n');
}

/** The names of the tools a request offered. */
const toolNames = (body: any): string[] => (body?.tools ?? []).map((t: any) => t.name ?? t.function?.name);

function audit(h: Harness, type: string) {
  return readAuditLog(auditLogPath(h.home), { type });
}

describe('the built-in engine against the Anthropic Messages API stand-in', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      env: { NANOCLAW_AGENT_ENGINE: 'builtin' },
      // Several steps: write a file, read it back, then answer with what was read.
      script: (body) => {
        const text = lastUserText(body);
        if (/^steps please/m.test(text)) return { blocks: [{ type: 'tool_use', name: 'write', input: { path: 'notes/plan.txt', content: 'step one done' } }] };
        if (/^\[result\] Created \/workspace\/notes\/plan\.txt/m.test(text)) return { blocks: [{ type: 'text', text: 'Now reading it.' }, { type: 'tool_use', name: 'read', input: { path: 'notes/plan.txt' } }] };
        if (/step one done/.test(text) && /^\[result\]/m.test(text)) return { blocks: [{ type: 'text', text: `The file says: ${/step one done/.exec(text)![0]}` }] };
        return undefined;
      },
    });
  });
  after(() => h?.close());

  it('answers through the proxy with the built-in engine: its own tools, no SDK, the real key never in the container', async () => {
    assert.equal(await h.ask('b-echo', 'hello there'), 'Echo: hello there');
    const req = h.fake.requests.find((r) => lastUserText(r.body).includes('hello there'))!;
    assert.deepEqual(toolNames(req.body).slice(0, 7), ['shell', 'read', 'write', 'edit', 'glob', 'grep', 'web_fetch']);
    assert.ok(toolNames(req.body).includes('send_message'), 'the host tools are offered too');
    assert.equal(req.headers['x-api-key'], REAL_KEY, 'the proxy put the real key in');
    assert.match(JSON.stringify(req.body?.system), /sandboxed Linux container/);
    const env = await h.ask('b-echo', 'tool: shell {"command":"env | grep -c sk-ant-test-REAL || true; id -u"}');
    assert.match(env, /^Tool output:\n0\n61000\n\nExit code 0\.$/);
  });

  it('streams the agent\'s text as the model writes it (text_delta), then its whole text', async () => {
    await assertTextStreams(h, 'b-deltas');
  });

  it('runs a tool loop over several steps and reports each step as progress', async () => {
    const progress: string[] = [];
    const onEvent = (ev: any) => { if (ev.type === 'progress') progress.push(`${ev.kind}:${ev.tool ?? ''}`); };
    h.app.gateway.on('event', onEvent);
    try {
      assert.equal(await h.ask('b-steps', 'steps please'), 'The file says: step one done');
    } finally {
      h.app.gateway.off('event', onEvent);
    }
    assert.deepEqual(progress.filter((p) => p.startsWith('tool_use')), ['tool_use:write', 'tool_use:read']);
    assert.ok(progress.includes('text:'), 'the text between the steps is progress too');
  });

  it('calls a host tool: the message reaches the chat before the reply', async () => {
    const { body } = await h.send('b-host', 'tool: send_message {"text":"Early news from the built-in engine"}');
    const texts = body.replies.map((r: any) => r.text);
    assert.ok(texts.indexOf('Early news from the built-in engine') >= 0, JSON.stringify(texts));
    assert.match(texts[texts.length - 1], /^Tool output:\n.*Sent\./s, 'the tool\'s result reached the model');
  });

  it('meters usage per call and records it for the conversation', async () => {
    await h.ask('b-usage', 'count me');
    const conv = h.app.store.listConversations().find((c) => c.chat === 'b-usage')!;
    assert.ok(h.app.store.usageToday(conv.id).inputTokens > 0);
  });
});

describe('the built-in engine against the OpenAI-compatible stand-in, and the fallback chain', () => {
  let h: Harness;
  let primary: FakeOpenAI;
  let failures: Array<Failure | undefined> = [];
  before(async () => {
    primary = await startFakeOpenAI({ fail: () => failures.shift() });
    h = await startHarness({
      env: { NANOCLAW_AGENT_ENGINE: 'builtin', NANOCLAW_AGENT_PROVIDERS: 'primary,anthropic', OPENAI_TEST_KEY: OPENAI_KEY },
      config: { providers: { primary: { kind: 'openai', baseUrl: `${primary.url}/v1`, model: 'fake-gpt', apiKeySecret: 'OPENAI_TEST_KEY' } } },
    });
  });
  after(async () => {
    await h?.close();
    await primary?.close();
  });

  it('speaks Chat Completions with the provider\'s own key as a bearer token, and asks for streamed usage', async () => {
    assert.equal(await h.ask('o-echo', 'hello openai'), 'Echo: hello openai');
    const req = primary.requests.find((r) => JSON.stringify(r.body).includes('hello openai'))!;
    assert.equal(req.headers.authorization, `Bearer ${OPENAI_KEY}`);
    assert.equal(req.headers['x-api-key'], undefined);
    assert.equal((req.body as any).stream, true);
    assert.equal((req.body as any).stream_options?.include_usage, true);
    assert.equal(h.fake.requests.length, 0, 'the second provider was not needed');
  });

  it('runs tool calls over the OpenAI format', async () => {
    assert.match(await h.ask('o-tool', 'tool: shell {"command":"echo from-openai-shell"}'), /^Tool output:\nfrom-openai-shell\n\nExit code 0\.$/);
  });

  it('waits out a short rate limit on the same provider instead of falling back', async () => {
    failures = [{ kind: 'rate_limit', retryAfterSec: 1 }];
    const before = primary.requests.length;
    const { body } = await h.send('o-429', 'after the rate limit');
    assert.equal(body.replies[0].text, 'Echo: after the rate limit');
    assert.equal(primary.requests.length - before, 2);
    assert.equal(body.replies.length, 1, 'no fallback note');
  });

  it('falls back to the next provider when the first is overloaded, tells the user and audits it', async () => {
    failures = [{ kind: 'overloaded' }, { kind: 'overloaded' }, { kind: 'overloaded' }];
    const { body } = await h.send('o-529', 'while overloaded');
    const texts = body.replies.map((r: any) => r.text);
    assert.equal(texts[0], 'Echo: while overloaded');
    assert.match(texts[1], /^\(Answered by .+ via anthropic; primary: overloaded \(HTTP 503\)\.\)$/);
    assert.ok(h.fake.requests.some((r) => lastUserText(r.body).includes('while overloaded')));
    const ev = audit(h, 'model.fallback').at(-1)!.data as { provider: string; passedOver: Array<{ provider: string }> };
    assert.equal(ev.provider, 'anthropic');
    assert.equal(ev.passedOver[0].provider, 'primary');
  });

  it('does not retry a quota error against the same provider', async () => {
    failures = [{ kind: 'quota' }];
    const before = primary.requests.length;
    const { body } = await h.send('o-quota', 'out of credit');
    assert.equal(primary.requests.length - before, 1);
    assert.match(body.replies[1].text, /primary: out of quota/);
  });

  it('asks again when a stream breaks midway, and the partial answer is not kept', async () => {
    failures = [{ kind: 'midstream', text: 'Half an ans' }];
    const { body } = await h.send('o-mid', 'broken stream');
    assert.deepEqual(body.replies.map((r: any) => r.text), ['Echo: broken stream']);
  });
});

describe('budgets hold for every provider', () => {
  let h: Harness;
  let openai: FakeOpenAI;
  before(async () => {
    openai = await startFakeOpenAI();
    h = await startHarness({
      env: { NANOCLAW_AGENT_ENGINE: 'builtin', NANOCLAW_AGENT_PROVIDERS: 'local' },
      config: {
        providers: { local: { kind: 'openai', baseUrl: `${openai.url}/v1`, model: 'fake-gpt', prices: { input: 1_000_000, output: 1_000_000 } } },
        budget: { conversationCostPerDayUsd: 1 },
      },
    });
  });
  after(async () => {
    await h?.close();
    await openai?.close();
  });

  it('prices the call at the provider\'s own price and refuses the next one past the limit', async () => {
    assert.equal(await h.ask('bud', 'first'), 'Echo: first');
    assert.equal(openai.requests[0].headers.authorization, undefined, 'a keyless provider gets no credential');
    const conv = h.app.store.listConversations().find((c) => c.chat === 'bud')!;
    assert.ok(h.app.store.usageToday(conv.id).costUsd >= 1);
    const { body } = await h.send('bud', 'second');
    assert.match(body.replies[0].text, /NanoClaw budget: this conversation has used/);
    assert.equal(openai.requests.length, 1, 'the refused call never left');
  });
});

describe('transcripts, compaction and /model', () => {
  let fake: FakeAnthropic;
  let home: string;
  let h: Harness | undefined;
  before(async () => {
    fake = await startFakeAnthropic();
    home = mkdtempSync(join(tmpdir(), 'nct-builtin-'));
  });
  after(async () => {
    await h?.close();
    await fake?.close();
    rmSync(home, { recursive: true, force: true });
  });
  const BUILTIN = { NANOCLAW_AGENT_ENGINE: 'builtin' };

  /** A gateway on the shared home for one test, closed however the test ends. */
  async function withGateway(env: Record<string, string>, config: object | undefined, test: (h: Harness) => Promise<void>): Promise<void> {
    h = await startHarness({ fake, home, env, config });
    try {
      await test(h);
    } finally {
      await h.close();
      h = undefined;
    }
  }

  it('resumes a conversation in a new container after the gateway restarts', async () => {
    await withGateway(BUILTIN, undefined, (g) => g.ask('resume', 'my locker number is 4711').then(() => {}));
    await withGateway(BUILTIN, undefined, async (g) => {
      await g.ask('resume', 'what was it?');
      const req = fake.requests.at(-1)!;
      assert.match(JSON.stringify(req.body?.messages), /my locker number is 4711/, 'the earlier turn was in the new container\'s request');
    });
  });

  it('compacts a conversation before it outgrows the model\'s context, and goes on', async () => {
    const small = { providers: { anthropic: { kind: 'anthropic', baseUrl: fake.url, model: 'claude-sonnet-4-5', apiKeySecret: 'ANTHROPIC_API_KEY', contextTokens: 8000, maxOutputTokens: 512 } } };
    await withGateway(BUILTIN, small, async (g) => {
      const long = 'lorem ipsum '.repeat(600);
      for (let i = 0; i < 4; i++) assert.match(await g.ask('compact', `${i}: ${long}`), /^Echo: /);
      const summaries = fake.requests.filter((r) => /compress a conversation/.test(JSON.stringify(r.body?.system)));
      assert.ok(summaries.length >= 1, 'a summary was asked for');
      const last = fake.requests.at(-1)!;
      assert.match(JSON.stringify(last.body?.messages), /summary of the conversation so far/);
      assert.ok(JSON.stringify(last.body).length < 8000 * 3.5, 'the request fits the context again');
    });
  });

  it('/model switches one conversation\'s engine, for the owner, audited', async () => {
    await withGateway({}, undefined, async (g) => {
      await g.ask('switch', 'on the sdk');
      assert.ok(toolNames(fake.requests.at(-1)!.body).includes('Bash'), 'the Claude engine first');
      assert.match(await g.ask('switch', '/model'), /runs the claude engine with anthropic/);
      assert.match(await g.ask('switch', '/model builtin'), /^Changed: the builtin engine with anthropic/);
      await g.ask('switch', 'on the built-in one');
      assert.ok(toolNames(fake.requests.at(-1)!.body).includes('shell'), 'now the built-in engine');
      assert.match(await g.ask('switch', '/model builtin nosuch'), /Not changed: provider "nosuch" is not configured/);
      assert.equal(readAuditLog(auditLogPath(home), { type: 'admin.model' }).length, 1);
    });
  });
});
