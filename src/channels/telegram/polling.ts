import { setTimeout as sleep } from 'node:timers/promises';
import type { Api } from 'grammy';
import type { Update } from 'grammy/types';
import { describe, needsUser, retryDelayMs } from './errors.ts';

/** What the poller reports: it delivers updates, and says how its connection is. */
export interface PollerDeps {
  api: Api;
  /** Long-poll timeout of one getUpdates call, in seconds. */
  timeoutSec: number;
  /** The update kinds asked for, sent with every call: a stale server-side filter cannot silence the bot. */
  allowedUpdates: ReadonlyArray<string>;
  /** Handles one update; never throws. The update is confirmed to Telegram only after it returned. */
  handle(update: Update): Promise<void>;
  connected(): void;
  reconnecting(detail: string): void;
  /** An error only the user can fix: polling has stopped for good. */
  failed(problem: { detail: string; action: string }): void;
  log: { info(msg: string): void; warn(msg: string): void };
}

/**
 * Long polling of getUpdates, written out rather than `bot.start()` so that
 * three rules hold:
 * - an update is confirmed (the next call's `offset`) only after `handle`
 *   returned, i.e. after the message was stored durably;
 * - a network failure or 5xx backs off and tries again, a 429 waits its
 *   `retry_after`, but 401/409 stop polling and report `failed` (no loop);
 * - a watchdog restarts polling when one getUpdates call stays unanswered
 *   for twice the long-poll timeout (a half-open connection after a NAT or
 *   Wi-Fi change never errors on its own).
 *
 *   const poller = new Poller({ api: bot.api, timeoutSec: 30, allowedUpdates: ['message'], handle, ... });
 *   poller.start(); // ... await poller.stop();
 */
export class Poller {
  private offset = 0;
  /** Bumped on every (re)start: a loop that sees another generation ends. */
  private generation = 0;
  private stopped = false;
  private inFlight?: { since: number; abort: AbortController };
  private pause = new AbortController();
  private watchdog?: NodeJS.Timeout;
  private loop?: Promise<void>;
  private failedForGood = false;

  constructor(private readonly deps: PollerDeps) {}

  start(): void {
    this.loop = this.run(++this.generation);
    const limitMs = 2 * this.deps.timeoutSec * 1000;
    this.watchdog = setInterval(() => {
      const call = this.inFlight;
      if (this.stopped || !call || Date.now() - call.since < limitMs) return;
      this.deps.log.warn(`telegram: getUpdates has not answered for ${Math.round((Date.now() - call.since) / 1000)} s (long-poll timeout ${this.deps.timeoutSec} s): restarting polling`);
      this.deps.reconnecting('polling stalled; restarted');
      this.inFlight = undefined;
      call.abort.abort();
      this.loop = this.run(++this.generation);
    }, Math.min(5000, limitMs / 4));
    this.watchdog.unref();
  }

  /** Ends polling; an update being handled finishes first. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
    this.inFlight?.abort.abort();
    this.pause.abort();
    await this.loop;
    // Confirm what was handled, so a restart does not fetch it again (the
    // inbox would drop it as a duplicate anyway; this saves the download).
    if (this.offset > 0 && !this.failedForGood) {
      await this.deps.api.getUpdates({ offset: this.offset, limit: 1, timeout: 0 }, AbortSignal.timeout(3000) as never).catch(() => {});
    }
  }

  private current(generation: number): boolean {
    return !this.stopped && generation === this.generation;
  }

  private async run(generation: number): Promise<void> {
    let failures = 0;
    while (this.current(generation)) {
      const abort = new AbortController();
      this.inFlight = { since: Date.now(), abort };
      let updates: Update[];
      try {
        updates = await this.deps.api.getUpdates({ offset: this.offset, timeout: this.deps.timeoutSec, allowed_updates: [...this.deps.allowedUpdates] as never }, abort.signal as never);
      } catch (err) {
        if (!this.current(generation)) return;
        this.inFlight = undefined;
        const problem = needsUser(err, 'polling');
        if (problem) {
          clearInterval(this.watchdog);
          this.failedForGood = true;
          this.deps.failed(problem);
          return;
        }
        failures++;
        const wait = retryDelayMs(err, failures);
        if (failures === 1 || failures % 10 === 0) this.deps.log.warn(`telegram: getUpdates failed (${describe(err)}); trying again in ${Math.round(wait / 1000)} s`);
        this.deps.reconnecting(`getUpdates failed: ${describe(err)}`);
        await sleep(wait, undefined, { signal: this.pause.signal }).catch(() => {});
        continue;
      }
      this.inFlight = undefined;
      if (!this.current(generation)) return;
      if (failures > 0) this.deps.log.info('telegram: polling works again');
      failures = 0;
      this.deps.connected();
      for (const update of updates) {
        if (!this.current(generation)) return;
        if (typeof update?.update_id !== 'number') continue;
        if (update.update_id < this.offset) continue;
        await this.deps.handle(update);
        this.offset = update.update_id + 1;
      }
    }
  }
}
