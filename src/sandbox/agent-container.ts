import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/schema.ts';
import type { HomeLayout } from '../config/home.ts';
import type { EngineName, FailureCode, HostToRunner, RunnerToHost, TurnOutcome } from '../protocol/messages.ts';
import { prewarmProvider, runnerEnv } from './runner-env.ts';
import { describeExit, describeSpec } from './container-report.ts';
import type { AuditEvent } from '../audit/audit-log.ts';
import { dataDirs, prepareDataDirs, type DataDirs } from './data-dirs.ts';
import { ControlChannel, ProtocolViolation } from './control-channel.ts';
import { describeCall, TurnCalls, type HostToolHandler } from './host-calls.ts';
import { TurnClock } from './turn-clock.ts';
import { EgressPolicy } from './egress-policy.ts';
import { startEgressProxy, type EgressProxy } from './egress-proxy.ts';
import { startCredentialProxy, type CredentialProxy } from './credential-proxy.ts';
import type { MeteredUsage } from './pricing.ts';
import { hardenedSpec } from './profile.ts';
import { defaultMountAllowlistPath, loadMountAllowlist, MountAllowlistError, resolveExtraMounts } from './mount-policy.ts';
import type { ContainerExit, ContainerRuntime, Mount } from './runtime.ts';
import type { Providers } from '../config/providers.ts';

export interface AgentContainerDeps {
  runtime: ContainerRuntime;
  config: Config;
  layout: HomeLayout;
  /** The model providers: the credential proxy routes `/p/<name>/...` to each, with its key. */
  providers: Providers;
  onUsage?: (conversationId: string, usage: MeteredUsage) => void;
  /** The model's answer text as it streams through the credential proxy (live views). */
  onText?: (conversationId: string, text: string) => void;
  onModelRequest?: (container: string) => void;
  /** Refuses a model call with a message when a budget is spent. */
  checkBudget?: (conversationId: string) => string | undefined;
  /** Security-relevant events (the audit log). */
  audit?: (event: AuditEvent) => void;
  /** The conversation's own egress allowlist (/allow), read on every egress decision. */
  egressAllowlist?: (conversationId: string) => readonly string[];
}

export type { AuditEvent } from '../audit/audit-log.ts';
export type { HostToolHandler } from './host-calls.ts';

/** How a turn ended: the runner's outcome, or the host's own code when the container ended it (timeout, OOM, crash). */
export type TurnResult = TurnOutcome;

/** How long a runner has to end a turn after `interrupt` before its container is destroyed. */
const INTERRUPT_GRACE_MS = 15_000;


/**
 * One running agent container with its three host-side sockets: the
 * protocol stream (control.sock), the credential proxy (model.sock) and the
 * egress proxy (egress.sock). It is started
 * either pristine (for the pre-start pool, bound to a conversation later) or
 * directly for a conversation. It serves one conversation, once: there is no
 * way to unbind it.
 *
 *   const c = await AgentContainer.launch(deps, { dirs });
 *   c.bind(conversationId, { type: 'start', conversation: conversationId, engine: 'claude', memory: false });
 *   const result = await c.runTurn({ type: 'message', id: '1', text: 'hi', sender: { id: 'me' } }, 600_000);
 */
export class AgentContainer extends EventEmitter {
  conversationId?: string;
  /** The engine its runner hosts (one image serves them all; `start` must name this one). */
  engine: EngineName = 'claude';
  /** Set once the container is gone; the reason the user sees. */
  exitReason?: string;
  /** The code a turn running when the container ends gets: set with the reason by whoever ends it. */
  private exitCode?: FailureCode;
  private busy?: {
    id: string; resolve: (r: TurnResult) => void; onProgress?: (m: RunnerToHost) => void;
    /** The turn's timeout, paused while the agent waits on a person. */
    clock: TurnClock;
    /** The turn's host tool calls. */
    calls: TurnCalls;
    /** Set by interrupt(): the note the turn ends with, however it ends. */
    interrupted?: { note: string; grace: NodeJS.Timeout };
  };
  private stopping = false;
  private hello!: Promise<void>;
  private exited: Promise<ContainerExit | undefined> = Promise.resolve(undefined);
  lastActive = Date.now();

  private constructor(
    readonly name: string,
    readonly dirs: DataDirs,
    private readonly deps: AgentContainerDeps,
    private readonly runDir: string,
    private readonly channel: ControlChannel,
    private readonly proxy: CredentialProxy,
    private readonly egress: EgressProxy,
  ) {
    super();
  }

  /** Starts a container; resolves once its runner has said hello. */
  static async launch(deps: AgentContainerDeps, opts: { dirs?: DataDirs; memoryDir?: string; conversationId?: string; prewarm?: boolean; engine?: EngineName }): Promise<AgentContainer> {
    const name = `nanoclaw-${randomBytes(5).toString('hex')}`;
    const dirs = opts.dirs ?? dataDirs(deps.layout, name);
    prepareDataDirs(dirs, (err) => deps.audit?.({ type: 'workspace.unsafe_inbox', container: name, conversation: opts.conversationId, data: { error: err.message } }));
    const runDir = join(deps.layout.run, name.slice(-10));
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { recursive: true });
    chmodSync(runDir, 0o755);
    const token = randomBytes(24).toString('base64url');

    let self: AgentContainer | undefined;
    // Built first: a bad entry in the config throws before anything has started.
    const policy = new EgressPolicy({
      allow: deps.config.egress.allow,
      allowPrivate: deps.config.egress.allowPrivate,
      conversation: () => (self?.conversationId ? deps.egressAllowlist?.(self.conversationId) ?? [] : []),
    });
    const proxy = await startCredentialProxy({
      socketPath: join(runDir, 'model.sock'),
      token,
      routes: deps.providers.routes(),
      defaultRoute: prewarmProvider(deps.config, deps.providers),
      onUsage: (u) => { if (self?.conversationId) deps.onUsage?.(self.conversationId, u); },
      onText: deps.onText && ((text) => { if (self?.conversationId) deps.onText!(self.conversationId, text); }),
      onRequest: () => deps.onModelRequest?.(name),
      checkBudget: () => (self?.conversationId ? deps.checkBudget?.(self.conversationId) : undefined),
      maxInFlight: deps.config.model.maxCallsInFlight,
      maxRequestBytes: deps.config.model.maxRequestBytes,
      timeoutMs: deps.config.model.timeoutSec * 1000,
      onCall: (call) => {
        const type = call.status === 403 && call.refused?.startsWith('NanoClaw budget') ? 'budget.exceeded' : call.unmetered ? 'model.unmetered' : 'model.request';
        deps.audit?.({ type, conversation: self?.conversationId, container: name, data: call });
      },
    });
    const egress = await startEgressProxy({
      socketPath: join(runDir, 'egress.sock'), token, policy,
      maxConnections: deps.config.egress.maxConnections,
      maxBytes: deps.config.egress.maxBytesPerContainer,
      idleTimeoutMs: deps.config.egress.idleTimeoutSec * 1000,
      onDecision: ({ allowed, ...data }) => deps.audit?.({ type: allowed ? 'egress.allowed' : 'egress.denied', conversation: self?.conversationId, container: name, data }),
    });
    const channel = await ControlChannel.listen(join(runDir, 'control.sock'));
    self = new AgentContainer(name, dirs, deps, runDir, channel, proxy, egress);
    self.conversationId = opts.conversationId;
    self.engine = opts.engine ?? 'claude';
    await self.start(token, opts.memoryDir, opts.prewarm ?? false);
    return self;
  }

  private async start(token: string, memoryDir: string | undefined, prewarm: boolean): Promise<void> {
    const { runtime, config, layout } = this.deps;
    let helloSeen!: () => void;
    this.hello = new Promise((resolve) => { helloSeen = resolve; });
    // The channel has checked each message's shape, that hello comes first
    // and only once, and its protocol version; what it means here is checked below.
    this.channel.on('message', (m: RunnerToHost) => {
      if (m.type === 'hello') helloSeen();
      else this.onRunnerMessage(m);
    });
    this.channel.on('protocol_error', (v: ProtocolViolation) => this.onProtocolViolation(v));
    this.channel.on('close', () => this.onGone());

    try {
      const spec = hardenedSpec(config, {
        name: this.name, runDir: this.runDir, workspaceDir: this.dirs.workspace, stateDir: this.dirs.state,
        memoryDir, globalDir: layout.global, skillsDir: layout.skillsLive, token, home: layout.home, conversationId: this.conversationId,
        extraMounts: this.extraMounts(),
      });
      Object.assign(spec.env, runnerEnv({ engine: this.engine, token, prewarm, config, providers: this.deps.providers }));
      await runtime.start(spec);
      this.deps.audit?.({ type: 'container.created', container: this.name, conversation: this.conversationId, data: describeSpec(spec, config.security.profile) });
    } catch (err) {
      await this.cleanupHostSide();
      throw err;
    }
    this.exited = runtime.wait(this.name).catch(() => undefined);
    void this.exited.then((exit) => this.onGone(exit ?? { exitCode: -1, oomKilled: false }));

    const startupTimeout = 60_000;
    let timer: NodeJS.Timeout | undefined;
    const exitedEarly = () => new Error(`container ${this.name} exited during start-up: ${this.exitReason}`);
    // A runner can be stopped (a bad hello) before start-up waits here.
    const gone = new Promise<never>((_, reject) => (this.gone ? reject(exitedEarly()) : this.once('exit', () => reject(exitedEarly()))));
    const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`the runner in ${this.name} did not connect within ${startupTimeout / 1000} s`)), startupTimeout); });
    try {
      await Promise.race([this.hello, gone, late]);
    } catch (err) {
      await this.destroy('start-up failed');
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Extra host folders for this container, checked against the allowlist
   * again at every launch (edits and revocations apply to the next
   * container). A broken or untrusted allowlist fails closed: no extra mounts.
   */
  private extraMounts(): Mount[] {
    const { config, layout, audit } = this.deps;
    if (!config.container.extraMounts.length) return [];
    const ev = (type: string, data: Record<string, unknown>) => audit?.({ type, container: this.name, conversation: this.conversationId, data });
    try {
      const allowlist = loadMountAllowlist(defaultMountAllowlistPath(), layout.home);
      const r = resolveExtraMounts(config.container.extraMounts, allowlist, { home: layout.home });
      for (const m of r.rejected) ev('mount.rejected', { ...m });
      for (const m of r.downgraded) ev('mount.downgraded', { ...m });
      return r.mounts;
    } catch (err) {
      if (!(err instanceof MountAllowlistError)) throw err;
      ev('mount.allowlist_refused', { error: err.message });
      return [];
    }
  }

  /** Binds this container to its conversation; sends `start`. */
  bind(conversationId: string, start: Extract<HostToRunner, { type: 'start' }>): void {
    if (this.conversationId && this.conversationId !== conversationId) throw new Error(`container ${this.name} already serves ${this.conversationId}`);
    if (start.engine !== this.engine) throw new Error(`container ${this.name} was started for engine ${this.engine}, not ${start.engine}`);
    this.conversationId = conversationId;
    try {
      this.channel.send(start);
    } catch (err) {
      // Refused before sending (a field over the protocol's bounds): this
      // container would wait for a start that never comes.
      void this.destroy(`it could not be started: ${(err as Error).message}`);
      throw err;
    }
  }

  get alive(): boolean { return !this.exitReason; }
  /** Both of its proxies (credentials, egress) still listen on its sockets. */
  get proxiesListening(): boolean { return this.proxy.listening && this.egress.listening; }
  get idle(): boolean { return !this.busy; }

  /**
   * Runs one turn. Never rejects: a crash, OOM kill or timeout becomes
   * `{ ok: false, code, error }`. The agent's host tool calls during the turn
   * go to `onCall`, each answered with what it returns (without one, with
   * NO_HOST_TOOLS); the timeout does not count while an `ask_user` is open.
   *
   *   await c.runTurn(msg, 600_000, undefined, async (call, signal) =>
   *     call.tool === 'send_message' ? (await deliver(call.input.text), { ok: true, text: 'sent' }) : { ok: false, error: 'not here' });
   */
  runTurn(msg: Extract<HostToRunner, { type: 'message' }>, timeoutMs: number, onProgress?: (m: RunnerToHost) => void, onCall?: HostToolHandler): Promise<TurnResult> {
    if (!this.alive) return Promise.resolve({ ok: false, code: this.exitCode ?? 'engine', error: this.exitReason! });
    if (this.busy) throw new Error(`container ${this.name} is already running turn ${this.busy.id}`);
    this.lastActive = Date.now();
    return new Promise<TurnResult>((resolve) => {
      const clock = new TurnClock(timeoutMs, () => {
        void this.destroy(`the turn ran longer than ${Math.round(timeoutMs / 1000)} s and was stopped`, 'timeout');
      });
      const calls = new TurnCalls(msg.id, {
        handler: onCall,
        clock,
        answer: (result) => this.answerCall(result),
        onCall: (call) => this.deps.audit?.({
          type: 'tool.host_call', conversation: this.conversationId, container: this.name,
          data: { tool: call.tool, call: call.call, input: describeCall(call) },
        }),
      });
      this.busy = { id: msg.id, resolve, onProgress, clock, calls };
      try {
        this.channel.send(msg);
      } catch (err) {
        // Refused before sending (a message over the protocol's bounds); the container is fine.
        this.finishTurn({ ok: false, code: 'refused', error: (err as Error).message });
      }
    });
  }

  /**
   * Asks the runner to abort the running turn; the turn then ends with code
   * `interrupted` and `note` as its error, however it ends (the runner's
   * answer, or the container's end). A runner that has not answered within
   * INTERRUPT_GRACE_MS is not to be trusted with the next turn either: its
   * container is destroyed. False when no turn is running.
   */
  interrupt(note: string): boolean {
    const busy = this.busy;
    if (!busy || !this.alive) return false;
    if (busy.interrupted) return true;
    const grace = setTimeout(() => void this.destroy('the agent did not stop its turn when asked', 'interrupted'), INTERRUPT_GRACE_MS);
    grace.unref();
    busy.interrupted = { note, grace };
    this.channel.send({ type: 'interrupt', id: busy.id });
    return true;
  }

  private onRunnerMessage(m: Exclude<RunnerToHost, { type: 'hello' }>): void {
    // A runner being stopped may still be talking about the turn it was on.
    if (this.stopping || this.gone) return;
    if (m.type === 'session') this.emit('session', m.sessionId);
    else if (m.type === 'log') this.emit('log', m);
    else if (!this.busy || m.id !== this.busy.id) {
      // The host sends one message at a time and waits for its turn_end, so
      // anything about another id is a runner making things up.
      const running = this.busy ? 'another turn is running' : 'no turn is running';
      this.channel.violation(new ProtocolViolation(`it sent ${m.type} for a turn that is not running`, `${running}; id ${JSON.stringify(m.id.slice(0, 40))}`));
    } else if (m.type === 'call') {
      const broken = this.busy.calls.accept(m);
      if (broken) this.channel.violation(new ProtocolViolation(broken, `call ${m.call}, tool ${m.tool}`));
    } else if (m.type === 'progress' || m.type === 'model') {
      try {
        this.busy.onProgress?.(m);
      } catch (err) {
        // A live view's failure must not end the turn, nor reach the socket's data handler.
        this.emit('log', { type: 'log', level: 'error', text: `progress listener failed: ${(err as Error).stack ?? err}` });
      }
    } else {
      // An `interrupted` the host did not ask for is a failure like any other.
      const code = !m.ok && m.code === 'interrupted' && !this.busy.interrupted ? 'engine' : m.ok ? undefined : m.code;
      this.finishTurn(m.ok ? { ok: true, replies: m.replies } : { ok: false, code: code!, error: m.error });
    }
  }

  /**
   * The runner broke the protocol (bad line, wrong shape, out-of-turn message,
   * another protocol version): it is no longer believed, so the container
   * ends, the running turn fails with the reason, and the event is audited.
   * Never throws: it runs inside the socket's data handler.
   */
  private onProtocolViolation(v: ProtocolViolation): void {
    if (this.stopping || this.gone) return;
    this.deps.audit?.({ type: 'protocol.violation', container: this.name, conversation: this.conversationId, data: { reason: v.message, ...(v.detail ? { detail: v.detail } : {}) } });
    const reason = v.kind === 'version' ? v.message : `the agent runner sent an invalid message and was stopped (${v.message})`;
    void this.destroy(reason, 'engine');
  }

  /**
   * Sends a host tool's answer. One the protocol refuses (a handler's result
   * of the wrong shape) becomes an error answer, so the call is still closed.
   */
  private answerCall(result: Extract<HostToRunner, { type: 'call_result' }>): void {
    if (this.stopping || this.gone) return;
    try {
      this.channel.send(result);
    } catch (err) {
      this.channel.send({ type: 'call_result', id: result.id, call: result.call, ok: false, error: `the host could not answer this call: ${(err as Error).message}`.slice(0, 4096) });
    }
  }

  private finishTurn(result: TurnResult): void {
    const busy = this.busy;
    if (!busy) return;
    this.busy = undefined;
    busy.clock.stop();
    busy.calls.end();
    clearTimeout(busy.interrupted?.grace);
    this.lastActive = Date.now();
    // Asked to stop, the turn ends as stopped whatever ended it; a reply that
    // made it out first is still a reply.
    busy.resolve(busy.interrupted && !result.ok ? { ok: false, code: 'interrupted', error: busy.interrupted.note } : result);
  }

  /**
   * Called when the stream closes or the engine reports the exit, whichever
   * comes first; runs once. The stream usually closes first, so wait briefly
   * for the exit status: "ran out of memory" tells the user more than "closed".
   */
  private onGone(exit?: ContainerExit): void {
    if (this.gone) return;
    if (!exit && !this.stopping) {
      void Promise.race([this.exited, sleep(2000, undefined, { ref: false })])
        .then((e) => this.markGone(e ?? undefined));
      return;
    }
    this.markGone(exit);
  }

  private gone = false;
  private markGone(exit?: ContainerExit): void {
    if (this.gone) return;
    this.gone = true;
    const described = describeExit(exit, this.deps.config.container.memoryMb);
    if (!this.exitReason || exit?.oomKilled) this.exitReason = described;
    if (exit?.oomKilled) this.exitCode = 'oom';
    this.proxy.revoke();
    this.egress.revoke();
    this.finishTurn({ ok: false, code: this.exitCode ?? 'engine', error: this.exitReason });
    this.deps.audit?.({ type: 'container.destroyed', container: this.name, conversation: this.conversationId, data: { reason: this.exitReason, exitCode: exit?.exitCode, oomKilled: exit?.oomKilled } });
    this.goneDone = (async () => {
      await this.deps.runtime.destroy(this.name, 0).catch(() => {});
      await this.cleanupHostSide();
      this.emit('exit', this.exitReason);
    })();
  }
  private goneDone?: Promise<void>;

  /**
   * Stops and removes the container; resolves when it is gone. `code` is what
   * a turn still running gets (`timeout` for the turn timer; a memory kill
   * found in the exit status says `oom` whatever the caller thought).
   */
  async destroy(reason: string, code: FailureCode = 'engine'): Promise<void> {
    if (!this.exitReason) { this.exitReason = reason; this.exitCode = code; }
    this.stopping = true;
    this.channel.send({ type: 'stop' });
    await this.deps.runtime.destroy(this.name, 2).catch(() => {});
    this.markGone();
    await this.goneDone;
  }

  private cleaned = false;
  private async cleanupHostSide(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    this.proxy.revoke();
    this.egress.revoke();
    this.channel.close();
    await this.proxy.close();
    await this.egress.close();
    rmSync(this.runDir, { recursive: true, force: true });
  }
}
