import net from 'node:net';
import { CONTAINER_EGRESS_PORT, CONTAINER_PATHS, HostToRunner, LIMITS, PROTOCOL_VERSION, describeIssues, type RunnerToHost } from '../../src/protocol/messages.ts';
import { LineReader } from '../../src/protocol/lines.ts';
import { clip, fitOutcome } from './bounds.ts';
import type { Engine, EngineEvents, EngineOptions } from './engines/engine.ts';
import { HostTools } from './host-tools.ts';
import { startModelBridge } from './model-bridge.ts';

/**
 * The agent runner: the container's main process. It connects to the host's
 * protocol socket first (before any agent code can run, so the stream is
 * provably the runner's), starts the model bridge, warms the engine up, and
 * then relays user messages in and turn events out.
 *
 * Both directions follow the schemas in src/protocol: what it sends is
 * clipped to their bounds (the host stops a runner that breaks them), and a
 * host line that does not match them ends the runner with a log line, since
 * the two sides no longer agree on what the stream means.
 */
async function main(): Promise<void> {
  const token = process.env.NANOCLAW_TOKEN;
  if (!token) throw new Error('NANOCLAW_TOKEN is not set; this program runs inside a NanoClaw container');
  // The token is for the engine's requests; nothing else in this process needs it in the environment.
  delete process.env.NANOCLAW_TOKEN;

  const host = net.connect(CONTAINER_PATHS.control);
  await new Promise<void>((resolve, reject) => { host.once('connect', resolve); host.once('error', reject); });
  const send = (m: RunnerToHost) => host.write(JSON.stringify(m) + '\n');

  const bridge = await startModelBridge(CONTAINER_PATHS.model);
  // HTTP(S) egress: the same loopback-to-socket pipe, to the host's egress
  // proxy, which checks every request against the conversation's allowlist.
  // On a fixed port: the host put it in this container's environment
  // (HTTP_PROXY, with the container token as the password) at creation.
  await startModelBridge(CONTAINER_PATHS.egress, CONTAINER_EGRESS_PORT);
  const hostTools = new HostTools(send);
  const events: EngineEvents = {
    session: (sessionId) => { if (sessionId && sessionId.length <= LIMITS.id) send({ type: 'session', sessionId }); },
    // The tool's name comes from the model: clipped like any text.
    progress: (id, kind, text, tool) => send({ type: 'progress', id, kind, text: clip(text, LIMITS.text), tool: tool ? clip(tool, LIMITS.name) : undefined }),
    turnEnd: (id, result) => {
      hostTools.endTurn(id);
      const fitted = fitOutcome(result);
      send(fitted.ok ? { type: 'turn_end', id, ok: true, replies: fitted.replies } : { type: 'turn_end', id, ok: false, code: fitted.code, error: fitted.error });
    },
    modelUsed: (id, provider, model, passedOver) => send({
      type: 'model', id, provider: clip(provider, LIMITS.name), model: clip(model, LIMITS.name),
      passedOver: passedOver.slice(0, LIMITS.providers).map((p) => ({ provider: clip(p.provider, LIMITS.name), error: clip(p.error, LIMITS.text) })),
    }),
    log: (level, text) => send({ type: 'log', level, text: clip(text, LIMITS.text) }),
  };
  // The engine the host started this container for; only its code is loaded
  // (the Claude Agent SDK alone costs more than the whole built-in engine).
  const engine: Engine = process.env.NANOCLAW_ENGINE === 'builtin'
    ? new (await import('./engines/builtin/engine.ts')).BuiltinEngine(events, hostTools)
    : new (await import('./engines/claude.ts')).ClaudeEngine(events, hostTools);
  const proxyVars = Object.fromEntries(PROXY_VARIABLES.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));
  // The provider (and model) a pooled Claude engine warms up against: the config's default.
  const prewarmProvider = process.env.NANOCLAW_PREWARM_PROVIDER;
  const prewarmModel = process.env.NANOCLAW_PREWARM_MODEL;
  const baseOptions: EngineOptions = {
    cwd: CONTAINER_PATHS.workspace,
    modelBridge: bridge.url,
    providers: prewarmProvider && prewarmModel ? [{ name: prewarmProvider, kind: 'anthropic', model: prewarmModel, contextTokens: 200_000, maxOutputTokens: 8192 }] : [],
    mcpServers: [],
    skillsDir: CONTAINER_PATHS.skills,
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: CONTAINER_PATHS.home,
      LANG: 'C.UTF-8',
      ANTHROPIC_API_KEY: token,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      ...proxyVars,
    },
  };

  // Warm the engine while the container waits in the pool: a new conversation
  // then only pays for its first model request. A resumed session or
  // different options reopen it.
  let opened: EngineOptions | undefined;
  if (process.env.NANOCLAW_PREWARM === '1') {
    opened = baseOptions;
    engine.open(opened);
  }
  send({ type: 'hello', protocol: PROTOCOL_VERSION, runner: '0.1.0', engine: engine.name });

  const reader = new LineReader(LIMITS.line);
  let refused = false;
  host.setEncoding('utf8');
  host.on('data', (chunk: string) => {
    if (refused) return;
    const { lines, tooLong } = reader.push(chunk);
    for (const line of lines) {
      const m = check(line);
      if (typeof m === 'string') return refuse(m);
      handle(m);
    }
    if (tooLong) refuse(`a line over ${LIMITS.line} characters`);
  });
  host.on('close', () => void engine.close().finally(() => process.exit(0)));

  /** The host's message, or why it is not one. */
  function check(line: string): HostToRunner | string {
    let raw: unknown;
    try { raw = JSON.parse(line); } catch { return 'a line that is not JSON'; }
    const r = HostToRunner.safeParse(raw);
    return r.success ? r.data : describeIssues(r.error, (raw as { type?: unknown } | null)?.type);
  }

  /** Stops reading and exits: the host and this runner disagree on the protocol (most likely different builds). */
  function refuse(why: string): void {
    refused = true;
    const text = `the host sent an invalid message (${why}); the runner exits (protocol ${PROTOCOL_VERSION})`;
    process.stderr.write(`nanoclaw runner: ${text}\n`);
    send({ type: 'log', level: 'error', text: clip(text, LIMITS.text) });
    void engine.close().finally(() => process.exit(2));
  }

  function handle(m: HostToRunner): void {
    if (m.type === 'start') {
      // A start for another engine: the host and this image disagree on what runs here.
      if (m.engine !== engine.id) return refuse(`a start for engine ${m.engine}, but this runner hosts ${engine.id}`);
      const systemPrompt = [m.systemPrompt, m.memory ? memoryPrompt : ''].filter(Boolean).join('\n\n') || undefined;
      const wanted: EngineOptions = {
        ...baseOptions, resumeSession: m.resumeSession, systemPrompt,
        providers: m.providers ?? baseOptions.providers, mcpServers: m.mcpServers ?? [],
      };
      if (!opened || !engine.canKeep(opened, wanted)) {
        opened = wanted;
        engine.open(wanted);
      }
    } else if (m.type === 'message') {
      if (!opened) { opened = baseOptions; engine.open(opened); }
      engine.send(m.id, m.text, m.sender, m.attachments);
    } else if (m.type === 'interrupt') {
      engine.interrupt(m.id);
      // A tool waiting on the host (a question to the person) must not hold the stop up.
      hostTools.stopTurn(m.id, 'the person stopped this turn');
    } else if (m.type === 'call_result') {
      hostTools.answer(m);
    } else if (m.type === 'stop') {
      void engine.close().finally(() => process.exit(0));
    }
  }
}

/** The proxy settings the host gave this container, passed on to the engine's child processes. */
const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'NO_PROXY', 'no_proxy', 'NODE_USE_ENV_PROXY'];

const memoryPrompt = `You have persistent memory in ${CONTAINER_PATHS.memory}: files you write there are kept between conversations (every change is recorded). ` +
  `Shared read-only material is in ${CONTAINER_PATHS.global}.`;

main().catch((err) => {
  process.stderr.write(`nanoclaw runner: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
