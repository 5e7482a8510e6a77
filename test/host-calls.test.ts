/**
 * Host tool calls during a turn, with a real container running the real
 * runner and the Claude engine, against the stand-in model: the model calls
 * `mcp__nanoclaw__send_message` and friends (the fake's `tool:` rule), the
 * runner sends each as a protocol `call`, the host hands it to the turn's
 * handler and the handler's answer reaches the model as the tool's result.
 * The turn's timeout does not count while the agent waits on a person
 * (`ask_user`), and a stop still ends such a wait.
 *
 * The bookkeeping on both ends (the host's rules on numbering and open
 * calls, the runner's queue and local refusals) is also checked on its own,
 * without a container, below.
 */
import assert from 'node:assert/strict';
import { Providers } from '../src/config/providers.ts';
import { Secrets } from '../src/config/secrets.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ensureHome } from '../src/config/home.ts';
import { loadConfig } from '../src/config/load.ts';
import { startFakeAnthropic, type FakeAnthropic, type ScriptFn } from '../src/devtools/fake-anthropic.ts';
import { defaultScript, isAgentTurn } from '../src/devtools/fake-anthropic/script.ts';
import type { ContentBlockParam } from '../src/devtools/fake-anthropic/wire.ts';
import { HostToRunner, LIMITS, RunnerToHost, type HostToolCall, type HostToolResult } from '../src/protocol/messages.ts';
import { AgentContainer, type AuditEvent } from '../src/sandbox/agent-container.ts';
import { DockerRuntime } from '../src/sandbox/docker/index.ts';
import { NO_HOST_TOOLS, TurnCalls, type HostToolHandler } from '../src/sandbox/host-calls.ts';
import { TurnClock } from '../src/sandbox/turn-clock.ts';
import { HostTools } from '../runner/src/host-tools.ts';

/**
 * The default script, except that a user message holding a stopped tool call
 * and a new text is answered by echoing the text: after an interrupted turn
 * Claude Code sends the next message in the same user turn as the stopped
 * tool's result, and the default script would quote that result instead.
 */
const script: ScriptFn = (body) => {
  if (!isAgentTurn(body)) return undefined;
  const last = body.messages?.findLast((m) => m.role === 'user');
  const texts = typeof last?.content === 'string' ? [last.content]
    : (last?.content ?? []).flatMap((b) => (b.type === 'text' && b.text && !b.text.startsWith('<system-reminder>') ? [b.text] : []));
  const newest = texts.at(-1);
  if (!newest || newest.startsWith('tool: ') || newest.startsWith('[Request interrupted')) return undefined;
  return { blocks: [{ type: 'text', text: `Echo: ${newest}` }] };
};

/** The tool results the model was sent in requests from index `from` on, as text, with their error flag. */
function toolResultsSince(fake: FakeAnthropic, from: number): Array<{ text: string; isError: boolean }> {
  return fake.requests.slice(from).flatMap((r) => {
    const last = r.body?.messages?.findLast((m) => m.role === 'user');
    const blocks = Array.isArray(last?.content) ? last.content : [];
    return blocks.filter((b) => b.type === 'tool_result').map((b) => ({ text: textOf(b.content), isError: b.is_error === true }));
  });
}
function textOf(content: string | ContentBlockParam[] | undefined): string {
  return typeof content === 'string' ? content : (content ?? []).map((b) => b.text ?? '').join('\n');
}

describe('host tool calls from the agent in a real container', { timeout: 300_000 }, () => {
  let fake: FakeAnthropic;
  let home: string;
  let c: AgentContainer;
  const audit: AuditEvent[] = [];
  let n = 0;
  /** Runs one turn with a fresh message id. */
  const turn = (text: string, onCall?: HostToolHandler, timeoutMs = 120_000) =>
    c.runTurn({ type: 'message', id: `m${++n}`, text, sender: { id: 'tester' } }, timeoutMs, undefined, onCall);
  /** A handler that records each call and answers with `answer(call)`. */
  const recording = (answer: (call: HostToolCall, signal: AbortSignal) => Promise<HostToolResult> | HostToolResult) => {
    const calls: HostToolCall[] = [];
    const handler: HostToolHandler = async (call, signal) => { calls.push(call); return answer(call, signal); };
    return { calls, handler };
  };

  before(async () => {
    fake = await startFakeAnthropic({ script });
    home = mkdtempSync(join(tmpdir(), 'nct-calls-'));
    const layout = ensureHome(home);
    const config = loadConfig(home, { PATH: process.env.PATH, ANTHROPIC_BASE_URL: fake.url });
    c = await AgentContainer.launch({ runtime: new DockerRuntime(), config, layout, providers: Providers.load(config, new Secrets(join(home, 'no-secrets.json'), { ANTHROPIC_API_KEY: 'sk-test' })), audit: (e) => audit.push(e) }, { conversationId: 'calls' });
    c.bind('calls', { type: 'start', conversation: 'calls', engine: 'claude', memory: false });
    // The engine's first start (the CLI, its MCP servers) is not what these tests time.
    assert.deepEqual(await turn('warm up'), { ok: true, replies: ['Echo: warm up'] });
  });
  after(async () => {
    await c?.destroy('the test is over');
    await fake?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('send_message reaches the handler with its input and key, and the model reads the handler\'s text as the result', async () => {
    const { calls, handler } = recording(() => ({ ok: true, text: 'delivered to the person' }));
    const from = fake.requests.length;
    const result = await turn('tool: send_message {"text":"Halfway there."}', handler);

    assert.deepEqual(calls, [{ id: `m${n}`, call: 1, tool: 'send_message', input: { text: 'Halfway there.' } }]);
    assert.deepEqual(result, { ok: true, replies: ['Tool output:\ndelivered to the person'] });
    assert.deepEqual(toolResultsSince(fake, from), [{ text: 'delivered to the person', isError: false }]);
    const audited = audit.filter((e) => e.type === 'tool.host_call').at(-1);
    assert.deepEqual(audited?.data, { tool: 'send_message', call: 1, input: 'Halfway there.' });
    assert.equal(audited?.container, c.name);
  });

  it('numbers the calls of a turn 1, 2, ... in the order the model made them', async () => {
    const { calls, handler } = recording((call) => ({ ok: true, text: `done ${call.tool}` }));
    const result = await turn([
      'tool: send_message {"text":"first"}',
      'tool: send_file {"path":"report.txt","caption":"second"}',
    ].join('\n'), handler);

    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(calls.map((x) => [x.call, x.tool]), [[1, 'send_message'], [2, 'send_file']]);
    assert.ok(calls.every((x) => x.id === `m${n}`), 'both carry the turn\'s message id');
    assert.deepEqual(calls[1].input, { path: 'report.txt', caption: 'second' });
  });

  it('a handler that throws answers the model with an error result, and the turn still ends well', async () => {
    const { calls, handler } = recording(() => { throw new Error('no such file: /workspace/missing.pdf'); });
    const from = fake.requests.length;
    const result = await turn('tool: send_file {"path":"missing.pdf"}', handler);

    assert.equal(calls.length, 1);
    assert.equal(result.ok, true, JSON.stringify(result));
    const [seen] = toolResultsSince(fake, from);
    assert.equal(seen?.isError, true, 'an error result (is_error)');
    assert.match(seen.text, /no such file: \/workspace\/missing\.pdf/);
  });

  it('without a handler, every call is answered "not available here"', async () => {
    const from = fake.requests.length;
    const result = await turn('tool: ask_user {"question":"Anyone there?"}');
    assert.equal(result.ok, true, JSON.stringify(result));
    const [seen] = toolResultsSince(fake, from);
    assert.equal(seen?.isError, true);
    assert.match(seen.text, new RegExp(NO_HOST_TOOLS));
  });

  it('an open ask_user pauses the turn\'s timeout: a 4 s answer in a 2 s turn still ends well', async () => {
    const { calls, handler } = recording(async (call) => {
      await sleep(4000);
      return { ok: true, text: call.tool === 'ask_user' ? 'the blue one' : 'ok' };
    });
    const result = await turn('tool: ask_user {"question":"Which one?","choices":["the red one","the blue one"]}', handler, 2000);

    assert.deepEqual(calls.map((x) => x.input), [{ question: 'Which one?', choices: ['the red one', 'the blue one'] }]);
    assert.deepEqual(result, { ok: true, replies: ['Tool output:\nthe blue one'] }, 'not timed out');
    assert.ok(c.alive);
  });

  it('a stop during an open ask_user ends the turn as interrupted, aborts the handler\'s wait, and the next message runs', async () => {
    let asked!: () => void;
    const waiting = new Promise<void>((resolve) => { asked = resolve; });
    let signalSeen: AbortSignal | undefined;
    const { handler } = recording((_call, signal) => {
      signalSeen = signal;
      asked();
      // A person who never answers: only the turn's end ends this wait.
      return new Promise<HostToolResult>((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, error: 'nobody answered' })));
    });
    const running = turn('tool: ask_user {"question":"Shall I go on?"}', handler);
    await Promise.race([waiting, running.then((r) => { throw new Error(`the turn ended before it asked: ${JSON.stringify(r)}`); })]);
    assert.equal(signalSeen?.aborted, false);

    assert.equal(c.interrupt('(stopped by /stop)'), true);
    assert.deepEqual(await running, { ok: false, code: 'interrupted', error: '(stopped by /stop)' });
    assert.equal(signalSeen?.aborted, true, 'the handler was told the turn is over');

    assert.deepEqual(await turn('still there?'), { ok: true, replies: ['Echo: still there?'] });
  });
});

describe('the host\'s rules on a turn\'s calls (TurnCalls)', () => {
  const call = (n: number, id = 'm1') => ({ type: 'call' as const, id, call: n, tool: 'send_message' as const, input: { text: `t${n}` } });
  const setup = (handler?: HostToolHandler) => {
    const answers: unknown[] = [];
    const clock = { paused: 0, pause() { this.paused++; }, resume() { this.paused--; } };
    const calls = new TurnCalls('m1', { handler, clock, answer: (r) => answers.push(r) });
    return { answers, clock, calls };
  };

  it('refuses a repeated number, a gap, another turn\'s id and a fifth open call', () => {
    const { calls } = setup(() => new Promise(() => {}));
    assert.equal(calls.accept(call(1)), undefined);
    assert.match(calls.accept(call(1)) ?? '', /repeated call 1/);
    assert.match(calls.accept(call(3)) ?? '', /call 3 .* when call 2 was next/);
    assert.match(calls.accept(call(2, 'm0')) ?? '', /not running/);
    for (const k of [2, 3, 4]) assert.equal(calls.accept(call(k)), undefined);
    assert.match(calls.accept(call(5)) ?? '', new RegExp(`more than ${LIMITS.callsOpen} host tool calls at once`));
  });

  it('answers each call with its own key, after the turn ends not at all, and pauses the clock only for ask_user', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const { answers, clock, calls } = setup(async (c) => { if (c.tool === 'ask_user') await gate; return { ok: true, text: `did ${c.call}` }; });
    calls.accept(call(1));
    calls.accept({ type: 'call', id: 'm1', call: 2, tool: 'ask_user', input: { question: 'q?' } });
    assert.equal(clock.paused, 1, 'paused while the question is open');
    await sleep(0);
    assert.deepEqual(answers, [{ type: 'call_result', id: 'm1', call: 1, ok: true, text: 'did 1' }]);
    release();
    await sleep(0);
    assert.equal(clock.paused, 0, 'running again once answered');
    assert.equal(answers.length, 2);

    const late = setup(() => sleep(5).then(() => ({ ok: true as const, text: 'late' })));
    late.calls.accept(call(1));
    late.calls.end();
    await sleep(20);
    assert.deepEqual(late.answers, [], 'nothing is sent for a turn that ended');
  });

  it('fits a handler\'s over-long text to the protocol, so the answer is never refused', async () => {
    const { answers, calls } = setup(async () => ({ ok: true, text: 'x'.repeat(LIMITS.callText * 2) }));
    calls.accept(call(1));
    await sleep(0);
    assert.ok(HostToRunner.safeParse(answers[0]).success, 'a valid call_result');
  });
});

describe('the turn clock', () => {
  it('does not fire while paused and fires after the rest of its time once resumed', async () => {
    let fired = false;
    const clock = new TurnClock(50, () => { fired = true; });
    clock.pause();
    await sleep(120);
    assert.equal(fired, false, 'paused past its whole timeout');
    clock.resume();
    await sleep(120);
    assert.equal(fired, true);
  });
});

describe('the runner\'s end of host calls (HostTools)', () => {
  const setup = () => {
    const sent: any[] = [];
    const tools = new HostTools((m) => sent.push(m));
    return { sent, tools };
  };

  it('numbers calls per turn, keeps at most four open and sends the rest in order as answers come', async () => {
    const { sent, tools } = setup();
    const results = [1, 2, 3, 4, 5, 6].map((k) => tools.call('m1', 'send_message', { text: `t${k}` }));
    assert.deepEqual(sent.map((m) => m.call), [1, 2, 3, 4], `at most ${LIMITS.callsOpen} open`);
    for (const m of sent) assert.ok(RunnerToHost.safeParse(m).success, 'each is a valid call');
    tools.answer({ type: 'call_result', id: 'm1', call: 2, ok: true, text: 'two' });
    assert.deepEqual(sent.map((m) => m.call), [1, 2, 3, 4, 5]);
    assert.deepEqual(await results[1], { ok: true, text: 'two' });
    assert.deepEqual((await Promise.race([results[0], sleep(10, 'open')])), 'open', 'call 1 is still waiting for its answer');
    void tools.call('m2', 'send_message', { text: 'other turn' });
    assert.deepEqual(sent.at(-1), { type: 'call', id: 'm2', call: 1, tool: 'send_message', input: { text: 'other turn' } }, 'another turn counts from 1');
  });

  it('answers an input outside the protocol\'s bounds itself, with the reason, and sends nothing', async () => {
    const { sent, tools } = setup();
    const r = await tools.call('m1', 'send_message', { text: 'x'.repeat(LIMITS.callText + 1) });
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error, /invalid input for send_message: text/);
    assert.deepEqual(sent, []);
  });

  it('a stopped turn\'s waiting calls are answered at once; the host\'s late answer is dropped', async () => {
    const { sent, tools } = setup();
    const asking = tools.call('m1', 'ask_user', { question: 'go on?' });
    tools.stopTurn('m1', 'the person stopped this turn');
    assert.deepEqual(await asking, { ok: false, error: 'the person stopped this turn' });
    tools.answer({ type: 'call_result', id: 'm1', call: 1, ok: true, text: 'yes' });
    tools.endTurn('m1');
    assert.equal(sent.length, 1);
  });
});

describe('the stand-in model\'s `tool:` rule', () => {
  const offering = (names: string[], text: string) => defaultScript({
    tools: names.map((name) => ({ name })),
    messages: [{ role: 'user', content: [{ type: 'text', text: '<system-reminder>who</system-reminder>' }, { type: 'text', text }] }],
  });

  it('calls a host tool by its bare name, and any offered tool by its full name, one tool_use per line', () => {
    const reply = offering(['Bash', 'Read', 'mcp__nanoclaw__send_message'], 'tool: send_message {"text":"hi"}\ntool: Read {"file_path":"/etc/hostname"}');
    assert.deepEqual(reply.blocks, [
      { type: 'text', text: 'Calling mcp__nanoclaw__send_message, Read.' },
      { type: 'tool_use', name: 'mcp__nanoclaw__send_message', input: { text: 'hi' } },
      { type: 'tool_use', name: 'Read', input: { file_path: '/etc/hostname' } },
    ]);
  });

  it('says so instead of calling a tool the request does not offer, or with an input that is not a JSON object', () => {
    assert.deepEqual(offering(['Bash'], 'tool: ask_user {"question":"q"}').blocks, [{ type: 'text', text: 'No such tool: mcp__nanoclaw__ask_user.' }]);
    assert.deepEqual(offering(['Bash'], 'tool: Bash [1]').blocks, [{ type: 'text', text: 'Not a JSON object: [1]' }]);
    assert.deepEqual(offering(['Bash'], 'tool: Bash').blocks.at(-1), { type: 'tool_use', name: 'Bash', input: {} }, 'no input is {}');
  });
});
