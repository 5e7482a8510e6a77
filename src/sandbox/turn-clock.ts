import { performance } from 'node:perf_hooks';

/**
 * A turn's timeout that stops counting while the agent waits on a person.
 * The timeout is there to end an agent that runs away; while an `ask_user`
 * question is open nothing in the container is running, and a person may
 * take minutes to answer, so that time is not the agent's. Pauses nest (two
 * questions open at once): the clock runs again when the last one closes.
 *
 *   const clock = new TurnClock(600_000, () => void container.destroy('too long', 'timeout'));
 *   clock.pause(); await answer; clock.resume(); ... clock.stop();
 */
export class TurnClock {
  private timer?: NodeJS.Timeout;
  private left: number;
  private startedAt = 0;
  private pauses = 0;
  private stopped = false;

  constructor(timeoutMs: number, private readonly onTimeout: () => void) {
    this.left = timeoutMs;
    this.run();
  }

  pause(): void {
    if (this.stopped || this.pauses++ > 0) return;
    clearTimeout(this.timer);
    this.left -= performance.now() - this.startedAt;
  }

  resume(): void {
    if (this.stopped || this.pauses === 0 || --this.pauses > 0) return;
    this.run();
  }

  /** The turn ended: the clock never fires. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private run(): void {
    this.startedAt = performance.now();
    this.timer = setTimeout(() => {
      this.stopped = true;
      this.onTimeout();
    }, Math.max(0, this.left));
  }
}
