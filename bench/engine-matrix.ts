import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { BenchGateway, type MessageSample } from './bench-gateway.ts';
import type { Cleanup } from './cleanup.ts';
import { containerMemory, waitUntilQuiet, type ContainerMemory } from './docker-probe.ts';
import { summarize } from './stats.ts';

export const ENGINES = ['claude', 'builtin'] as const;
export const RUNNER_RUNTIMES = ['node', 'bun'] as const;
export type BenchEngine = typeof ENGINES[number];
export type RunnerRuntime = typeof RUNNER_RUNTIMES[number];

/** A human does not type the next message within milliseconds; the engine may still be writing its transcript. */
export const FOLLOW_UP_PAUSE_MS = 200;

export interface NewConversationRun {
  samples: MessageSample[];
  /** Pooled only: hand-out -> the replacement's runner said hello (the pool counts it ready). */
  refillReadyMs: number[];
  /** Pooled only: hand-out -> the replacement's engine finished warming up (its CPU went quiet). */
  refillWarmMs: number[];
}

/** One engine on one runner runtime: every figure, or why it could not be taken. */
export type EngineCell = { engine: BenchEngine; runtime: RunnerRuntime } & (
  | { ok: true; cold: NewConversationRun; pooled: NewConversationRun; followUps: MessageSample[]; container: ContainerMemory & { name: string } }
  | { ok: false; failed: string }
);

/**
 * Figures 2-4 for each engine on each runner runtime: new conversations cold
 * (prestart=0) and pooled, then follow-ups in one live conversation and that
 * container's idle memory. Every cell gets fresh gateways configured as a user
 * would (`agent.engine`, `container.runnerRuntime`); a cell that cannot run
 * (an engine this image lacks, a runtime that fails) is reported as failed
 * with its reason and the others still run.
 *
 *   const cells = await engineMatrix({ fake, cleanup, prestart: 1, newConversations: 6, followUps: 10, say });
 *   cells.filter((c) => c.ok).map((c) => c.container.cgroupBytes);
 */
export async function engineMatrix(opts: {
  fake: FakeAnthropic; cleanup: Cleanup; prestart: number; newConversations: number; followUps: number; say: (msg: string) => void;
}): Promise<EngineCell[]> {
  const cells: EngineCell[] = [];
  for (const engine of ENGINES) {
    for (const runtime of RUNNER_RUNTIMES) {
      opts.say(`  ${engine} on ${runtime}: cold 1 + ${opts.newConversations}, pooled 1 + ${opts.newConversations}, ${opts.followUps} follow-ups, memory`);
      try {
        cells.push({ engine, runtime, ok: true, ...await measureCell(engine, runtime, opts) });
      } catch (err) {
        const failed = (err as Error).message.split('\n')[0].slice(0, 300);
        opts.say(`  ${engine} on ${runtime} failed: ${failed}`);
        cells.push({ engine, runtime, ok: false, failed });
      }
    }
  }
  return cells;
}

async function measureCell(engine: BenchEngine, runtime: RunnerRuntime, opts: Parameters<typeof engineMatrix>[0]) {
  const env = { NANOCLAW_AGENT_ENGINE: engine, NANOCLAW_CONTAINER_RUNNER_RUNTIME: runtime };
  const start = async (prestart: number) => {
    const gw = await BenchGateway.start({ fake: opts.fake, prestart, cleanup: opts.cleanup, env });
    // A gateway that does not know an option ignores its variable: the cell would measure the defaults.
    const config = gw.app.config as { agent: { engine?: string }; container: { runnerRuntime?: string } };
    if ((config.agent.engine ?? 'claude') !== engine || (config.container.runnerRuntime ?? 'node') !== runtime) {
      await gw.stop();
      throw new Error(`the gateway runs engine ${config.agent.engine ?? 'claude'} on ${config.container.runnerRuntime ?? 'node'}: this build has no ${engine} on ${runtime} to choose`);
    }
    return gw;
  };

  const coldGw = await start(0);
  let cold: NewConversationRun;
  try { cold = await newConversations(coldGw, opts.newConversations, opts.say); } finally { await coldGw.stop(); }

  const pooledGw = await start(opts.prestart);
  try {
    const pooled = await newConversations(pooledGw, opts.newConversations, opts.say);
    const { followUps, container } = await followUpsAndMemory(pooledGw, opts.followUps, opts.say);
    // The figures are only this cell's if the container really ran this engine on this runtime.
    const commands = container.processes.map((p) => p.command);
    if (!commands.some((c) => c.startsWith(`${runtime} `))) {
      throw new Error(`the runner ran as ${commands.join(', ')}, not on ${runtime}`);
    }
    if (engine !== 'claude' && commands.some((c) => c === 'claude')) {
      throw new Error(`the container ran the Claude CLI (${commands.join(', ')}), so not the ${engine} engine`);
    }
    return { cold, pooled, followUps, container };
  } finally {
    await pooledGw.stop();
  }
}

/**
 * N conversations, each: one message, timed; `/end`; then wait until the
 * gateway is back in its resting state (pool full and every container
 * quiet), so no sample pays for the previous one's clean-up or refill.
 */
async function newConversations(gw: BenchGateway, count: number, say: (msg: string) => void): Promise<NewConversationRun> {
  const prestart = gw.prestart;
  const tag = prestart ? 'pooled' : 'cold';
  const samples: MessageSample[] = [];
  const refillReadyMs: number[] = [];
  const refillWarmMs: number[] = [];
  await gw.settle();
  for (let i = 0; i <= count; i++) {
    const conversation = `${tag}-${i}`;
    const s = await gw.send(conversation);
    await gw.end(conversation);
    const { poolFullAt, quietAt } = await gw.settle();
    if (i === 0) continue; // warm-up: first use of this gateway's code paths
    samples.push(s);
    if (prestart) {
      const handedOut = s.acceptedAt + s.acceptedToTurnStartMs;
      refillReadyMs.push(poolFullAt - handedOut);
      refillWarmMs.push(quietAt - handedOut);
    }
    say(`    ${tag} ${i}/${count}: accepted -> model request ${Math.round(s.acceptedToModelMs)} ms`);
  }
  return { samples, refillReadyMs, refillWarmMs };
}

async function followUpsAndMemory(gw: BenchGateway, count: number, say: (msg: string) => void): Promise<{ followUps: MessageSample[]; container: ContainerMemory & { name: string } }> {
  const conversation = 'live';
  const first = await gw.send(conversation);
  await gw.settle();
  const followUps: MessageSample[] = [];
  for (let i = 0; i < count; i++) {
    await sleep(FOLLOW_UP_PAUSE_MS);
    followUps.push(await gw.send(conversation));
  }
  say(`    follow-ups: p50 ${Math.round(summarize(followUps.map((s) => s.acceptedToModelMs)).p50)} ms`);
  await waitUntilQuiet(gw.home);
  await sleep(2000);
  const memory = await containerMemory(first.container);
  return { followUps, container: { name: first.container, ...memory } };
}
