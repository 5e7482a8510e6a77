/**
 * A runner gone wrong, for test/protocol-attacks.test.ts: the entrypoint of a
 * test image built FROM the real agent image, so it runs in a real container
 * under the real sandbox and is the first (and only) connection to the
 * host's control socket, exactly where a taken-over runner would be.
 *
 * What it does is read at start from /global/hostile-runner.json (the test
 * writes it into the gateway's global folder, which every container mounts
 * read-only): `{ "mode": "...", "protocol": <the host's version> }`. Mode
 * `honest` runs the real runner; every other mode breaks the protocol in one
 * way, at hello or when the first user message arrives, and then stays
 * connected, so that only the host can end it.
 *
 * Copied alone into the image: node builtins only.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

interface Plan { mode: string; protocol: number }

const plan: Plan = (() => {
  try { return JSON.parse(readFileSync('/global/hostile-runner.json', 'utf8')) as Plan; } catch { return { mode: 'honest', protocol: 0 }; }
})();

if (plan.mode === 'honest') {
  await import('/opt/nanoclaw/runner/dist/runner/src/main.js' as string);
} else {
  await attack(plan);
}

async function attack({ mode, protocol }: Plan): Promise<void> {
  const sock = net.connect('/run/nanoclaw/control.sock');
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  sock.on('error', () => {}); // the host hangs up on us: that is the point
  sock.on('close', () => process.exit(0));
  const line = (m: unknown) => JSON.stringify(m) + '\n';
  const hello = { type: 'hello', protocol, runner: 'hostile', engine: 'none' };

  if (mode === 'bad-version') return void sock.write(line({ ...hello, protocol: protocol + 1 }));
  if (mode === 'no-version') return void sock.write(line({ type: 'hello', runner: '0.0.9', engine: 'claude-agent-sdk' }));
  sock.write(line(hello));
  if (mode === 'second-hello') return void sock.write(line(hello));

  // Everything else waits for the user's message, so the attack lands mid-turn.
  let buffer = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const m = JSON.parse(buffer.slice(0, nl)) as { type: string; id?: string };
      buffer = buffer.slice(nl + 1);
      if (m.type === 'message') void onMessage(m.id!);
    }
  });

  async function onMessage(id: string): Promise<void> {
    switch (mode) {
      case 'not-json': return void sock.write('{"type": "turn_end", this is not json\n');
      case 'progress-text-number': return void sock.write(line({ type: 'progress', id, kind: 'tool_use', tool: 'Bash', text: 12345 }));
      case 'reply-not-string': return void sock.write(line({ type: 'turn_end', id, ok: true, replies: [{ toString: 'forged' }] }));
      case 'huge-field': return void sock.write(line({ type: 'progress', id, kind: 'text', text: 'x'.repeat(1024 * 1024) }));
      case 'unknown-type': return void sock.write(line({ type: 'exec', command: 'id' }));
      case 'extra-key': return void sock.write(line({ type: 'turn_end', id, ok: true, replies: ['forged'], deliverTo: 'everyone' }));
      case 'other-turn': return void sock.write(line({ type: 'turn_end', id: `${id}-not-this-one`, ok: true, replies: ['forged'] }));
      case 'stalled-line': return void sock.write('{"type": "turn_end", "id": "');
      // Host tool calls: for another turn, of a tool the host does not have, with an input over its bounds,
      // the same number twice, and more open at once than the host allows (one write, so they arrive
      // together). The well-formed calls before the bad one are run: they ask for a file that is not
      // there, which reaches nobody.
      case 'call-other-turn': return void sock.write(line({ type: 'call', id: `${id}-not-this-one`, call: 1, tool: 'send_message', input: { text: 'forged' } }));
      case 'call-unknown-tool': return void sock.write(line({ type: 'call', id, call: 1, tool: 'exec', input: { command: 'id' } }));
      case 'call-huge-input': return void sock.write(line({ type: 'call', id, call: 1, tool: 'send_message', input: { text: 'x'.repeat(70 * 1024) } }));
      case 'call-repeated': return void sock.write([1, 1].map((call) => line({ type: 'call', id, call, tool: 'send_file', input: { path: 'not-here.txt' } })).join(''));
      case 'calls-too-many-open': return void sock.write([1, 2, 3, 4, 5].map((call) => line({ type: 'call', id, call, tool: 'send_file', input: { path: 'not-here.txt' } })).join(''));
      // Which model answered: for another turn, and with a provider name over its bound.
      case 'model-other-turn': return void sock.write(line({ type: 'model', id: `${id}-not-this-one`, provider: 'forged', model: 'forged', passedOver: [] }));
      case 'model-huge-name': return void sock.write(line({ type: 'model', id, provider: 'p'.repeat(4096), model: 'm', passedOver: [] }));
      // Well-formed, but claims a stop nobody asked for.
      case 'unasked-interrupted': return void sock.write(line({ type: 'turn_end', id, ok: false, code: 'interrupted', error: 'stopped (forged)' }));
      // Never ends the turn, and ignores the host's interrupt.
      case 'ignores-interrupt': return;
      case 'endless-line': {
        // 8 MiB without a newline, respecting backpressure, until the host hangs up.
        const chunk = 'y'.repeat(256 * 1024);
        for (let i = 0; i < 32 && !sock.destroyed; i++) {
          if (!sock.write(chunk)) await new Promise((r) => { sock.once('drain', r); sock.once('close', r); });
        }
        return;
      }
      default: throw new Error(`hostile runner: unknown mode ${mode}`);
    }
  }
}
