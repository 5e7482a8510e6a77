import type { AgentContainer } from '../sandbox/agent-container.ts';

/**
 * The cap on live conversation containers. A conversation that needs a
 * container and finds the cap reached evicts the longest-idle container the
 * caller says may go (never one whose conversation is mid-turn or still
 * delivering its replies); when none may go, it waits. Waiters are served in
 * the order they asked: only the oldest one may take a free slot or evict.
 *
 *   await slots.acquire((id, c) => c.idle && !draining.has(id), evict);  // may wait
 *   slots.add(convId, container);     // ... later
 *   slots.release(convId, container); // when it is destroyed
 */
export class ContainerSlots {
  private live = new Map<string, AgentContainer>();
  private reserved = 0;
  private queue: object[] = [];
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
   * Reserves a slot. `evictable` says which live containers may be destroyed
   * to make room; `evict` destroys one and must end with `release` for it.
   */
  async acquire(
    evictable: (conversationId: string, c: AgentContainer) => boolean,
    evict: (conversationId: string, c: AgentContainer) => Promise<void>,
  ): Promise<void> {
    const ticket = {};
    this.queue.push(ticket);
    try {
      for (;;) {
        if (this.queue[0] === ticket) {
          if (this.live.size + this.reserved < this.max) {
            this.reserved++;
            return;
          }
          const victim = [...this.live.entries()]
            .filter(([id, c]) => evictable(id, c))
            .sort((a, b) => a[1].lastActive - b[1].lastActive)[0];
          if (victim) {
            await evict(victim[0], victim[1]);
            continue;
          }
        }
        await new Promise<void>((resolve) => this.waiters.push(resolve));
      }
    } finally {
      this.queue.splice(this.queue.indexOf(ticket), 1);
      this.wake();
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

  /**
   * Lets waiters look again: call it when a slot may have become free or a
   * container evictable (a conversation finished its drain).
   */
  wake(): void {
    const w = this.waiters.splice(0);
    for (const resolve of w) resolve();
  }
}
