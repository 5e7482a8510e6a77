import { writeFileSync, rmSync } from 'node:fs';
import type { Hono } from 'hono';
import type { Config } from './config/schema.ts';
import { ensureHome, type HomeLayout } from './config/home.ts';
import { loadConfig } from './config/load.ts';
import { HttpChannel, ensureApiToken } from './channels/http/index.ts';
import { TerminalChannel } from './channels/terminal/index.ts';
import { CHAT_CHANNEL_NAMES, loadChatChannel } from './channels/registry.ts';
import { ChannelPluginError, loadChannelPlugins } from './channels/plugins.ts';
import { OpenAiTranscriber } from './transcription/client.ts';
import { Secrets } from './config/secrets.ts';
import { configuredChains, planProblem } from './core/agent-plan.ts';
import { Providers } from './config/providers.ts';
import { AuditLog, auditLogPath, type AuditEvent, type AuditLogOptions, type AuditRecord } from './audit/audit-log.ts';
import { dashboardName, dashboardRoutes, LOOPBACK_HOSTS, turnData, type DashboardEvent } from './dashboard/index.ts';
import { Gateway } from './core/gateway.ts';
import { createLogger, type Logger } from './core/logger.ts';
import { AppleContainerRuntime } from './sandbox/apple/index.ts';
import { DockerRuntime } from './sandbox/docker/index.ts';
import { EgressPolicy } from './sandbox/egress-policy.ts';
import { PodmanRuntime } from './sandbox/podman/index.ts';
import type { ContainerRuntime } from './sandbox/runtime.ts';
import { openDatabase } from './store/database.ts';
import { Store } from './store/store.ts';

export interface App {
  config: Config;
  layout: HomeLayout;
  store: Store;
  gateway: Gateway;
  http: HttpChannel;
  token: string;
  stop(): Promise<void>;
}

/** The container runtime the config names; the one place a concrete runtime is chosen. */
export function createRuntime(config: Config): ContainerRuntime {
  switch (config.container.engine) {
    case 'podman': return new PodmanRuntime({ socketPath: config.container.podmanSocket || undefined });
    case 'apple': return new AppleContainerRuntime();
    default: return new DockerRuntime();
  }
}

/** Thrown when the gateway cannot start; the message says what to do. */
export class StartError extends Error {
  override name = 'StartError';
}

/**
 * The one place that turns configuration into concrete parts: the store, the
 * Docker runtime, the channels and the gateway.
 *
 *   const app = await startApp({ home: '/var/lib/nanoclaw' });
 *   console.log(app.http.url); ...; await app.stop();
 */
export async function startApp(opts: {
  home: string;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  runtime?: ContainerRuntime;
  onModelRequest?: (container: string) => void;
  /** The scheduled tasks' clock; tests inject one. */
  clock?: () => number;
  /** How the audit log syncs (the benchmark compares the synchronous writer). */
  audit?: AuditLogOptions;
}): Promise<App> {
  const env = opts.env ?? process.env;
  const layout = ensureHome(opts.home);
  const config = loadConfig(layout.home, env);
  try {
    new EgressPolicy({ allow: config.egress.allow, allowPrivate: config.egress.allowPrivate, conversation: () => [] });
  } catch (err) {
    throw new StartError(`Invalid egress configuration: ${(err as Error).message}`, { cause: err });
  }
  const log = opts.log ?? createLogger(env.NANOCLAW_LOG);
  const secrets = new Secrets(layout.secrets, env);
  const providers = Providers.load(config, secrets);
  for (const { where, plan } of configuredChains(config)) {
    const problem = planProblem(config, providers, plan);
    if (!problem) continue;
    const noKey = /^provider "anthropic" has no API key/.test(problem) && !config.providers.anthropic;
    throw new StartError(noKey
      ? 'ANTHROPIC_API_KEY is not set. Export your Anthropic API key (it stays in the gateway; containers never see it), or configure another provider with the builtin engine (docs/engines.md), or run `npm run demo` for an offline demo.'
      : `The agent configuration (${where}) cannot run: ${problem}.`);
  }
  // Channel plugins are loaded before anything is opened: a broken one stops the start with its name.
  const plugins = await loadChannelPlugins(config.channels.plugins, { home: layout.home, secrets, log }).catch((err) => {
    throw err instanceof ChannelPluginError ? new StartError(err.message, { cause: err }) : err;
  });
  const runtime = opts.runtime ?? createRuntime(config);
  try {
    await runtime.version();
  } catch (err) {
    throw new StartError(`The ${config.container.engine} engine does not answer (${(err as Error).message}). Start it (for Docker on Debian/Ubuntu as root, scripts/docker-engine.sh does), then try again. \`nanoclaw doctor\` checks everything.`, { cause: err });
  }
  if (!(await runtime.hasImage(config.container.image))) {
    throw new StartError(`The agent image ${config.container.image} is missing. Build it with \`bash image/build.sh\` (or \`npm run setup\`).`);
  }

  const db = openDatabase(layout.db);
  const store = new Store(db);
  const token = ensureApiToken(layout.apiToken);
  const auditLog = AuditLog.open(auditLogPath(layout.home), opts.audit);
  // Each record also goes to whoever watches live (the dashboard's event stream).
  const auditWatchers = new Set<(r: AuditRecord) => void>();
  const audit = (e: AuditEvent) => {
    let record: AuditRecord;
    try { record = auditLog.append(e); } catch (err) { log.error(`audit log: ${(err as Error).message}`); return; }
    for (const watch of auditWatchers) watch(record);
  };
  const stt = config.transcription;
  const transcriber = stt.baseUrl ? new OpenAiTranscriber({ baseUrl: stt.baseUrl, model: stt.model, apiKey: secrets.get(stt.apiKeySecret), timeoutMs: stt.timeoutSec * 1000 }) : undefined;
  const gateway = new Gateway({ config, layout, store, runtime, providers, log, audit, onModelRequest: opts.onModelRequest, transcriber, clock: opts.clock });
  // The one place that wires config to channel implementations.
  const api = config.channels.api;
  const name = dashboardName(layout);
  const dashboard: Hono<any> | undefined = config.dashboard.enabled && api.enabled && LOOPBACK_HOSTS.has(api.host) ? dashboardRoutes({
    db, clock: opts.clock ?? Date.now, audit, auditFile: auditLogPath(layout.home),
    limits: { idleMs: config.dashboard.idleHours * 3600_000, maxAgeMs: config.dashboard.maxAgeDays * 86_400_000 },
    // The Host header a browser sends: no port when it is the scheme's own (80).
    host: (): string => (new URL(http.url).port ? `${name}:${new URL(http.url).port}` : name),
    gateway,
    views: { config, store, runtime, auditHead: () => (auditLog.last.seq ? auditLog.last : null) },
    subscribe: (listener: (e: DashboardEvent) => void) => {
      const onTurn = (ev: Parameters<typeof turnData>[0]) => listener({ event: 'turn', data: turnData(ev) });
      const onAudit = (r: AuditRecord) => listener({ event: 'audit', data: r });
      gateway.on('event', onTurn);
      auditWatchers.add(onAudit);
      return () => { gateway.off('event', onTurn); auditWatchers.delete(onAudit); };
    },
  }) : undefined;
  if (config.dashboard.enabled && !dashboard) {
    log.warn(api.enabled ? `dashboard off: channels.api.host is ${api.host}, and the dashboard is served on loopback only (docs/dashboard.md)`
      : 'dashboard off: it is served on the HTTP API\'s listener, and channels.api.enabled is false');
  }
  const http = new HttpChannel({
    routes: dashboard,
    host: api.host, port: api.port, token, store, maxBodyBytes: api.maxBodyBytes,
    admin: {
      status: () => gateway.status(),
      approvePairing: (code, actor) => gateway.owner.approvePairing(code, actor),
      openQuestion: (id) => gateway.openQuestion(id),
      manage: (area, op, args, actor) => gateway.manage(area, op, args, actor),
      attachmentRoot: layout.attachments,
    },
  });
  if (api.enabled) gateway.addChannel(http);
  if (config.channels.terminal.enabled) gateway.addChannel(new TerminalChannel(layout.chatSocket));
  // Chat channels: each library is imported only when its channel is enabled.
  for (const name of CHAT_CHANNEL_NAMES) {
    const options = config.channels[name];
    if (!options.enabled) continue;
    const module = await loadChatChannel(name);
    gateway.addChannel(module.createChannel({ config: options as never, secrets, log }));
  }
  for (const plugin of plugins) gateway.addChannel(plugin);
  try {
    await gateway.start();
  } catch (err) {
    await gateway.stop().catch(() => {});
    auditLog.close();
    db.close();
    throw err instanceof ChannelPluginError ? new StartError(err.message, { cause: err }) : err;
  }
  writeFileSync(layout.gatewayLock, JSON.stringify({ pid: process.pid, url: http.url }) + '\n', { mode: 0o600 });
  log.info(`gateway up: ${api.enabled ? `HTTP API on ${http.url}` : 'HTTP API off'}, ${config.channels.terminal.enabled ? `terminal chat on ${layout.chatSocket}` : 'terminal chat off'}, store ${layout.db}`);

  return {
    config, layout, store, gateway, http, token,
    async stop() {
      await gateway.stop();
      auditLog.close();
      db.close();
      rmSync(layout.gatewayLock, { force: true });
    },
  };
}
