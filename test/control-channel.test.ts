/**
 * The host end of the protocol stream, over a real Unix socket: only the
 * runner's first connection is ever listened to, bad lines are reported
 * without ending the stream, and a line without end cannot grow the host's
 * memory without bound.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { ControlChannel } from '../src/sandbox/control-channel.ts';

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
    const intruder = await connect(path);
    intruder.sock.write(JSON.stringify({ type: 'turn_end', id: '1', ok: true, replies: ['from the intruder'] }) + '\n');
    await intruder.closed;
    assert.ok(intruder.sock.destroyed, 'the second connection was closed by the host');

    runner.sock.write(JSON.stringify({ type: 'turn_end', id: '1', ok: true, replies: ['from the runner'] }) + '\n');
    await until(() => messages.length >= 1, 5000, 'the runner\'s message');
    // Give a stray intruder line every chance to arrive before judging.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(messages, [{ type: 'turn_end', id: '1', ok: true, replies: ['from the runner'] }]);

    // The runner's stream still works both ways after the refusal.
    assert.equal(ch.send({ type: 'message', id: '2', text: 'hi', sender: 'me' }), true);
    await until(() => runner.received().includes('\n'), 5000, 'the host message at the runner');
    assert.deepEqual(JSON.parse(runner.received().trim()), { type: 'message', id: '2', text: 'hi', sender: 'me' });
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

  it('reports a malformed line as protocol_error and keeps reading the stream', async () => {
    const path = socketPath();
    ch = await ControlChannel.listen(path);
    const messages = collect(ch, 'message');
    const errors = collect(ch, 'protocol_error') as Error[];
    let closed = false;
    ch.on('close', () => { closed = true; });

    const runner = await connect(path);
    await ch.connected;
    runner.sock.write('this is not json\n');
    runner.sock.write('{"type": "log", "level": "info", "text": "split ');
    await new Promise((r) => setTimeout(r, 20));
    runner.sock.write('across writes"}\n{broken\n\n');
    runner.sock.write(JSON.stringify({ type: 'log', level: 'info', text: 'still heard' }) + '\n');

    await until(() => messages.length >= 2, 5000, 'two good messages');
    assert.deepEqual(messages, [
      { type: 'log', level: 'info', text: 'split across writes' },
      { type: 'log', level: 'info', text: 'still heard' },
    ]);
    assert.equal(errors.length, 2, 'one protocol_error per malformed line (the blank line is not one)');
    assert.ok(errors.every((e) => e instanceof Error));
    assert.match(errors[0].message, /not JSON: this is not json/);
    assert.match(errors[1].message, /not JSON: \{broken/);
    assert.equal(closed, false, 'the stream stays open');
    assert.equal(runner.sock.destroyed, false);
    runner.sock.destroy();
  });

  it('closes the stream when a line grows over the limit without ending', async () => {
    const path = socketPath();
    ch = await ControlChannel.listen(path);
    const messages = collect(ch, 'message');
    const errors = collect(ch, 'protocol_error') as Error[];
    const channelClosed = once(ch, 'close');

    const runner = await connect(path);
    await ch.connected;
    runner.sock.write(JSON.stringify({ type: 'log', level: 'info', text: 'before' }) + '\n');
    // 5 MiB of one line, no newline: over the 4 MiB limit.
    const chunk = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 80 && !runner.sock.destroyed; i++) {
      if (!runner.sock.write(chunk)) await Promise.race([new Promise((r) => runner.sock.once('drain', r)), runner.closed]);
    }
    await runner.closed;
    await channelClosed;
    assert.deepEqual(messages, [{ type: 'log', level: 'info', text: 'before' }]);
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /over \d+ bytes/);
    assert.equal(ch.send({ type: 'message', id: '2', text: 'hi', sender: 'me' }), false, 'nothing can be sent on a closed stream');
  });
});
