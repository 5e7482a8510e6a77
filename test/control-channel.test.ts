/**
 * The host end of the protocol stream, over a real Unix socket: only the
 * runner's first connection is ever listened to, every line is checked
 * against the protocol's schema, and the first bad one (malformed, oversized,
 * unknown, out of order, another version, never ending) is reported once and
 * ends the stream, so nothing a runner gone wrong sends after it is believed.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { ControlChannel, ProtocolViolation } from '../src/sandbox/control-channel.ts';
import { FAILURE_CODES, HOST_TOOLS, HostToRunner, LIMITS, PROTOCOL_VERSION, RunnerToHost } from '../src/protocol/messages.ts';
import { clip, fitOutcome } from '../runner/src/bounds.ts';

const HELLO = { type: 'hello', protocol: PROTOCOL_VERSION, runner: '0.1.0', engine: 'test' };
const line = (m: unknown) => JSON.stringify(m) + '\n';

/** A client end that records what it sees; the socket is connected when this resolves. */
async function connect(socketPath: string): Promise<{ sock: net.Socket; closed: Promise<void>; received: () => string }> {
  const sock = net.createConnection(socketPath);
  let data = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => { data += chunk; });
  sock.on('error', () => {}); // writing to a refused connection may fail with EPIPE: that is the point
  // Not events.once: it would reject on the socket's error, and a refused socket's errors are expected.
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  await once(sock, 'connect');
  return { sock, closed, received: () => data };
}

/** Everything the channel emits as `event`, in order. */
function collect(ch: ControlChannel, event: string): unknown[] {
  const seen: unknown[] = [];
  ch.on(event, (m: unknown) => seen.push(m));
  return seen;
}

async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('control channel (host end of the runner protocol)', () => {
  let dir: string;
  let ch: ControlChannel | undefined;
  let n = 0;
  const socketPath = () => join(dir, `control-${++n}.sock`);

  before(() => { dir = mkdtempSync(join(tmpdir(), 'ncc-')); });
  afterEach(() => { ch?.close(); ch = undefined; });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('listens to the first connection only: a second client is closed and what it sends is never emitted', async () => {
    const path = socketPath();
    ch = await ControlChannel.listen(path);
    const messages = collect(ch, 'message');

    const runner = await connect(path);
    await ch.connected;
    runner.sock.write(line(HELLO));
    const intruder = await connect(path);
    intruder.sock.write(line(HELLO) + line({ type: 'turn_end', id: '1', ok: true, replies: ['from the intruder'] }));
    await intruder.closed;
    assert.ok(intruder.sock.destroyed, 'the second connection was closed by the host');

    runner.sock.write(JSON.stringify({ type: 'turn_end', id: '1', ok: true, replies: ['from the runner'] }) + '\n');
    await until(() => messages.length >= 2, 5000, 'the runner\'s message');
    // Give a stray intruder line every chance to arrive before judging.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(messages, [HELLO, { type: 'turn_end', id: '1', ok: true, replies: ['from the runner'] }]);

    // The runner's stream still works both ways after the refusal.
    assert.equal(ch.send({ type: 'message', id: '2', text: 'hi', sender: { id: 'me' } }), true);
    await until(() => runner.received().includes('\n'), 5000, 'the host message at the runner');
    assert.deepEqual(JSON.parse(runner.received().trim()), { type: 'message', id: '2', text: 'hi', sender: { id: 'me' } });
    runner.sock.destroy();
  });

  it('refuses a new connection after the runner hung up, and reports the close once', async () => {
    const path = socketPath();
    ch = await ControlChannel.listen(path);
    const messages = collect(ch, 'message');
    let closes = 0;
    ch.on('close', () => closes++);
    const runner = await connect(path);
    await ch.connected;
    runner.sock.end();
    await until(() => closes === 1, 5000, 'the channel close');
    // The listening socket is gone with the channel: a would-be second runner cannot connect at all.
    const late = net.createConnection(path);
    const outcome = await new Promise<string>((resolve) => {
      late.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      late.once('connect', () => {
        late.write(JSON.stringify({ type: 'log', level: 'info', text: 'late' }) + '\n');
        late.once('close', () => resolve('closed'));
      });
    });
    assert.ok(['ENOENT', 'ECONNREFUSED', 'closed'].includes(outcome), `late connection: ${outcome}`);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(messages, []);
    assert.equal(closes, 1);
  });

  it('reads valid messages split across writes and sent several to a write, and ignores blank lines', async () => {
    const path = socketPath();
    ch = await ControlChannel.listen(path);
    const messages = collect(ch, 'message');
    const errors = collect(ch, 'protocol_error');
    const runner = await connect(path);
    await ch.connected;
    runner.sock.write(line(HELLO) + '{"type": "log", "level": "info", "text": "split ');
    await new Promise((r) => setTimeout(r, 20));
    runner.sock.write('across writes"}\n\n' + line({ type: 'session', sessionId: 's-1' }) + line({ type: 'progress', id: '7', kind: 'tool_use', tool: 'Bash', text: 'ls' }));
    await until(() => messages.length >= 4, 5000, 'four messages');
    assert.deepEqual(messages.slice(1), [
      { type: 'log', level: 'info', text: 'split across writes' },
      { type: 'session', sessionId: 's-1' },
      { type: 'progress', id: '7', kind: 'tool_use', tool: 'Bash', text: 'ls' },
    ]);
    assert.deepEqual(errors, []);
    runner.sock.destroy();
  });

  /**
   * Each bad input, after a good hello unless it is about the hello; the
   * reason is the host's own words (shown to the user), the detail may quote
   * the runner (audited).
   */
  const badLines: Array<{ what: string; hello?: boolean; lines: string[]; reason: RegExp; detail?: RegExp; kind?: 'version' }> = [
    { what: 'a line that is not JSON', lines: ['this is not json\n'], reason: /not JSON/, detail: /this is not json/ },
    { what: 'a progress text that is a number (the value that crashed the gateway)', lines: [line({ type: 'progress', id: '1', kind: 'tool_use', tool: 'Bash', text: 12345 })], reason: /wrong shape/, detail: /progress\.text/ },
    { what: 'a reply that is not a string', lines: [line({ type: 'turn_end', id: '1', ok: true, replies: [{ evil: true }] })], reason: /wrong shape/, detail: /replies/ },
    { what: 'an unknown message type', lines: [line({ type: 'exec', command: 'rm -rf /' })], reason: /wrong shape/ },
    { what: 'an unknown key', lines: [line({ type: 'log', level: 'info', text: 'x', extra: 1 })], reason: /wrong shape/, detail: /extra/ },
    { what: 'a JSON value that is not an object', lines: [line([1, 2, 3])], reason: /wrong shape/ },
    { what: 'a huge progress text', lines: [line({ type: 'progress', id: '1', kind: 'text', text: 'x'.repeat(LIMITS.text + 1) })], reason: /wrong shape/, detail: /progress\.text/ },
    { what: 'replies over the total', lines: [line({ type: 'turn_end', id: '1', ok: true, replies: ['x'.repeat(LIMITS.repliesTotal / 2), 'y'.repeat(LIMITS.repliesTotal / 2 + 1)] })], reason: /wrong shape/, detail: /in all/ },
    { what: 'too many replies', lines: [line({ type: 'turn_end', id: '1', ok: true, replies: Array(LIMITS.replies + 1).fill('hi') })], reason: /wrong shape/ },
    { what: 'a huge id', lines: [line({ type: 'turn_end', id: 'i'.repeat(LIMITS.id + 1), ok: false, error: 'x' })], reason: /wrong shape/, detail: /turn_end\.id/ },
    { what: 'a message before hello', hello: false, lines: [line({ type: 'log', level: 'info', text: 'early' })], reason: /first message was not hello/ },
    { what: 'a second hello', lines: [line(HELLO)], reason: /second hello/ },
    { what: 'a hello of another protocol version', hello: false, lines: [line({ ...HELLO, protocol: PROTOCOL_VERSION + 1 })], kind: 'version', reason: new RegExp(`speaks protocol ${PROTOCOL_VERSION + 1} but this gateway speaks protocol ${PROTOCOL_VERSION}: rebuild the agent image`) },
    { what: 'a hello with no version (an older runner)', hello: false, lines: [line({ type: 'hello', runner: '0.1.0', engine: 'claude-agent-sdk' })], kind: 'version', reason: /speaks no protocol version but this gateway speaks protocol \d+: rebuild the agent image/ },
  ];
  for (const bad of badLines) {
    it(`ends the stream at ${bad.what}: one protocol_error, nothing after it is read`, async () => {
      const path = socketPath();
      ch = await ControlChannel.listen(path);
      const messages = collect(ch, 'message');
      const errors = collect(ch, 'protocol_error') as ProtocolViolation[];
      const channelClosed = once(ch, 'close');
      const runner = await connect(path);
      await ch.connected;
      const hello = bad.hello ?? true;
      // Everything in one write: the good line after the bad one arrives with it, and must still be ignored.
      runner.sock.write((hello ? line(HELLO) : '') + bad.lines.join('') + line({ type: 'log', level: 'info', text: 'after the bad line' }));
      await channelClosed;
      await runner.closed;
      assert.deepEqual(messages, hello ? [HELLO] : []);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof ProtocolViolation);
      assert.match(errors[0].message, bad.reason);
      if (bad.detail) assert.match(errors[0].detail ?? '', bad.detail);
      assert.equal(errors[0].kind, bad.kind ?? 'invalid');
      assert.ok(errors[0].message.length + (errors[0].detail?.length ?? 0) < 600, 'the description is short, whatever the line held');
      assert.equal(ch.send({ type: 'stop' }), false, 'nothing can be sent on a closed stream');
    });
  }

  it('closes the stream when a line grows over the limit without ending', async () => {
    const path = socketPath();
    ch = await ControlChannel.listen(path);
    const messages = collect(ch, 'message');
    const errors = collect(ch, 'protocol_error') as Error[];
    const channelClosed = once(ch, 'close');

    const runner = await connect(path);
    await ch.connected;
    runner.sock.write(line(HELLO));
    // 5 MiB of one line, no newline: over the 4 MiB limit.
    const chunk = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 80 && !runner.sock.destroyed; i++) {
      if (!runner.sock.write(chunk)) await Promise.race([new Promise((r) => runner.sock.once('drain', r)), runner.closed]);
    }
    await runner.closed;
    await channelClosed;
    assert.deepEqual(messages, [HELLO]);
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, new RegExp(`line over ${LIMITS.line} characters`));
    assert.equal(ch.send({ type: 'message', id: '2', text: 'hi', sender: { id: 'me' } }), false, 'nothing can be sent on a closed stream');
  });

  it('closes the stream when a started line stops short of its end', async () => {
    const path = socketPath();
    ch = await ControlChannel.listen(path, { partialLineMs: 300 });
    const messages = collect(ch, 'message');
    const errors = collect(ch, 'protocol_error') as Error[];
    const channelClosed = once(ch, 'close');
    const runner = await connect(path);
    await ch.connected;
    runner.sock.write(line(HELLO) + '{"type": "log", "level": "info", "text": "and then nothing');
    await channelClosed;
    await runner.closed;
    assert.deepEqual(messages, [HELLO]);
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /started a line and did not end it/);
  });

  it('lets the owner end the stream for a message that is wrong in context', async () => {
    const path = socketPath();
    ch = await ControlChannel.listen(path);
    const errors = collect(ch, 'protocol_error') as ProtocolViolation[];
    const channelClosed = once(ch, 'close');
    const runner = await connect(path);
    await ch.connected;
    ch.violation(new ProtocolViolation('it sent turn_end for a turn that is not running'));
    ch.violation(new ProtocolViolation('reported once only'));
    await channelClosed;
    await runner.closed;
    assert.deepEqual(errors.map((e) => e.message), ['it sent turn_end for a turn that is not running']);
  });

  it('refuses to send a message the runner would refuse, and sends nothing', async () => {
    const path = socketPath();
    ch = await ControlChannel.listen(path);
    const runner = await connect(path);
    await ch.connected;
    assert.throws(() => ch!.send({ type: 'message', id: '1', text: 'x'.repeat(LIMITS.messageText + 1), sender: { id: 'me' } }),
      (err: Error) => err instanceof ProtocolViolation && /this message is outside the protocol's bounds, so nothing was sent to the agent \(message\.text: /.test(err.message));
    assert.throws(() => ch!.send({ type: 'start', conversation: 'c', memory: false, extra: 1 } as never), ProtocolViolation);
    assert.equal(ch.send({ type: 'stop' }), true);
    await until(() => runner.received().includes('\n'), 5000, 'the stop message');
    assert.equal(runner.received(), line({ type: 'stop' }), 'only the valid message went out');
    runner.sock.destroy();
  });
});

describe('an honest runner fits what it sends to the host\'s bounds', () => {
  it('clips long texts with a note, and the host accepts the result', () => {
    const long = 'a'.repeat(LIMITS.text * 3);
    const clipped = clip(long, LIMITS.text);
    assert.equal(clipped.length, LIMITS.text);
    assert.match(clipped, /… \(\d+ more characters not shown\)$/);
    assert.equal(clip('short', LIMITS.text), 'short');
    const progress = { type: 'progress', id: '1', kind: 'tool_use', tool: clip('t'.repeat(500), LIMITS.name), text: clipped };
    assert.ok(RunnerToHost.safeParse(progress).success);
  });

  it('fits a turn\'s replies to the count and the total, and an error to the text bound', () => {
    const huge = fitOutcome({ ok: true, replies: Array(LIMITS.replies + 5).fill('r'.repeat(LIMITS.repliesTotal / 4)) });
    assert.ok(huge.ok);
    assert.ok(huge.replies.length <= LIMITS.replies);
    assert.ok(huge.replies.reduce((n, r) => n + r.length, 0) <= LIMITS.repliesTotal);
    assert.ok(RunnerToHost.safeParse({ type: 'turn_end', id: '1', ...huge }).success);
    assert.deepEqual(fitOutcome({ ok: true, replies: ['hi', 'there'] }), { ok: true, replies: ['hi', 'there'] });
    const failed = fitOutcome({ ok: false, code: 'engine', error: 'e'.repeat(LIMITS.text * 10) });
    assert.ok(RunnerToHost.safeParse({ type: 'turn_end', id: '1', ...failed }).success);
    assert.equal(failed.ok ? undefined : failed.code, 'engine', 'the code survives the fitting');
  });
});

describe('protocol 2: failure codes, the sender and interrupt', () => {
  it('a failed turn_end must carry a known code', () => {
    const failed = { type: 'turn_end', id: '1', ok: false, error: 'x' };
    assert.equal(RunnerToHost.safeParse(failed).success, false, 'no code: refused');
    assert.equal(RunnerToHost.safeParse({ ...failed, code: 'sulking' }).success, false, 'an unknown code: refused');
    for (const code of FAILURE_CODES) assert.ok(RunnerToHost.safeParse({ ...failed, code }).success, code);
    assert.equal(RunnerToHost.safeParse({ type: 'turn_end', id: '1', ok: true, replies: [], code: 'engine' }).success, false, 'a success has no code');
  });

  it('a message carries the sender as an id and an optional, bounded name', () => {
    const m = { type: 'message', id: '1', text: 'hi' };
    assert.ok(HostToRunner.safeParse({ ...m, sender: { id: 'tg:42', name: 'Ann' } }).success);
    assert.ok(HostToRunner.safeParse({ ...m, sender: { id: 'tg:42' } }).success);
    assert.equal(HostToRunner.safeParse({ ...m, sender: 'tg:42' }).success, false, 'the version 1 form is refused');
    assert.equal(HostToRunner.safeParse({ ...m, sender: { id: 'x', name: 'n'.repeat(LIMITS.name + 1) } }).success, false);
    assert.equal(HostToRunner.safeParse({ ...m, sender: { id: 'x', role: 'owner' } }).success, false, 'no extra keys');
  });

  it('start names the engine, one of those the protocol knows', () => {
    const start = { type: 'start', conversation: 'c', memory: false };
    assert.ok(HostToRunner.safeParse({ ...start, engine: 'claude' }).success);
    assert.equal(HostToRunner.safeParse(start).success, false, 'no engine: refused');
    assert.equal(HostToRunner.safeParse({ ...start, engine: 'gpt' }).success, false, 'an unknown engine: refused');
  });

  it('interrupt names the turn to stop', () => {
    assert.ok(HostToRunner.safeParse({ type: 'interrupt', id: '7' }).success);
    assert.equal(HostToRunner.safeParse({ type: 'interrupt' }).success, false);
  });
});

describe('protocol 4: host tool calls', () => {
  const call = { type: 'call', id: 'm1', call: 1 };

  it('a call names one of the host\'s tools with that tool\'s strict, bounded input', () => {
    assert.deepEqual([...HOST_TOOLS].slice(0, 4), ['send_message', 'send_file', 'ask_user', 'compose_mail']);
    assert.ok(RunnerToHost.safeParse({ ...call, tool: 'send_message', input: { text: 'hi' } }).success);
    assert.ok(RunnerToHost.safeParse({ ...call, tool: 'send_file', input: { path: 'out/report.pdf', caption: 'the report' } }).success);
    assert.ok(RunnerToHost.safeParse({ ...call, tool: 'ask_user', input: { question: 'Which?', choices: ['a', 'b'] } }).success);
    assert.ok(RunnerToHost.safeParse({ ...call, tool: 'compose_mail', input: { to: ['bob@example.com'], subject: 'Hi', text: 'Hello', via: 'gmail' } }).success);
    const refused = [
      { ...call, tool: 'exec', input: { command: 'id' } },
      { ...call, tool: 'send_message', input: { path: 'x' } },
      { ...call, tool: 'send_message', input: { text: '' } },
      { ...call, tool: 'send_message', input: { text: 'x'.repeat(LIMITS.callText + 1) } },
      { ...call, tool: 'send_message', input: { text: 'hi', to: 'everyone' } },
      { ...call, tool: 'send_file', input: { path: 'p'.repeat(LIMITS.path + 1) } },
      { ...call, tool: 'ask_user', input: { question: 'q', choices: Array(LIMITS.choices + 1).fill('a') } },
      { ...call, tool: 'ask_user', input: { question: 'q', choices: ['c'.repeat(LIMITS.choice + 1)] } },
      { ...call, tool: 'compose_mail', input: { to: [], subject: 'Hi', text: 'Hello' } },
      { ...call, tool: 'compose_mail', input: { to: Array(LIMITS.recipients + 1).fill('a@b.c'), subject: 'Hi', text: 'Hello' } },
      { ...call, tool: 'compose_mail', input: { to: [`${'a'.repeat(LIMITS.address)}@b.c`], subject: 'Hi', text: 'Hello' } },
      { ...call, tool: 'compose_mail', input: { to: ['a@b.c'], subject: 's'.repeat(LIMITS.subject + 1), text: 'Hello' } },
      { ...call, tool: 'compose_mail', input: { to: ['a@b.c'], subject: 'Hi', text: 'Hello', via: 'telegram' } },
      { ...call, call: 0, tool: 'send_message', input: { text: 'hi' } },
      { ...call, call: LIMITS.callsPerTurn + 1, tool: 'send_message', input: { text: 'hi' } },
      { ...call, call: 1.5, tool: 'send_message', input: { text: 'hi' } },
    ];
    for (const m of refused) assert.equal(RunnerToHost.safeParse(m).success, false, JSON.stringify(m).slice(0, 120));
  });

  it('a call_result answers (id, call) with text or an error, bounded', () => {
    const r = { type: 'call_result', id: 'm1', call: 1 };
    assert.ok(HostToRunner.safeParse({ ...r, ok: true, text: 'sent' }).success);
    assert.ok(HostToRunner.safeParse({ ...r, ok: false, error: 'no such file' }).success);
    assert.equal(HostToRunner.safeParse({ ...r, ok: true, error: 'x' }).success, false);
    assert.equal(HostToRunner.safeParse({ ...r, ok: true, text: 'x'.repeat(LIMITS.callText + 1) }).success, false);
  });
});

describe('protocol 5: engines, providers and MCP servers', () => {

  it('start names the engine, the provider chain (names and models, no key, no address) and the MCP servers', () => {
    const start = { type: 'start', conversation: 'c', engine: 'builtin', memory: false };
    const provider = { name: 'groq', kind: 'openai', model: 'llama-3.3-70b', contextTokens: 128000, maxOutputTokens: 8192 };
    assert.ok(HostToRunner.safeParse({ ...start, providers: [provider], mcpServers: [
      { type: 'stdio', name: 'files', command: 'node', args: ['/mnt/x/s.mjs'], env: { ROOT: '/workspace' } },
      { type: 'http', name: 'web', url: 'https://mcp.example.com/mcp' },
    ] }).success);
    assert.equal(HostToRunner.safeParse({ ...start, engine: 'gpt' }).success, false, 'an unknown engine');
    assert.equal(HostToRunner.safeParse({ ...start, providers: [{ ...provider, apiKey: 'sk-x' }] }).success, false, 'a key has no place in start');
    assert.equal(HostToRunner.safeParse({ ...start, providers: [{ ...provider, baseUrl: 'https://api.groq.com' }] }).success, false, 'nor an address');
    assert.equal(HostToRunner.safeParse({ ...start, providers: Array(LIMITS.providers + 1).fill(provider) }).success, false, 'a bounded chain');
    assert.equal(HostToRunner.safeParse({ ...start, mcpServers: [{ type: 'http', name: 'web', url: 'not a url' }] }).success, false);
  });

  it('model says which provider answered a turn and why the ones before were passed over, bounded', () => {
    const m = { type: 'model', id: 'm1', provider: 'groq', model: 'llama', passedOver: [{ provider: 'anthropic', error: 'overloaded (HTTP 529)' }] };
    assert.ok(RunnerToHost.safeParse(m).success);
    assert.equal(RunnerToHost.safeParse({ ...m, passedOver: Array(LIMITS.providers + 1).fill(m.passedOver[0]) }).success, false);
    assert.equal(RunnerToHost.safeParse({ ...m, passedOver: [{ provider: 'a', error: 'x'.repeat(LIMITS.text + 1) }] }).success, false);
    assert.equal(RunnerToHost.safeParse({ ...m, deliverTo: 'everyone' }).success, false, 'no extra keys');
  });
});

describe('protocol 6: the task and skill host tools', () => {
  const call = { type: 'call', id: 'm1', call: 1 };

  it('is version 6', () => assert.equal(PROTOCOL_VERSION, 6));

  it('schedule_task, list_tasks, change_task and propose_skill take strict, bounded input', () => {
    assert.deepEqual([...HOST_TOOLS].slice(4), ['schedule_task', 'list_tasks', 'change_task', 'propose_skill']);
    const accepted = [
      { tool: 'schedule_task', input: { schedule: 'cron 0 7 * * *', prompt: 'Brief me', timezone: 'Europe/Berlin', missed: 'skip', name: 'briefing' } },
      { tool: 'list_tasks', input: {} },
      { tool: 'change_task', input: { id: 3, action: 'pause' } },
      { tool: 'change_task', input: { id: 3, action: 'edit', schedule: 'every 2h', prompt: 'x' } },
      { tool: 'propose_skill', input: { path: 'skills/tide-table', note: 'for tides' } },
    ];
    for (const m of accepted) assert.ok(RunnerToHost.safeParse({ ...call, ...m }).success, JSON.stringify(m));
    const refused = [
      { tool: 'schedule_task', input: { schedule: 'every 1h' } },
      { tool: 'schedule_task', input: { schedule: 's'.repeat(LIMITS.schedule + 1), prompt: 'x' } },
      { tool: 'schedule_task', input: { schedule: 'every 1h', prompt: 'p'.repeat(LIMITS.taskPrompt + 1) } },
      { tool: 'schedule_task', input: { schedule: 'every 1h', prompt: 'x', missed: 'all' } },
      { tool: 'schedule_task', input: { schedule: 'every 1h', prompt: 'x', conversation: 'someone-else' } },
      { tool: 'list_tasks', input: { all: true } },
      { tool: 'change_task', input: { id: 0, action: 'pause' } },
      { tool: 'change_task', input: { id: 3, action: 'delete' } },
      { tool: 'propose_skill', input: { path: '' } },
      { tool: 'propose_skill', input: { path: 'x', approve: true } },
    ];
    for (const m of refused) assert.equal(RunnerToHost.safeParse({ ...call, ...m }).success, false, JSON.stringify(m));
  });
});
