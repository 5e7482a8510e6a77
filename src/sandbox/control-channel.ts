import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import { EventEmitter } from 'node:events';
import type { HostToRunner, RunnerToHost } from '../protocol/messages.ts';

/** Longest protocol line accepted from a container; a runner gone wrong cannot exhaust the host's memory. */
const MAX_LINE = 4 * 1024 * 1024;

/**
 * The host end of the protocol stream with one container: a Unix socket in
 * the container's run folder. The first connection is the runner's (it
 * connects before any agent code runs); later connections are refused, so
 * a tool call inside the container cannot open a second stream and pose as
 * the runner.
 *
 *   const ch = await ControlChannel.listen(join(runDir, 'control.sock'));
 *   ch.on('message', (m: RunnerToHost) => ...); ch.on('close', () => ...);
 *   await ch.connected; ch.send({ type: 'message', id: '1', text: 'hi', sender: 'me' });
 */
export class ControlChannel extends EventEmitter {
  private socket?: net.Socket;
  private closed = false;
  readonly connected: Promise<void>;
  private resolveConnected!: () => void;

  private constructor(private readonly server: net.Server) {
    super();
    this.connected = new Promise((resolve) => { this.resolveConnected = resolve; });
    server.on('connection', (sock) => this.accept(sock));
  }

  static async listen(socketPath: string): Promise<ControlChannel> {
    rmSync(socketPath, { force: true });
    const server = net.createServer();
    const channel = new ControlChannel(server);
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
    let buffer = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      // Only the new chunk is searched for line ends, so a long line costs
      // linear time, and a line over the limit closes the stream.
      let start = 0;
      let nl: number;
      while ((nl = chunk.indexOf('\n', start)) >= 0) {
        const line = buffer + chunk.slice(start, nl);
        buffer = '';
        start = nl + 1;
        if (line.length > MAX_LINE) return this.tooLong(sock);
        if (line.trim()) this.parse(line);
      }
      buffer += chunk.slice(start);
      if (buffer.length > MAX_LINE) this.tooLong(sock);
    });
    sock.on('close', () => this.close());
    sock.on('error', () => {});
    this.resolveConnected();
  }

  private tooLong(sock: net.Socket): void {
    this.emit('protocol_error', new Error(`runner sent a line over ${MAX_LINE} bytes`));
    sock.destroy();
  }

  private parse(line: string): void {
    let msg: RunnerToHost;
    try {
      msg = JSON.parse(line);
    } catch {
      this.emit('protocol_error', new Error(`runner sent a line that is not JSON: ${line.slice(0, 200)}`));
      return;
    }
    this.emit('message', msg);
  }

  send(msg: HostToRunner): boolean {
    if (!this.socket || this.socket.destroyed) return false;
    return this.socket.write(JSON.stringify(msg) + '\n');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket?.destroy();
    this.server.close();
    this.emit('close');
  }
}
