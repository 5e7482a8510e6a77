import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp, type App } from '../src/app.ts';
import type { AuditLogOptions } from '../src/audit/audit-log.ts';
import type { GatewayEvent } from '../src/core/gateway.ts';
import type { FakeAnthropic, RecordedRequest } from '../src/devtools/fake-anthropic.ts';
import { DockerRuntime } from '../src/sandbox/docker/index.ts';
import type { ContainerRuntime, ContainerSpec } from '../src/sandbox/runtime.ts';
import type { Cleanup } from './cleanup.ts';
import { waitUntilQuiet } from './docker-probe.ts';

/** One message, timed from the gateway's side and the model's side (all `performance.now()`, one clock). */
export interface MessageSample {
  conversation: string;
  container: string;
  /** `performance.now()` of the `accepted` event. */
  acceptedAt: number;
  /** HTTP POST sent -> the gateway's `accepted` event (the message is durable). */
  postToAcceptedMs: number;
  /** The figure: `accepted` -> the stand-in model receives the request carrying this message's text. */
  acceptedToModelMs: number;
  /** `accepted` -> `turn_start`: getting a container (pool hand-out, or a whole cold start). */
  acceptedToTurnStartMs: number;
  /** `turn_start` -> model request: the runner and the engine inside the container. */
  turnStartToModelMs: number;
  /** Cold starts only: host set-up before the engine is asked (folders, sockets). */
  beforeDockerMs?: number;
  /** Cold starts only: the runtime's create + start call (Engine API). */
  dockerCreateStartMs?: number;
  /** Cold starts only: container started -> its runner connected and said hello (-> turn_start). */
  runnerHelloMs?: number;
  /** The credential proxy saw the request -> the stand-in model did (the proxy hop). */
  proxyHopMs?: number;
  /** `accepted` -> the reply stored (`turn_end`). */
  turnMs: number;
}

/** Times each container start (Engine API create + start) by container name, then delegates. */
class TimedRuntime implements ContainerRuntime {
  readonly starts = new Map<string, { begin: number; end: number }>();
  constructor(private readonly inner: ContainerRuntime) {}
  async start(spec: ContainerSpec) {
    const begin = performance.now();
    const r = await this.inner.start(spec);
    this.starts.set(spec.name, { begin, end: performance.now() });
    return r;
  }
  destroy(name: string, graceSec?: number) { return this.inner.destroy(name, graceSec); }
  wait(name: string) { return this.inner.wait(name); }
  list(labels: Record<string, string>) { return this.inner.list(labels); }
  hasImage(image: string) { return this.inner.hasImage(image); }
  version() { return this.inner.version(); }
}

/**
 * A gateway in this process (as the test harness runs one), on a temporary
 * home, real Docker, the stand-in model. In-process because every timestamp
 * then comes from one clock: the gateway's events, the credential proxy's
 * `onModelRequest` hook and the stand-in model's `receivedAt`.
 *
 *   const gw = await BenchGateway.start({ fake, prestart: 1, cleanup });
 *   const s = await gw.send('c1', 'hello');   // s.acceptedToModelMs
 */
export class BenchGateway {
  private readonly events: Array<{ t: number; ev: GatewayEvent }> = [];
  private seq = 0;

  private constructor(
    readonly app: App,
    readonly home: string,
    readonly prestart: number,
    private readonly fake: FakeAnthropic,
    private readonly runtime: TimedRuntime,
    /** When the credential proxy started forwarding each model request (startApp's hook). */
    private readonly proxied: Array<{ t: number; container: string }>,
  ) {
    app.gateway.on('event', (ev: GatewayEvent) => this.events.push({ t: performance.now(), ev }));
  }

  /**
   * `audit`: the audit log's options (default: the gateway's own, group commit).
   * `env`: more configuration, e.g. `{ NANOCLAW_AGENT_ENGINE: 'builtin', NANOCLAW_CONTAINER_RUNNER_RUNTIME: 'bun' }`.
   */
  static async start(opts: { fake: FakeAnthropic; prestart: number; cleanup: Cleanup; audit?: AuditLogOptions; env?: Record<string, string> }): Promise<BenchGateway> {
    const home = opts.cleanup.tempHome();
    const runtime = new TimedRuntime(new DockerRuntime());
    const proxied: Array<{ t: number; container: string }> = [];
    const app = await startApp({
      home,
      runtime,
      env: {
        PATH: process.env.PATH,
        ANTHROPIC_API_KEY: 'bench',
        ANTHROPIC_BASE_URL: opts.fake.url,
        NANOCLAW_CHANNELS_API_PORT: '0',
        NANOCLAW_CONTAINER_PRESTART: String(opts.prestart),
        NANOCLAW_LOG: process.env.NANOCLAW_LOG ?? 'warn',
        ...opts.env,
      },
      onModelRequest: (container) => proxied.push({ t: performance.now(), container }),
      audit: opts.audit,
    });
    const gw = new BenchGateway(app, home, opts.prestart, opts.fake, runtime, proxied);
    opts.cleanup.defer(() => gw.stop());
    return gw;
  }

  /** POSTs a message and waits for the reply; throws unless the agent answered. */
  async post(conversation: string, text: string): Promise<void> {
    const res = await fetch(`${this.app.http.url}/api/v1/conversations/${conversation}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.app.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
    });
    const body = await res.json() as any;
    const reply = body.replies?.[0];
    if (res.status !== 200 || !reply || reply.kind === 'error') {
      throw new Error(`conversation ${conversation}: "${text}" was answered ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    }
  }

  /**
   * Sends one uniquely marked message and times it. The stand-in model's
   * request is recognised by the marker in its messages, so requests the
   * engine makes on its own (if any) are never mistaken for this one.
   */
  async send(conversation: string): Promise<MessageSample> {
    const marker = `bench-${process.pid}-${++this.seq}-${Math.random().toString(36).slice(2, 8)}`;
    const modelRequest = this.waitForModelRequest(marker, 120_000);
    modelRequest.catch(() => {}); // if the POST fails first, its error is the one reported
    const from = this.events.length;
    const postAt = performance.now();
    await this.post(conversation, `Hello from the benchmark (${marker}).`);
    const request = await modelRequest;
    const seen = this.events.slice(from);
    const at = (type: GatewayEvent['type']) => seen.find((e) => e.ev.type === type);
    const accepted = at('accepted');
    const turnStart = at('turn_start');
    const turnEnd = at('turn_end');
    if (!accepted || !turnStart || !turnEnd || turnStart.ev.type !== 'turn_start') {
      throw new Error(`conversation ${conversation}: missing gateway events (saw ${seen.map((e) => e.ev.type).join(', ')})`);
    }
    const container = turnStart.ev.container;
    const started = this.runtime.starts.get(container);
    const fresh = started && started.begin >= accepted.t;
    const proxied = this.proxied.find((p) => p.container === container && p.t >= turnStart.t && p.t <= request.receivedAt);
    return {
      conversation,
      container,
      acceptedAt: accepted.t,
      postToAcceptedMs: accepted.t - postAt,
      acceptedToModelMs: request.receivedAt - accepted.t,
      acceptedToTurnStartMs: turnStart.t - accepted.t,
      turnStartToModelMs: request.receivedAt - turnStart.t,
      beforeDockerMs: fresh ? started.begin - accepted.t : undefined,
      dockerCreateStartMs: fresh ? started.end - started.begin : undefined,
      runnerHelloMs: fresh ? turnStart.t - started.end : undefined,
      proxyHopMs: proxied ? request.receivedAt - proxied.t : undefined,
      turnMs: turnEnd.t - accepted.t,
    };
  }

  /** `/end`: destroys the conversation's container (not timed). */
  end(conversation: string): Promise<void> {
    return this.post(conversation, '/end');
  }

  /**
   * Waits until the pool holds `prestart` ready containers and every
   * container has gone quiet (the pre-warmed engine finished starting), so the
   * next new conversation gets a fully warm pooled container. Resolves with
   * when the pool was full (its runners said hello) and when all was quiet.
   */
  async settle(): Promise<{ poolFullAt: number; quietAt: number }> {
    const t0 = performance.now();
    while (this.app.gateway.status().pool < this.prestart) {
      if (performance.now() - t0 > 120_000) throw new Error(`the pool did not refill to ${this.prestart} within 120 s`);
      await sleep(20);
    }
    const poolFullAt = performance.now();
    const { quiet } = await waitUntilQuiet(this.home);
    if (!quiet) process.stderr.write('[bench] note: containers still busy after 20 s; going on\n');
    // waitUntilQuiet needs two calm 500 ms windows to say so: the engine was done about 1 s earlier.
    return { poolFullAt, quietAt: Math.max(poolFullAt, performance.now() - 1000) };
  }

  private stopped?: Promise<void>;
  /** Stops the gateway and its containers; safe to call twice (clean-up calls it again). */
  stop(): Promise<void> {
    this.stopped ??= this.app.stop();
    return this.stopped;
  }

  private waitForModelRequest(marker: string, timeoutMs: number): Promise<RecordedRequest> {
    return new Promise((resolve, reject) => {
      const onRequest = (r: RecordedRequest) => {
        if (!r.body || !JSON.stringify(r.body.messages ?? '').includes(marker)) return;
        clearTimeout(timer);
        this.fake.off('request', onRequest);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.fake.off('request', onRequest);
        reject(new Error(`no model request carrying ${marker} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      timer.unref();
      this.fake.on('request', onRequest);
    });
  }
}
