import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeContainersOf } from './docker-probe.ts';

/**
 * Everything the benchmark creates, undone in reverse order however it ends
 * (normal end, a thrown error, Ctrl-C): gateways stopped, child processes
 * killed, then any container still labelled with one of our temporary homes
 * removed, then the homes deleted.
 *
 *   const cleanup = new Cleanup();
 *   const home = cleanup.tempHome();
 *   cleanup.defer(() => app.stop());
 *   try { ... } finally { await cleanup.run(); }
 */
export class Cleanup {
  private readonly steps: Array<() => Promise<unknown> | unknown> = [];
  private readonly homes: string[] = [];

  /** A fresh NANOCLAW_HOME, removed (with its containers) at the end. */
  tempHome(): string {
    const home = mkdtempSync(join(tmpdir(), 'nanoclaw-bench-'));
    this.homes.push(home);
    return home;
  }

  defer(step: () => Promise<unknown> | unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      // A step that hangs (an engine that stopped answering) must not keep the rest from running.
      const late = new Promise((_, reject) => setTimeout(() => reject(new Error('a clean-up step took over 30 s; moving on')), 30_000).unref());
      try { await Promise.race([step(), late]); } catch (err) { process.stderr.write(`bench clean-up: ${(err as Error).message}\n`); }
    }
    for (const home of this.homes.splice(0)) {
      const left = await removeContainersOf(home).catch(() => 0);
      if (left) process.stderr.write(`bench clean-up: removed ${left} leftover container(s) of ${home}\n`);
      rmSync(home, { recursive: true, force: true });
    }
  }
}
