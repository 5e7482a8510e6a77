/**
 * At most `limit` model calls of one container in flight; a few more may
 * wait in line, in arrival order, and anything beyond that is turned away at
 * once. The budget is checked when a call passes the gate, not when it
 * arrives, so calls that queued together cannot all pass one pre-call check
 * and then spend the budget many times over.
 *
 *   const gate = new CallGate(2, 16);
 *   const release = await gate.enter(signal);   // undefined: the line is full
 *   try { ... } finally { release?.(); }
 */
export class CallGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number, readonly maxWaiting: number) {}

  /**
   * Resolves with a release function once the call may go, or with undefined
   * when the line is full or `signal` aborts (the client went away) first.
   */
  async enter(signal?: AbortSignal): Promise<(() => void) | undefined> {
    if (this.running >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) return undefined;
      const admitted = await new Promise<boolean>((resolve) => {
        const go = () => { signal?.removeEventListener('abort', gone); resolve(true); };
        const gone = () => {
          const i = this.waiting.indexOf(go);
          if (i >= 0) this.waiting.splice(i, 1);
          resolve(false);
        };
        if (signal?.aborted) return resolve(false);
        signal?.addEventListener('abort', gone, { once: true });
        this.waiting.push(go);
      });
      if (!admitted) return undefined;
    } else {
      this.running++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next in line, so a newcomer cannot jump the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }

  /** Calls in flight and calls waiting, for errors and status. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
