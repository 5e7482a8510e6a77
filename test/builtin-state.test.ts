/**
 * The built-in engine's state and decisions, without a container: its
 * transcript file (which the agent can overwrite, so it is read as hostile
 * input), compaction, and the fallback chain's choices against real HTTP
 * stand-ins of both APIs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compact, estimateTokens, overBudget } from '../runner/src/engines/builtin/compaction.ts';
import { answerFromChain, ChainFailed, type ChainLink } from '../runner/src/engines/builtin/fallback.ts';
import { ProviderError, type TranscriptMessage } from '../runner/src/engines/builtin/model.ts';
import { modelClient } from '../runner/src/engines/builtin/providers/index.ts';
import { TranscriptStore } from '../runner/src/engines/builtin/transcript-store.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../src/devtools/fake-openai.ts';
import type { Failure } from '../src/devtools/fake-failure.ts';

const user = (text: string): TranscriptMessage => ({ role: 'user', blocks: [{ type: 'text', text }] });
const assistant = (text: string): TranscriptMessage => ({ role: 'assistant', blocks: [{ type: 'text', text }] });

describe('the built-in engine\'s transcript file', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'nct-transcripts-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('saves and loads a session, replacing the file atomically (no temporary file left)', () => {
    const store = new TranscriptStore(dir);
    const id = store.newSession();
    const messages: TranscriptMessage[] = [user('hi'), { role: 'assistant', blocks: [{ type: 'tool_call', id: 't1', name: 'shell', input: { command: 'ls' } }] },
      { role: 'user', blocks: [{ type: 'tool_result', id: 't1', content: 'a.txt', isError: false }] }];
    store.save(id, messages);
    store.save(id, [...messages, assistant('done')]);
    assert.deepEqual(store.load(id), [...messages, assistant('done')]);
    assert.deepEqual(readdirSync(dir), [`${id}.json`]);
  });

  it('treats a planted link, a FIFO, a malformed file or a foreign session id as a lost session, without hanging', () => {
    const store = new TranscriptStore(dir);
    const target = join(dir, 'elsewhere.json');
    const id1 = store.newSession();
    store.save(id1, [user('secret')]);
    const id2 = store.newSession();
    symlinkSync(join(dir, `${id1}.json`), join(dir, `${id2}.json`));
    assert.equal(store.load(id2), undefined, 'a link is not followed');
    const id3 = store.newSession();
    execFileSync('mkfifo', [join(dir, `${id3}.json`)]);
    assert.equal(store.load(id3), undefined, 'a FIFO is not read');
    const id4 = store.newSession();
    writeFileSync(join(dir, `${id4}.json`), JSON.stringify({ messages: [{ role: 'system', blocks: [] }] }));
    assert.equal(store.load(id4), undefined, 'an unknown role');
    const id5 = store.newSession();
    writeFileSync(join(dir, `${id5}.json`), JSON.stringify({ messages: [{ role: 'user', blocks: [{ type: 'tool_call', id: 1, name: 'x', input: [] }] }] }));
    assert.equal(store.load(id5), undefined, 'a malformed block');
    writeFileSync(target, '{');
    assert.equal(store.load('../elsewhere'), undefined, 'a session id is never a path');
    assert.equal(store.load('3f0c2a9e-claude-session'), undefined, 'another engine\'s session id');
  });
});

describe('compaction', () => {
  const window = { contextTokens: 4000, maxOutputTokens: 500 };

  it('estimates on the safe side and triggers at 80% of the window after room for the answer', () => {
    const small = [user('x'.repeat(100))];
    assert.equal(overBudget(estimateTokens('', [], small), window), false);
    const big = [user('x'.repeat(3.5 * 2900))];
    assert.equal(overBudget(estimateTokens('', [], big), window), true);
  });

  it('summarises the older turns and keeps the latest whole, never splitting a tool call from its result', async () => {
    const messages: TranscriptMessage[] = [
      user('first question'), assistant('first answer'),
      user('second question'),
      { role: 'assistant', blocks: [{ type: 'tool_call', id: 't1', name: 'shell', input: { command: 'date' } }] },
      { role: 'user', blocks: [{ type: 'tool_result', id: 't1', content: 'Tue' }] },
      assistant('it is Tuesday'),
      user('third question'), assistant('third answer'),
    ];
    let summarised = '';
    const out = await compact(messages, (kept) => kept.length <= 2, async (text) => { summarised = text; return 'they asked three things'; });
    assert.match(summarised, /Person: first question[\s\S]*Agent called shell with \{"command":"date"\}[\s\S]*Tool result: Tue/);
    assert.doesNotMatch(summarised, /third question/);
    assert.match((out[0].blocks[0] as { text: string }).text, /they asked three things/);
    assert.deepEqual(out.slice(2), messages.slice(6), 'the last turn kept as it was');
    const more = await compact(messages, () => true, async () => 'earlier');
    assert.deepEqual(more.slice(2), messages.slice(2), 'as many turns as fit are kept');
  });

  it('shortens old tool results when a single turn is all there is', async () => {
    const huge = 'y'.repeat(50_000);
    const messages: TranscriptMessage[] = [user('one long task')];
    for (let i = 0; i < 6; i++) {
      messages.push({ role: 'assistant', blocks: [{ type: 'tool_call', id: `t${i}`, name: 'read', input: { path: `f${i}` } }] });
      messages.push({ role: 'user', blocks: [{ type: 'tool_result', id: `t${i}`, content: huge }] });
    }
    const out = await compact(messages, () => false, async () => assert.fail('nothing to summarise'));
    const sizes = out.flatMap((m) => m.blocks.flatMap((b) => (b.type === 'tool_result' ? [b.content.length] : [])));
    assert.ok(sizes.slice(0, 2).every((n) => n < 3000), 'the oldest results shortened');
    assert.ok(sizes.slice(-4).every((n) => n === huge.length), 'the latest four kept');
  });
});

describe('the fallback chain', () => {
  let anthropic: FakeAnthropic;
  let openai: FakeOpenAI;
  let failures: Array<Failure | undefined> = [];
  before(async () => {
    anthropic = await startFakeAnthropic();
    openai = await startFakeOpenAI({ fail: () => failures.shift() });
  });
  after(async () => { await anthropic?.close(); await openai?.close(); });

  const chain = (): ChainLink[] => [
    { spec: { name: 'first', kind: 'openai', model: 'fake-gpt', contextTokens: 8000, maxOutputTokens: 500 }, client: modelClient({ kind: 'openai', baseUrl: openai.baseUrl, apiKey: 'k', model: 'fake-gpt' }) },
    { spec: { name: 'second', kind: 'anthropic', model: 'claude-x', contextTokens: 8000, maxOutputTokens: 500 }, client: modelClient({ kind: 'anthropic', baseUrl: anthropic.url, apiKey: 'k', model: 'claude-x' }) },
  ];
  const ask = (text: string, signal = never()) => answerFromChain(chain(), (link) => ({
    system: 's', messages: [user(text)], tools: [{ name: 'shell', description: 'run', inputSchema: { type: 'object', properties: {} } }], maxTokens: link.spec.maxOutputTokens, signal,
  }));

  it('answers from the first provider when it works, and passes nobody over', async () => {
    const a = await ask('plain');
    assert.equal(a.provider.name, 'first');
    assert.deepEqual(a.passedOver, []);
    assert.deepEqual(a.blocks, [{ type: 'text', text: 'Echo: plain' }]);
  });

  it('passes over a provider whose key is refused, and says why', async () => {
    failures = [{ kind: 'http', status: 401, type: 'invalid_api_key', message: 'Incorrect API key provided' }];
    const a = await ask('after 401');
    assert.equal(a.provider.name, 'second');
    assert.match(a.passedOver[0].error, /^refused the key \(HTTP 401\): Incorrect API key/);
  });

  it('stops at the host\'s budget refusal instead of trying the others', async () => {
    failures = [{ kind: 'http', status: 403, type: 'permission_error', message: 'NanoClaw budget: this conversation has used $2.00 of its $1 daily limit' }];
    const before = anthropic.requests.length;
    await assert.rejects(ask('over budget'), (e: unknown) => e instanceof ProviderError && /NanoClaw budget/.test(e.message));
    assert.equal(anthropic.requests.length, before, 'the second provider was not asked');
  });

  it('fails with every provider\'s reason when none answers', async () => {
    const dead: ChainLink[] = chain().map((l) => ({ ...l, client: modelClient({ kind: l.spec.kind, baseUrl: 'http://127.0.0.1:9', apiKey: 'k', model: 'm' }) }));
    await assert.rejects(answerFromChain(dead, (link) => ({ system: 's', messages: [user('x')], tools: [], maxTokens: link.spec.maxOutputTokens, signal: never() })),
      (e: unknown) => e instanceof ChainFailed && e.passedOver.length === 2 && /could not be reached/.test(e.message));
  });

  it('gives up at once when the turn is stopped', async () => {
    failures = [{ kind: 'midstream', end: 'stall' }];
    const stop = new AbortController();
    const pending = ask('stalls', stop.signal);
    setTimeout(() => stop.abort(), 200);
    await assert.rejects(pending, (e: unknown) => e instanceof ProviderError && e.kind === 'aborted');
  });
});

/** A signal that never fires, for calls nobody stops. */
function never(): AbortSignal {
  return new AbortController().signal;
}
