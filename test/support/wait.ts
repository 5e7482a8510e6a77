import type { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayEvent } from '../../src/core/gateway.ts';
import type { FakeAnthropic, RecordedRequest } from '../../src/devtools/fake-anthropic.ts';

/**
 * Polls `check` until it returns something truthy, for conditions nothing
 * announces (a folder deleted after an event, a container gone from Docker).
 * Fails with `what` once the deadline passes, so a hang reads as a finding.
 *
 *   await pollUntil('the workspace is deleted', () => !existsSync(dir), 5000);
 */
export async function pollUntil<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(intervalMs);
  }
}

/**
 * Resolves with the first gateway event that matches. Call it before doing
 * what causes the event, or the event may pass unseen.
 *
 *   const gone = nextEvent(gw, (e) => e.type === 'container' && e.state === 'destroyed', 10_000);
 */
export function nextEvent<E extends GatewayEvent = GatewayEvent>(gateway: EventEmitter, match: (ev: GatewayEvent) => boolean, timeoutMs: number): Promise<E> {
  return new Promise((resolve, reject) => {
    const onEvent = (ev: GatewayEvent) => {
      if (!match(ev)) return;
      clearTimeout(timer);
      gateway.off('event', onEvent);
      resolve(ev as E);
    };
    const timer = setTimeout(() => {
      gateway.off('event', onEvent);
      reject(new Error(`no matching gateway event within ${timeoutMs} ms`));
    }, timeoutMs);
    gateway.on('event', onEvent);
  });
}

/**
 * Resolves when the model receives an agent turn whose messages carry `text`:
 * from then on that turn is running in its container.
 *
 *   const running = turnReceived(h.fake, 'sleep: 5000'); void h.send('c', 'sleep: 5000'); await running;
 */
export function turnReceived(fake: FakeAnthropic, text: string, timeoutMs = 30_000): Promise<RecordedRequest> {
  return new Promise((resolve, reject) => {
    const onRequest = (r: RecordedRequest) => {
      if (r.kind !== 'turn' || !JSON.stringify(r.body?.messages ?? '').includes(text)) return;
      clearTimeout(timer);
      fake.off('request', onRequest);
      resolve(r);
    };
    const timer = setTimeout(() => {
      fake.off('request', onRequest);
      reject(new Error(`the model received no turn with "${text}" within ${timeoutMs} ms`));
    }, timeoutMs);
    fake.on('request', onRequest);
  });
}
