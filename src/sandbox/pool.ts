import { AgentContainer, type AgentContainerDeps } from './agent-container.ts';

/** How long after handing out a container the pool starts its replacement. */
const REFILL_DELAY_MS = 3000;

/**
 * Pristine containers started ahead of need, so a new conversation does not
 * wait for `docker run` and the engine's start-up. A pooled container has
 * never seen a conversation: fresh workspace, fresh engine state, nothing
 * mounted but its own folders. It is handed out once and never returns.
 *
 *   const pool = new ContainerPool(deps, 1, log); pool.fill();
 *   const c = pool.take();   // undefined when none is ready
 */
export class ContainerPool {
  private ready: AgentContainer[] = [];
  private starting = 0;
  private closed = false;
  private failures = 0;

  constructor(
    private readonly deps: AgentContainerDeps,
    private readonly size: number,
    private readonly log: (msg: string) => void,
  ) {}

  /**
   * Takes a ready container out of the pool, and starts its replacement a
   * moment later: started at once, the replacement's start-up competes for
   * the CPU with the conversation's first turn, which is what the user waits for.
   */
  take(): AgentContainer | undefined {
    const c = this.ready.shift();
    setTimeout(() => this.fill(), c ? REFILL_DELAY_MS : 0).unref();
    return c;
  }

  fill(): void {
    if (this.closed) return;
    while (this.ready.length + this.starting < this.size) {
      this.starting++;
      AgentContainer.launch(this.deps, { prewarm: true }).then((c) => {
        this.starting--;
        this.failures = 0;
        if (this.closed) return void c.destroy('pool closed');
        c.once('exit', () => { this.ready = this.ready.filter((x) => x !== c); });
        this.ready.push(c);
      }, (err) => {
        this.starting--;
        this.failures++;
        this.log(`could not pre-start a container: ${(err as Error).message}`);
        // Back off rather than spin when the engine or image is broken.
        if (!this.closed) setTimeout(() => this.fill(), Math.min(60_000, 1000 * 2 ** this.failures)).unref();
      });
    }
  }

  get readyCount(): number { return this.ready.length; }

  async close(): Promise<void> {
    this.closed = true;
    const all = this.ready.splice(0);
    await Promise.all(all.map((c) => c.destroy('gateway stopping')));
  }
}
