/**
 * A runner gone wrong, against a real gateway with real containers: forged
 * and malformed protocol lines (wrong types, huge fields, unknown types,
 * invalid JSON, out-of-turn messages, lines that never end, another protocol
 * version) end that conversation's container, fail its turn with a reason
 * the user sees and leave a `protocol.violation` in the audit log, while the
 * gateway stays up and another conversation keeps working.
 *
 * The hostile runner (test/support/hostile-runner.ts) is the entrypoint of a
 * test image built FROM the real agent image, so it is the first connection
 * on the control socket, inside the real sandbox, as a taken-over runner
 * would be. What it does is read per container from the gateway's global
 * folder; mode `honest` runs the real runner.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { apiConversation } from '../src/channels/http/handler.ts';
import { PROTOCOL_VERSION } from '../src/protocol/messages.ts';
import { conversationId } from '../src/store/store.ts';
import { AGENT_UID } from '../src/sandbox/profile.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { nextEvent } from './support/wait.ts';

const AGENT_IMAGE = process.env.NANOCLAW_CONTAINER_IMAGE ?? 'nanoclaw-agent:latest';
// Per run, so two runs never share (or delete) each other's image.
const HOSTILE_IMAGE = `nanoclaw-hostile-runner:test-${process.pid}`;

/** Builds the hostile image offline, on top of the agent image the other tests use. */
function buildHostileImage(): void {
  const ctx = mkdtempSync(join(tmpdir(), 'nc-hostile-'));
  try {
    copyFileSync(new URL('./support/hostile-runner.js', import.meta.url), join(ctx, 'hostile-runner.mjs'));
    writeFileSync(join(ctx, 'Dockerfile'), [
      `FROM ${AGENT_IMAGE}`,
      'COPY hostile-runner.mjs /opt/hostile/hostile-runner.mjs',
      'ENTRYPOINT ["/usr/local/bin/node", "/opt/hostile/hostile-runner.mjs"]',
    ].join('\n') + '\n');
    execFileSync('docker', ['build', '--network', 'none', '--quiet', '-t', HOSTILE_IMAGE, ctx], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

const INVALID = /^Sorry, something went wrong: the agent runner sent an invalid message and was stopped \((.+)\)\. Send your message again/;

/** Each attack, what the user is told (the part in parentheses), and what the audit's detail names. */
const attacks: Array<{ mode: string; what: string; told: RegExp; detail?: RegExp }> = [
  { mode: 'progress-text-number', what: 'a progress text that is a number (this used to crash the gateway)', told: /wrong shape/, detail: /progress\.text/ },
  { mode: 'reply-not-string', what: 'a reply that is not a string', told: /wrong shape/, detail: /turn_end\.replies\.0/ },
  { mode: 'huge-field', what: 'a 1 MiB progress text', told: /wrong shape/, detail: /progress\.text/ },
  { mode: 'unknown-type', what: 'an unknown message type', told: /wrong shape/, detail: /exec\.type/ },
  { mode: 'extra-key', what: 'a turn_end with a key the protocol does not have', told: /wrong shape/, detail: /deliverTo/ },
  { mode: 'not-json', what: 'a line that is not JSON', told: /not JSON/, detail: /this is not json/ },
  { mode: 'other-turn', what: 'a turn_end for a turn that is not running', told: /turn_end for a turn that is not running/, detail: /not-this-one/ },
  { mode: 'second-hello', what: 'a second hello', told: /second hello/ },
  { mode: 'call-other-turn', what: 'a host tool call for a turn that is not running', told: /call for a turn that is not running/, detail: /not-this-one/ },
  { mode: 'call-unknown-tool', what: 'a call of a host tool that does not exist', told: /wrong shape/, detail: /call\.tool/ },
  { mode: 'call-huge-input', what: 'a host tool call with an input over its bounds', told: /wrong shape/, detail: /call\.input\.text/ },
  { mode: 'call-repeated', what: 'the same host tool call number twice in a turn', told: /repeated call 1 of this turn/ },
  { mode: 'calls-too-many-open', what: 'more host tool calls open at once than allowed', told: /more than 4 host tool calls at once/ },
  { mode: 'model-other-turn', what: 'which model answered a turn that is not running', told: /model for a turn that is not running/, detail: /not-this-one/ },
  { mode: 'model-huge-name', what: 'a model name over its bound', told: /wrong shape/, detail: /model\.provider/ },
  { mode: 'endless-line', what: 'a line that grows past the limit without ending', told: /line over \d+ characters/ },
  { mode: 'stalled-line', what: 'a line that starts and never ends', told: /did not end it within \d+ s/ },
];

describe('a runner that breaks the protocol, against a real gateway', () => {
  let h: Harness;
  const violations = () => readAuditLog(auditLogPath(h.home), { type: 'protocol.violation' });
  const destroyed = () => readAuditLog(auditLogPath(h.home), { type: 'container.destroyed' });
  const setMode = (mode: string) => writeFileSync(join(h.home, 'global', 'hostile-runner.json'), JSON.stringify({ mode, protocol: PROTOCOL_VERSION }), { mode: 0o644 });
  const healthy = async (text: string) => assert.equal(await h.ask('bystander', text), `Echo: ${text}`, 'the other conversation keeps working');

  before(async () => {
    buildHostileImage();
    h = await startHarness({ env: { NANOCLAW_CONTAINER_IMAGE: HOSTILE_IMAGE } });
    setMode('honest');
    // Its container (with the real runner) stays up through every attack below.
    await healthy('before the attacks');
  });
  after(async () => {
    await h?.close();
    execFileSync('docker', ['image', 'rm', '--force', HOSTILE_IMAGE], { stdio: 'ignore' });
  });

  for (const attack of attacks) {
    it(`stops a runner that sends ${attack.what}: the turn fails with the reason, it is audited, the rest carries on`, async () => {
      const before = violations().length;
      setMode(attack.mode);
      const { status, body } = await h.send(`atk-${attack.mode}`, 'hello?');
      setMode('honest');

      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.replies.length, 1, JSON.stringify(body));
      assert.equal(body.replies[0].kind, 'error');
      const told = INVALID.exec(body.replies[0].text);
      assert.ok(told, `the user is told the runner was stopped: ${body.replies[0].text}`);
      assert.match(told[1], attack.told);
      assert.doesNotMatch(body.replies[0].text, /forged/, 'nothing the runner forged reaches the user');

      const added = violations().slice(before);
      assert.equal(added.length, 1, 'one protocol.violation');
      assert.equal(added[0].conversation, conversationId(apiConversation(`atk-${attack.mode}`)), 'recorded against the attacking conversation');
      assert.match(String((added[0].data as any).reason), attack.told);
      if (attack.detail) assert.match(String((added[0].data as any).detail), attack.detail);
      assert.ok(JSON.stringify(added[0].data).length < 1000, 'the audit record is short whatever the runner sent');
      const gone = destroyed().filter((r) => r.container === added[0].container);
      assert.equal(gone.length, 1, 'its container was destroyed');
      assert.match(String((gone[0].data as any).reason), /sent an invalid message and was stopped/);

      await healthy(`after ${attack.mode}`);
    });
  }

  it('stops a runner of another protocol version with both versions named and "rebuild the agent image"', async () => {
    for (const [mode, said] of [['bad-version', `protocol ${PROTOCOL_VERSION + 1}`], ['no-version', 'no protocol version']]) {
      const before = violations().length;
      setMode(mode);
      const { status, body } = await h.send(`atk-${mode}`, 'hello?');
      setMode('honest');
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.replies[0].kind, 'error');
      const expected = `the agent runner speaks ${said} but this gateway speaks protocol ${PROTOCOL_VERSION}: rebuild the agent image`;
      assert.ok(body.replies[0].text.includes(expected), body.replies[0].text);
      const added = violations().slice(before);
      assert.equal(added.length, 1);
      assert.ok(String((added[0].data as any).reason).includes(expected));
    }
    await healthy('after the version mismatches');
  });

  it('takes a turn_end "interrupted" the host did not ask for as a failure, not as a stop', async () => {
    setMode('unasked-interrupted');
    const { body } = await h.send('atk-unasked', 'hello?');
    setMode('honest');
    assert.equal(body.replies.length, 1, JSON.stringify(body));
    assert.equal(body.replies[0].kind, 'error', 'answered as a failed turn');
    assert.match(body.replies[0].text, /^Sorry, something went wrong/);
    assert.equal(await h.ask('atk-unasked', 'again'), 'Echo: again', 'the next message gets a working container');
  });

  it('destroys the container of a runner that ignores an interrupt; the stopped message is answered with the note', async () => {
    const convId = conversationId(apiConversation('atk-deaf'));
    setMode('ignores-interrupt');
    const started = nextEvent(h.app.gateway, (e) => e.type === 'turn_start' && e.conversationId === convId, 60_000);
    const turn = h.send('atk-deaf', 'hello?');
    await started;
    setMode('honest');
    assert.deepEqual((await h.send('atk-deaf', '/stop')).body.replies.map((r: any) => r.text), ['Stopped.']);
    assert.deepEqual((await turn).body.replies.map((r: any) => `${r.kind}: ${r.text}`), ['notice: (stopped by /stop)']);
    const gone = destroyed().filter((r) => r.conversation === convId);
    assert.equal(gone.length, 1);
    assert.match(String((gone[0].data as any).reason), /did not stop its turn when asked/);
    assert.equal(await h.ask('atk-deaf', 'again'), 'Echo: again');
  });

  it('gives a conversation whose runner was stopped a working container on its next message', async () => {
    setMode('honest');
    assert.equal(await h.ask('atk-progress-text-number', 'again'), 'Echo: again');
  });
});

/**
 * The other direction: the real runner, in the real image, checks what the
 * host sends it. A host line it cannot accept (another build's protocol, or a
 * forgery) makes it log why and exit, instead of acting on half a message.
 */
describe('the real runner against a host line it cannot accept', () => {
  it('says hello with this build\'s protocol version, then logs and exits on a malformed message', async () => {
    const run = mkdtempSync(join(tmpdir(), 'nc-runner-'));
    chmodSync(run, 0o755);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(join(run, 'control.sock'), resolve));
    chmodSync(join(run, 'control.sock'), 0o666);
    const name = `nanoclaw-protocol-test-${process.pid}`;
    try {
      const connection = once(server, 'connection') as Promise<[net.Socket]>;
      const container = spawn('docker', ['run', '--rm', '--name', name, '--network', 'none', '--read-only', '--cap-drop', 'ALL',
        '--security-opt', 'no-new-privileges', '--user', `${AGENT_UID}:${AGENT_UID}`, '--tmpfs', '/tmp',
        '--tmpfs', `/home/agent:uid=${AGENT_UID},gid=${AGENT_UID}`, '-e', 'NANOCLAW_TOKEN=test-token',
        '-e', `NANOCLAW_RUNNER_RUNTIME=${process.env.NANOCLAW_CONTAINER_RUNNER_RUNTIME ?? 'bun'}`,
        '-v', `${run}:/run/nanoclaw:ro`, AGENT_IMAGE], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      container.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      const exited = once(container, 'exit') as Promise<[number | null]>;

      const early = exited.then(([code]) => { throw new Error(`the runner exited (${code}) before connecting: ${stderr}`); });
      const [sock] = await Promise.race([connection, early]);
      early.catch(() => {});
      let received = '';
      sock.setEncoding('utf8').on('data', (d: string) => { received += d; });
      sock.on('error', () => {});
      while (!received.includes('\n')) await once(sock, 'data');
      const hello = JSON.parse(received.slice(0, received.indexOf('\n')));
      assert.equal(hello.type, 'hello');
      assert.equal(hello.protocol, PROTOCOL_VERSION);

      // A message whose id is a number and whose text is missing.
      sock.write(JSON.stringify({ type: 'message', id: 1, sender: 'me' }) + '\n');
      const [code] = await exited;
      assert.equal(code, 2, `the runner exits with 2; stderr: ${stderr}`);
      assert.match(stderr, /nanoclaw runner: the host sent an invalid message \(message\.id: .*\); the runner exits/);
      const log = received.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((m) => m.type === 'log');
      assert.match(log?.text ?? '', /the host sent an invalid message/, 'the host is told too');
      sock.destroy();
    } finally {
      execFileSync('docker', ['rm', '--force', name], { stdio: 'ignore' });
      server.close();
      rmSync(run, { recursive: true, force: true });
    }
  });
});
