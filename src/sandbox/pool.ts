import { removeTree } from '../inbox/safe-fs.ts';
import type { EngineName } from '../protocol/messages.ts';
import { AgentContainer, type AgentContainerDeps } from './agent-container.ts';

/** How long after handing out a container the pool starts its replacement. */
const REFILL_DELAY_MS = 3000;

/**
 * Pristine containers started ahead of need, so a new conversation does not
 * wait for `docker run` and the engine's start-up. A pooled container has
 * never seen a conversation: fresh workspace, fresh engine state, nothing
 * mounted but its own folders. It is handed out once and never returns; one
 * that goes away unused takes its folders with it. One pool per engine: its
 * containers are warmed up for that engine only.
 *
 *   const pool = new ContainerPool(deps, 'claude', 1, log); pool.fill();
 *   const c = pool.take();   // undefined when none is ready
 */
export class ContainerPool {
  private ready: AgentContainer[] = [];
  private launches = new Set<Promise<void>>();
  private handedOut = new WeakSet<AgentContainer>();
  private closed = false;
  private failures = 0;

  constructor(
    private readonly deps: AgentContainerDeps,
    readonly engine: EngineName,
    private readonly size: number,
    private readonly log: (msg: string) => void,
  ) {}

  /**
   * Takes a ready container out of the pool, and starts its replacement a
   * moment later: started at once, the replacement's start-up competes for
   * the CPU with the conversation's first turn, which is what the user waits for.
   */
  take(): AgentContainer | undefined {
    let c: AgentContainer | undefined;
    // One that died while waiting (OOM, a crashed runner) is not handed out.
    while ((c = this.ready.shift()) && !c.alive);
    if (c) this.handedOut.add(c);
    setTimeout(() => this.fill(), c ? REFILL_DELAY_MS : 0).unref();
    return c;
  }

  fill(): void {
    if (this.closed) return;
    while (this.ready.length + this.launches.size < this.size) {
      const launch: Promise<void> = AgentContainer.launch(this.deps, { prewarm: true, engine: this.engine }).then((c) => {
        this.failures = 0;
        c.once('exit', () => {
          // Never handed out: nobody will ever use its folders.
          if (!this.handedOut.has(c)) {
            try { removeTree(c.dirs.dataDir); } catch (err) { this.log(`could not remove ${c.dirs.dataDir}: ${(err as Error).message}`); }
          }
          this.ready = this.ready.filter((x) => x !== c);
        });
        if (this.closed) return c.destroy('pool closed');
        this.ready.push(c);
      }, (err) => {
        this.failures++;
        this.log(`could not pre-start a container: ${(err as Error).message}`);
        // Back off rather than spin when the engine or image is broken.
        if (!this.closed) setTimeout(() => this.fill(), Math.min(60_000, 1000 * 2 ** this.failures)).unref();
      }).finally(() => this.launches.delete(launch));
      this.launches.add(launch);
    }
  }

  get readyCount(): number { return this.ready.length; }

  /** Destroys the unused containers, including those still starting, and removes their folders. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.launches);
    await Promise.all(this.ready.splice(0).map((c) => c.destroy('gateway stopping')));
  }
}
