import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { HostToRunner, LIMITS, PROTOCOL_VERSION, RunnerToHost, describeIssues } from '../protocol/messages.ts';
import { LineReader } from '../protocol/lines.ts';

/**
 * How long a started line may stay unfinished. The runner writes each message
 * with one write, so a line's parts arrive within milliseconds; a line that
 * trickles in (or stops halfway) is a runner gone wrong holding its turn open.
 */
const PARTIAL_LINE_MS = 10_000;

/**
 * Why the host stopped listening to a runner. `message` is the host's own
 * words, safe to show the user; `detail` may quote the runner (bounded) and
 * goes to the audit log. `kind: 'version'` means the runner is from another
 * build, not necessarily hostile.
 */
export class ProtocolViolation extends Error {
  constructor(message: string, readonly detail?: string, readonly kind: 'version' | 'invalid' = 'invalid') {
    super(message);
    this.name = 'ProtocolViolation';
  }
}

/**
 * The host end of the protocol stream with one container: a Unix socket in
 * the container's run folder. The first connection is the runner's (it
 * connects before any agent code runs); later connections are refused, so
 * a tool call inside the container cannot open a second stream and pose as
 * the runner.
 *
 * The runner is untrusted, so every line is checked before it is believed:
 * the first must be a `hello` speaking this build's PROTOCOL_VERSION, every
 * one must match the RunnerToHost schema (strict, bounded), and a line must
 * end, within LIMITS.line characters and PARTIAL_LINE_MS. The first line that
 * fails emits one `protocol_error` (a ProtocolViolation) and closes the
 * stream: nothing after it is read. What the messages mean for a turn (an id
 * that is not the running turn's) is for the owner to check; it reports those
 * through `violation()`, which ends the stream the same way.
 *
 *   const ch = await ControlChannel.listen(join(runDir, 'control.sock'));
 *   ch.on('message', (m: RunnerToHost) => ...); ch.on('protocol_error', (v: ProtocolViolation) => ...);
 *   ch.on('close', () => ...);
 *   await ch.connected; ch.send({ type: 'message', id: '1', text: 'hi', sender: { id: 'me' } });
 */
export class ControlChannel extends EventEmitter {
  private socket?: net.Socket;
  private closed = false;
  private violated = false;
  private helloSeen = false;
  private partialTimer?: NodeJS.Timeout;
  readonly connected: Promise<void>;
  private resolveConnected!: () => void;

  private constructor(private readonly server: net.Server, private readonly partialLineMs: number) {
    super();
    this.connected = new Promise((resolve) => { this.resolveConnected = resolve; });
    server.on('connection', (sock) => this.accept(sock));
  }

  /** `partialLineMs` is for tests; the default suits every real runner. */
  static async listen(socketPath: string, opts: { partialLineMs?: number } = {}): Promise<ControlChannel> {
    rmSync(socketPath, { force: true });
    const server = net.createServer();
    const channel = new ControlChannel(server, opts.partialLineMs ?? PARTIAL_LINE_MS);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    chmodSync(socketPath, 0o666);
    return channel;
  }

  private accept(sock: net.Socket): void {
    if (this.socket || this.closed) {
      sock.destroy();
      return;
    }
    this.socket = sock;
    const reader = new LineReader(LIMITS.line);
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      if (this.violated) return;
      const { lines, tooLong } = reader.push(chunk);
      for (const line of lines) {
        this.parse(line);
        if (this.violated) return;
      }
      if (tooLong) return this.violation(new ProtocolViolation(`it sent a line over ${LIMITS.line} characters`));
      this.watchPartialLine(reader.pending);
    });
    sock.on('close', () => this.close());
    sock.on('error', () => {});
    this.resolveConnected();
  }

  /** A line that starts must end in time; the clock runs from its first part, so a trickle is caught too. */
  private watchPartialLine(pending: boolean): void {
    if (!pending) {
      clearTimeout(this.partialTimer);
      this.partialTimer = undefined;
    } else if (!this.partialTimer) {
      const timer = setTimeout(() => {
        // After a stall of the host's own event loop, the line's end may be
        // waiting unread: timers run before I/O in a loop iteration, immediates
        // after it. A line that ended (or a new one that began) replaced the timer.
        setImmediate(() => {
          if (this.partialTimer === timer) this.violation(new ProtocolViolation(`it started a line and did not end it within ${Math.round(this.partialLineMs / 1000)} s`));
        });
      }, this.partialLineMs);
      timer.unref();
      this.partialTimer = timer;
    }
  }

  private parse(line: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return this.violation(new ProtocolViolation('it sent a line that is not JSON', `line starts: ${JSON.stringify(line.slice(0, 80))}`));
    }
    const type = raw && typeof raw === 'object' ? (raw as { type?: unknown }).type : undefined;
    if (!this.helloSeen && type !== 'hello') {
      return this.violation(new ProtocolViolation('its first message was not hello', `type: ${JSON.stringify(String(type).slice(0, 40))}`));
    }
    if (type === 'hello') {
      if (this.helloSeen) return this.violation(new ProtocolViolation('it sent a second hello'));
      // Before the schema: a runner of another version may well fail the
      // schema, and "rebuild the image" is the useful answer then.
      const theirs = (raw as { protocol?: unknown }).protocol;
      if (theirs !== PROTOCOL_VERSION) {
        const said = typeof theirs === 'number' && Number.isSafeInteger(theirs) ? `protocol ${theirs}` : 'no protocol version';
        return this.violation(new ProtocolViolation(
          `the agent runner speaks ${said} but this gateway speaks protocol ${PROTOCOL_VERSION}: rebuild the agent image (bash image/build.sh)`,
          undefined, 'version'));
      }
    }
    const checked = RunnerToHost.safeParse(raw);
    if (!checked.success) {
      return this.violation(new ProtocolViolation('it sent a message of the wrong shape', describeIssues(checked.error, type)));
    }
    if (checked.data.type === 'hello') this.helloSeen = true;
    this.emit('message', checked.data);
  }

  /**
   * Reports a violation and ends the stream: one `protocol_error`, then
   * `close`; nothing the runner sends afterwards is read. The owner calls this
   * for messages that are well formed but wrong in context.
   */
  violation(v: ProtocolViolation): void {
    if (this.violated || this.closed) return;
    this.violated = true;
    clearTimeout(this.partialTimer);
    this.emit('protocol_error', v);
    this.close();
  }

  /**
   * Sends one message, checked against the schema first: a message the
   * runner would refuse (a user message over LIMITS.messageText) throws here,
   * with the reason, instead of making the runner exit.
   */
  send(msg: HostToRunner): boolean {
    const checked = HostToRunner.safeParse(msg);
    if (!checked.success) throw new ProtocolViolation(`this ${msg.type} is outside the protocol's bounds, so nothing was sent to the agent (${describeIssues(checked.error, msg.type)})`);
    const line = JSON.stringify(checked.data);
    if (line.length > LIMITS.line) throw new ProtocolViolation(`this ${msg.type} is ${line.length} characters as a protocol line, over the limit of ${LIMITS.line}, so nothing was sent to the agent`);
    if (!this.socket || this.socket.destroyed) return false;
    return this.socket.write(line + '\n');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.partialTimer);
    this.socket?.destroy();
    this.server.close();
    this.emit('close');
  }
}
