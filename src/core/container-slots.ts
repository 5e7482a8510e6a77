import type { AgentContainer } from '../sandbox/agent-container.ts';

/**
 * The cap on live conversation containers. A conversation that needs a
 * container and finds the cap reached first evicts the longest-idle
 * container (one with no turn running); when every container is busy it
 * waits, first come first served, until one is released.
 *
 *   await slots.acquire();            // may wait
 *   slots.add(convId, container);     // ... later
 *   slots.release(convId);            // when it is destroyed
 */
export class ContainerSlots {
  private live = new Map<string, AgentContainer>();
  private reserved = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly max: number) {}

  get(conversationId: string): AgentContainer | undefined {
    const c = this.live.get(conversationId);
    return c?.alive ? c : undefined;
  }

  entries(): Array<[string, AgentContainer]> {
    return [...this.live.entries()];
  }

  /**
   * Reserves a slot. `evict` is called with the idle container to destroy
   * when the cap is reached; it must end with `release` for that container.
   */
  async acquire(evict: (conversationId: string, c: AgentContainer) => Promise<void>): Promise<void> {
    for (;;) {
      if (this.live.size + this.reserved < this.max) {
        this.reserved++;
        return;
      }
      const idle = [...this.live.entries()].filter(([, c]) => c.idle).sort((a, b) => a[1].lastActive - b[1].lastActive)[0];
      if (idle) {
        await evict(idle[0], idle[1]);
        continue;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Turns a reservation into a live container. */
  add(conversationId: string, c: AgentContainer): void {
    this.reserved--;
    this.live.set(conversationId, c);
  }

  /** Gives back a reservation that did not become a container (start-up failed). */
  cancel(): void {
    this.reserved--;
    this.wake();
  }

  release(conversationId: string, c: AgentContainer): void {
    if (this.live.get(conversationId) === c) this.live.delete(conversationId);
    this.wake();
  }

  /** Called when a turn ends: a container became idle, so a waiter may evict it. */
  wake(): void {
    const w = this.waiters.splice(0);
    for (const resolve of w) resolve();
  }
}
