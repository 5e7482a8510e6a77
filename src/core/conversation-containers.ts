import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Config } from '../config/schema.ts';
import type { HomeLayout } from '../config/home.ts';
import { removeTree } from '../inbox/safe-fs.ts';
import { removeConversationAttachments } from '../store/attachments.ts';
import { MemoryRepo } from '../memory/memory-repo.ts';
import { AgentContainer, type AgentContainerDeps, type AuditEvent } from '../sandbox/agent-container.ts';
import { dataDirs } from '../sandbox/data-dirs.ts';
import { ENGINES, type EngineName } from '../protocol/messages.ts';
import { agentPlan, configuredChains, mcpSpecs, planProblem } from './agent-plan.ts';
import { ContainerPool } from '../sandbox/pool.ts';
import { LABEL_HOME, LABEL_MANAGED } from '../sandbox/profile.ts';
import type { ContainerRuntime } from '../sandbox/runtime.ts';
import type { Conversation, Store } from '../store/store.ts';
import { ContainerSlots } from './container-slots.ts';
import type { GatewayEvent } from './gateway.ts';
import type { Logger } from './logger.ts';

export interface ConversationContainersDeps {
  config: Config;
  layout: HomeLayout;
  store: Store;
  runtime: ContainerRuntime;
  log: Logger;
  audit?: (event: AuditEvent) => void;
  containerDeps: AgentContainerDeps;
  /** Whether a conversation has a turn running or messages queued: its container is then never evicted or timed out. */
  busy: (conversationId: string) => boolean;
  emit: (ev: GatewayEvent) => void;
}

/**
 * Each conversation's container, from start to removal: taken from the
 * pre-started pool or launched, held under the cap on running containers,
 * destroyed after the idle timeout, on /end or to make room, and cleaned up
 * after a gateway that died (orphaned containers, folders no conversation
 * owns, workspaces whose idle timer died with it).
 *
 *   const containers = new ConversationContainers(deps); await containers.start();
 *   const c = await containers.acquire(conv); ...turn...; containers.turnEnded(conv.id, c);
 */
export class ConversationContainers {
  private readonly slots: ContainerSlots;
  /** Pre-started containers, per engine: one warmed for an engine serves that engine only. */
  private readonly pools: Map<EngineName, ContainerPool>;
  private readonly idleTimers = new Map<string, NodeJS.Timeout>();
  private idleSweep?: NodeJS.Timeout;
  private unwatch?: () => void;
  private stopped = false;

  constructor(private readonly deps: ConversationContainersDeps) {
    this.slots = new ContainerSlots(deps.config.container.maxRunning);
    // Only engines the config gives some conversation are pre-started; one
    // chosen later with /model starts cold.
    const used = new Set(configuredChains(deps.config).map((c) => c.plan.engine));
    this.pools = new Map(ENGINES.filter((e) => used.has(e)).map((e) => [e, new ContainerPool(deps.containerDeps, e, deps.config.container.prestart, (m) => deps.log.warn(m))]));
  }

  /** Cleans up after a previous gateway, then fills the pool and starts the idle sweep. */
  async start(): Promise<void> {
    await this.removeOrphans();
    for (const pool of this.pools.values()) pool.fill();
    this.endIdleSessions();
    const sweepMs = Math.min(60_000, this.deps.config.container.idleTimeoutSec * 1000);
    this.idleSweep = setInterval(() => this.endIdleSessions(), sweepMs).unref();
    this.watchOutOfMemory();
  }

  /**
   * Under gVisor the kernel's OOM killer can kill part of the sandbox and
   * leave the rest alive but wedged: the turn would hang until its timeout.
   * So an OOM event for a gVisor container ends it at once, with the reason
   * the user sees. (Under runc the killed process simply dies: a tool sees
   * exit 137, a killed engine ends the container, and nothing more is needed.)
   */
  private watchOutOfMemory(): void {
    const { runtime, config, layout, log } = this.deps;
    if (config.container.runtime !== 'runsc' || !runtime.watchOutOfMemory) return;
    this.unwatch = runtime.watchOutOfMemory({ [LABEL_MANAGED]: 'true', [LABEL_HOME]: layout.home }, (name) => {
      const live = this.slots.entries().find(([, c]) => c.name === name);
      if (!live?.[1].alive) return;
      log.warn(`container ${name} hit its memory limit under gVisor; stopping it`);
      void this.end(live[0], live[1], `the agent container ran out of memory (limit ${config.container.memoryMb} MiB) and was stopped`, false);
    });
  }

  /** Containers labelled as ours but not ours: left by a gateway that died. */
  private async removeOrphans(): Promise<void> {
    const { runtime, layout, store, log } = this.deps;
    const found = await runtime.list({ [LABEL_MANAGED]: 'true', [LABEL_HOME]: layout.home });
    for (const c of found) {
      log.info(`removing orphaned container ${c.name} (${c.state})`);
      await runtime.destroy(c.name, 0).catch((err) => log.warn(`could not remove ${c.name}: ${err.message}`));
      store.endContainer(c.name, 'orphaned by a previous gateway');
    }
    for (const c of store.liveContainers()) store.endContainer(c.name, 'gateway restarted');
    rmSync(layout.run, { recursive: true, force: true });
    this.removeOrphanFolders();
  }

  /**
   * Conversation folders that no conversation owns: pre-started containers'
   * folders left behind by a stop or a crash. Run before the pool starts, when
   * no container of ours is alive.
   */
  private removeOrphanFolders(): void {
    const { layout, store, log } = this.deps;
    const owned = new Set(store.listConversations().flatMap((c) => (c.dataDir ? [basename(c.dataDir)] : [])));
    const entries = existsSync(layout.conversations) ? readdirSync(layout.conversations) : [];
    for (const entry of entries.filter((e) => !owned.has(e))) {
      log.info(`removing ${entry}, a container folder no conversation owns`);
      this.removeFolder(join(layout.conversations, entry));
    }
  }

  /**
   * Ends the sessions of conversations idle past the timeout that have no
   * container: their idle timer died with a previous gateway, or their
   * container went away (evicted, failed) and nobody wrote since. Without
   * this their workspaces would stay on disk forever.
   */
  private endIdleSessions(): void {
    const cutoff = Date.now() - this.deps.config.container.idleTimeoutSec * 1000;
    for (const id of this.deps.store.idleWorkspaces(cutoff)) {
      if (this.slots.get(id) || this.deps.busy(id)) continue;
      void this.end(id, undefined, 'idle timeout', true);
    }
  }

  /** Containers being started for a conversation (see acquire). */
  private readonly launching = new Set<Promise<AgentContainer>>();

  /** The conversation's live container, if it has one. */
  live(conversationId: string): AgentContainer | undefined {
    return this.slots.get(conversationId);
  }

  entries(): Array<[string, AgentContainer]> {
    return this.slots.entries();
  }

  get poolReady(): number {
    return [...this.pools.values()].reduce((n, p) => n + p.readyCount, 0);
  }

  /** The conversation's live container, or a new one (from the pool when it can be). */
  async acquire(conv: Conversation): Promise<AgentContainer> {
    const live = this.slots.get(conv.id);
    if (live) return live;
    await this.slots.acquire(
      (id, c) => c.idle && !this.deps.busy(id),
      (id, c) => this.end(id, c, 'evicted to make room for another conversation', false),
    );
    if (this.stopped) {
      this.slots.cancel();
      throw new Error('the gateway is stopping');
    }
    // A stop that comes while the container starts must not leave it running
    // (nobody would destroy it, and its sockets would keep the process alive):
    // the launch destroys what it made, and stop() waits for launches.
    const launch = this.launchOrTake(conv.id).then(async (c) => {
      if (!this.stopped) return c;
      await c.destroy('gateway stopping');
      throw new Error('the gateway is stopping');
    });
    this.launching.add(launch);
    let container: AgentContainer;
    try {
      container = await launch;
    } catch (err) {
      this.slots.cancel();
      throw err;
    } finally {
      this.launching.delete(launch);
    }
    this.track(conv.id, container);
    return container;
  }

  private async launchOrTake(conversationId: string): Promise<AgentContainer> {
    const { store, layout, config, audit } = this.deps;
    const fresh = store.getConversation(conversationId)!;
    const plan = agentPlan(config, fresh);
    const problem = planProblem(config, this.deps.containerDeps.providers, plan);
    if (problem) throw new Error(`this conversation's agent cannot run: ${problem}`);
    const engine: EngineName = plan.engine;
    const mcpServers = mcpSpecs(config, plan.mcpServers);
    const start = {
      type: 'start' as const, conversation: conversationId, engine, memory: fresh.memory, systemPrompt: config.agent.systemPrompt || undefined,
      providers: this.deps.containerDeps.providers.specs(plan.providers),
      ...(mcpServers.length ? { mcpServers } : {}),
    };
    let container = !fresh.memory && !fresh.dataDir ? this.pools.get(engine)?.take() : undefined;
    if (container) {
      store.updateConversation(conversationId, { dataDir: container.dirs.dataDir });
      audit?.({ type: 'container.bound', conversation: conversationId, container: container.name, data: { from: 'pool' } });
    } else {
      const dirName = fresh.dataDir ? basename(fresh.dataDir) : undefined;
      const memory = fresh.memory ? new MemoryRepo(layout, conversationId) : undefined;
      await memory?.ensure();
      container = await AgentContainer.launch(this.deps.containerDeps, {
        dirs: dirName ? dataDirs(layout, dirName) : undefined,
        memoryDir: memory?.workTree, conversationId, engine,
      });
      if (!fresh.dataDir) store.updateConversation(conversationId, { dataDir: container.dirs.dataDir });
    }
    container.bind(conversationId, { ...start, resumeSession: fresh.sessionId ?? undefined });
    return container;
  }

  private track(conversationId: string, c: AgentContainer): void {
    const { store, log, emit } = this.deps;
    this.slots.add(conversationId, c);
    store.recordContainer(c.name, conversationId, 'running');
    emit({ type: 'container', conversationId, container: c.name, state: 'started' });
    c.on('session', (sessionId: string) => store.updateConversation(conversationId, { sessionId }));
    c.on('log', (m: { level: string; text: string }) => log.debug(`[${c.name}] ${m.text}`));
    c.once('exit', (reason: string) => {
      this.slots.release(conversationId, c);
      this.clearIdle(conversationId);
      store.endContainer(c.name, reason);
      emit({ type: 'container', conversationId, container: c.name, state: 'destroyed', reason });
      log.info(`container ${c.name} (${conversationId}) gone: ${reason}`);
    });
  }

  /** A turn starts in the conversation's container: no idle timeout while it runs. */
  turnStarted(conversationId: string): void {
    this.clearIdle(conversationId);
  }

  /** A turn ended: the idle timeout starts counting for a container that is still alive. */
  turnEnded(conversationId: string, c: AgentContainer): void {
    if (!c.alive) return;
    this.clearIdle(conversationId);
    const t = setTimeout(() => {
      this.idleTimers.delete(conversationId);
      if (c.idle && !this.deps.busy(conversationId)) void this.end(conversationId, c, 'idle timeout', true);
    }, this.deps.config.container.idleTimeoutSec * 1000);
    t.unref();
    this.idleTimers.set(conversationId, t);
  }

  private clearIdle(conversationId: string): void {
    clearTimeout(this.idleTimers.get(conversationId));
    this.idleTimers.delete(conversationId);
  }

  /** Lets conversations waiting for a slot look again (a conversation finished its messages). */
  wake(): void {
    this.slots.wake();
  }

  /**
   * Destroys a conversation's container. `endSession` (idle timeout, /end)
   * also deletes its workspace and engine state, unless the conversation has
   * persistent memory, in which case the next message resumes it.
   */
  async end(conversationId: string, c: AgentContainer | undefined, reason: string, endSession: boolean): Promise<void> {
    if (c) {
      await c.destroy(reason);
      this.slots.release(conversationId, c);
    }
    if (!endSession) return;
    const conv = this.deps.store.getConversation(conversationId);
    if (conv && !conv.memory && conv.dataDir) {
      const error = this.removeFolder(conv.dataDir);
      if (error) this.deps.audit?.({ type: 'workspace.delete_failed', conversation: conversationId, data: { error } });
      this.deps.store.updateConversation(conversationId, { dataDir: null, sessionId: null });
      // The stored attachment files go with the workspace; their rows keep the metadata.
      try { removeConversationAttachments(this.deps.store.db, this.deps.layout.attachments, conversationId); } catch (err) { this.deps.log.warn(`could not delete the attachments of ${conversationId}: ${(err as Error).message}`); }
    }
  }

  /**
   * Removes a conversation folder, or says why it could not. The agent may
   * have planted links in it: they go, the host folders they name stay.
   */
  private removeFolder(path: string): string | undefined {
    try {
      removeTree(path);
      return undefined;
    } catch (err) {
      this.deps.log.warn(`could not delete ${path}: ${(err as Error).message}`);
      return (err as Error).message;
    }
  }

  /** Destroys every container (pooled ones too); their conversations resume at the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    clearInterval(this.idleSweep);
    for (const t of this.idleTimers.values()) clearTimeout(t);
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    await Promise.allSettled([...this.launching]);
    await Promise.all(this.slots.entries().map(([id, c]) => c.destroy('gateway stopping').then(() => this.slots.release(id, c))));
  }
}
