/**
 * Socket Mode: the gateway opens a websocket to Slack (the URL comes from apps.connections.open
 * with the app-level token) and Slack pushes events down it, so no public address is needed.
 * The SDK's client keeps the heartbeat (it pings, and drops a socket whose pongs stop); the
 * reconnecting is done here instead of by the SDK, because the SDK's own loop rejects into
 * nowhere when the token turns out to be revoked, and retries forever.
 */
import { SocketModeClient } from '@slack/socket-mode';
import type { Logger } from '../../core/logger.ts';
import { authAction, describeSlackError, isAuthError } from './errors.ts';
import { sdkLogger } from './sdk-logger.ts';

/** Where events go: both resolve once the event is stored (or skipped), then it is acknowledged. */
export interface SlackEventSink {
  event(event: unknown): Promise<void>;
  interaction(payload: unknown): Promise<void>;
}

/** How a transport reports its connection to the channel's health. */
export type ConnectionReport = (state: 'connected' | 'reconnecting' | 'failed', detail?: string, action?: string) => void;

/** A connection attempt that has not had Slack's `hello` by then is abandoned and tried again. */
const HELLO_TIMEOUT_MS = 30_000;
/** Reconnect delays grow from 1 s to at most this, with jitter. */
const MAX_BACKOFF_MS = 30_000;
/** How often the watchdog looks; it restarts a connection that is neither up nor being retried. */
const WATCHDOG_MS = 10_000;

/**
 * One Socket Mode connection, kept up: every envelope is handed to the sink and acknowledged
 * (`{envelope_id, payload}`) after it returns; drops and stalls reconnect with backoff; a token
 * Slack refuses stops it, reported as `failed`, without a retry loop.
 *
 *   const socket = new SlackSocketMode({ appToken, apiBaseUrl, sink, log, report });
 *   await socket.start(); // …later: await socket.stop();
 */
export class SlackSocketMode {
  private client?: SocketModeClient;
  private connected = false;
  private connecting = false;
  private retryTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private attempt = 0;
  private stopped = false;
  private failed = false;

  constructor(private readonly opts: { appToken: string; apiBaseUrl: string; sink: SlackEventSink; log: Logger; report: ConnectionReport }) {}

  /** Connects once (retries go on in the background); never throws. */
  async start(): Promise<void> {
    this.watchdog = setInterval(() => this.watch(), WATCHDOG_MS);
    this.watchdog.unref();
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    await this.close();
  }

  /** Drops the current connection as a lost one would be (tests, and the watchdog). */
  async restart(reason: string): Promise<void> {
    this.opts.log.warn(`slack: restarting the Socket Mode connection: ${reason}`);
    await this.close();
    this.retry(reason);
  }

  private async connect(): Promise<void> {
    if (this.stopped || this.failed || this.connecting) return;
    this.connecting = true;
    const { appToken, apiBaseUrl, log } = this.opts;
    const client = new SocketModeClient({
      appToken,
      autoReconnectEnabled: false,
      clientPingTimeout: 15_000,
      serverPingTimeout: 60_000,
      logger: sdkLogger(log, 'slack socket') as never,
      clientOptions: { slackApiUrl: apiBaseUrl, retryConfig: { retries: 0 }, timeout: 30_000, rejectRateLimitedCalls: true },
    });
    this.client = client;
    guardFrames(client, log);
    client.on('slack_event', (envelope) => void this.dispatch(envelope));
    client.on('error', () => {}); // the SDK logs it; the close that follows is what counts
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.start(),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no hello from Slack within ${HELLO_TIMEOUT_MS / 1000} s`)), HELLO_TIMEOUT_MS); }),
      ]);
    } catch (err) {
      clearTimeout(timer);
      this.connecting = false;
      if (this.client === client) await this.close();
      if (this.stopped) return;
      if (isAuthError(err)) {
        this.failed = true;
        this.opts.report('failed', `Slack refused the app token (SLACK_APP_TOKEN): ${describeSlackError(err)}`, authAction(err));
        return;
      }
      this.retry(`could not open the Socket Mode connection: ${describeSlackError(err ?? 'the websocket closed')}`);
      return;
    }
    clearTimeout(timer);
    this.connecting = false;
    if (this.stopped || this.client !== client) { await client.disconnect().catch(() => {}); return; }
    this.connected = true;
    this.attempt = 0;
    client.on('disconnected', () => {
      if (this.client !== client || !this.connected) return;
      this.connected = false;
      this.client = undefined;
      if (!this.stopped) this.retry('the Socket Mode connection closed');
    });
    this.opts.report('connected');
  }

  private retry(reason: string): void {
    if (this.stopped || this.failed || this.retryTimer) return;
    const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = Math.round(base * (0.5 + Math.random() / 2));
    this.opts.report('reconnecting', `${reason}; trying again in ${Math.round(delay / 1000)} s`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  /**
   * The watchdog. The SDK notices a socket whose pongs stopped and starts closing it, but then
   * waits up to 30 s for the peer's close frame, which a stalled peer never sends: such a socket
   * is torn down here. A connection that is down with no retry pending is restarted.
   */
  private watch(): void {
    if (this.stopped || this.failed || this.connecting || this.retryTimer) return;
    if (this.connected) {
      const ws = this.client?.websocket;
      if (ws && !ws.isActive()) void this.restart('Slack stopped answering pings');
      return;
    }
    this.retry('the Socket Mode connection was down with no reconnect under way');
  }

  private async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    if (!client) return;
    await Promise.race([client.disconnect().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  /** One envelope: events are acknowledged after they are stored; a button tap at once (Slack wants it within 3 s), then answered. */
  private async dispatch(envelope: { ack: (body?: object) => Promise<void>; type?: string; body?: { event?: unknown } }): Promise<void> {
    const { log, sink } = this.opts;
    const ack = () => envelope.ack().catch((err: unknown) => log.debug(`slack: ack failed (the connection closed; Slack delivers the event again): ${describeSlackError(err)}`));
    try {
      if (envelope.type === 'events_api') {
        await sink.event(envelope.body?.event);
        await ack();
      } else if (envelope.type === 'interactive') {
        await ack();
        await sink.interaction(envelope.body);
      } else {
        await ack();
      }
    } catch (err) {
      // Not acknowledged: Slack sends the event again, and the core's dedupe makes that safe.
      log.error(`slack: could not take a ${String(envelope.type).slice(0, 40)} envelope: ${(err as Error)?.message ?? err}`);
    }
  }
}

/**
 * The SDK parses each frame in an async handler that reads `payload.event.type` unchecked: an
 * envelope without them rejects into nowhere (an unhandled rejection ends the process). Frames
 * go through this check first; what fails it is logged and dropped, never acknowledged.
 */
function guardFrames(client: SocketModeClient, log: Logger): void {
  const [original] = client.listeners('ws_message') as Array<(data: unknown, isBinary: boolean) => Promise<void>>;
  if (!original) return;
  client.removeListener('ws_message', original);
  client.on('ws_message', (data: unknown, isBinary: boolean) => {
    if (!isBinary && !wellFormed(typeof data === 'string' ? data : new TextDecoder().decode(data as ArrayBuffer))) {
      log.warn('slack: dropped a Socket Mode frame that is not a well-formed envelope');
      return;
    }
    void Promise.resolve().then(() => original(data, isBinary)).catch((err: unknown) => log.warn(`slack: the SDK could not read a Socket Mode frame: ${(err as Error)?.message ?? err}`));
  });
}

function wellFormed(frame: string): boolean {
  let msg: { type?: unknown; envelope_id?: unknown; payload?: { event?: unknown } };
  try { msg = JSON.parse(frame); } catch { return false; }
  if (typeof msg !== 'object' || msg === null || typeof msg.type !== 'string') return false;
  if (msg.type === 'hello' || msg.type === 'disconnect') return true;
  if (typeof msg.envelope_id !== 'string') return false;
  if (msg.type === 'events_api') return typeof msg.payload?.event === 'object' && msg.payload.event !== null;
  return true;
}
