import { existsSync, readFileSync } from 'node:fs';
import type { HomeLayout } from './home.ts';

/**
 * Whether a process lives: signal 0 checks without sending anything. EPERM
 * means it exists under another user (alive all the same).
 *
 *   if (isAlive(holder)) throw new Error('another writer holds the lock');
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The gateway running on this home, from the pid file it writes at start
 * (`gateway.pid`: its pid and API address), or undefined when none runs (no
 * file, an unreadable one, or a pid that is gone after a crash).
 *
 *   const gw = runningGateway(layout); if (gw) await fetch(`${gw.url}/api/v1/status`);
 */
export function runningGateway(layout: Pick<HomeLayout, 'gatewayLock'>): { pid: number; url: string } | undefined {
  if (!existsSync(layout.gatewayLock)) return undefined;
  let g: { pid: number; url: string };
  try { g = JSON.parse(readFileSync(layout.gatewayLock, 'utf8')); } catch { return undefined; }
  return Number.isSafeInteger(g?.pid) && g.pid > 0 && isAlive(g.pid) ? g : undefined;
}
