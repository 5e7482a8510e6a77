/**
 * NanoClaw's performance figures, measured against real Docker containers and
 * the stand-in model (which answers instantly, so every millisecond here is
 * NanoClaw's, the container's or the agent engine's, never the model's).
 * A script that prints figures, not a test: a missed target is reported, not
 * failed. docs/benchmarks.md says what each figure means and how it is taken.
 *
 *   npm run bench                          # set-up, build, then this
 *   node dist/bench/bench.js --json out.json
 *
 * Sample counts (environment): BENCH_NEW_CONVERSATIONS (12), BENCH_FOLLOW_UPS
 * (20), BENCH_BASELINE_RUNS (10), BENCH_PRESTART (pool size, 1),
 * BENCH_IDLE_SECONDS (gateway idle time before its RSS is read, 5),
 * BENCH_EGRESS_FOLLOW_UPS (12, each way, per audit writer), BENCH_EGRESS_RATE
 * (audited egress requests a second, 1000), BENCH_EGRESS_SECONDS (most the
 * egress-heavy turn may run, 120), BENCH_CHANNEL_FOLLOW_UPS (10, per way
 * in: the HTTP API and each chat channel).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { BenchGateway, type MessageSample } from './bench-gateway.ts';
import { Cleanup } from './cleanup.ts';
import { containerMemory, docker, timeBareDockerRun, waitUntilQuiet, type ContainerMemory } from './docker-probe.ts';
import { appendCostMs, besideEgressLoad, summarizeRun, type EgressLoadRun } from './egress-load.ts';
import { measureGatewayRss, type GatewayRss } from './gateway-rss.ts';
import { channelLatency, chatChannelsEnv, startChatStandIns, startOtherChannels, type ChannelLatency } from './channel-latency.ts';
import { medianOf, summarize, type Summary } from './stats.ts';

const IMAGE = 'nanoclaw-agent:latest';
const TARGET_GATEWAY_RSS_MIB = 50;
const TARGET_FOLLOW_UP_P50_MS = 50;
/** A human does not type the next message within milliseconds; the engine may still be writing its transcript. */
const FOLLOW_UP_PAUSE_MS = 200;

/** Repository root: this file runs as dist/bench/bench.js. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${raw}: expected a whole number >= ${min}`);
  return n;
}

const say = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
const ms = (x: number) => `${Math.round(x)} ms`;

/** Set on Ctrl-C / SIGTERM: clean-up is already running, and the errors of cut-off requests are expected. */
let interrupted = false;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: node dist/bench/bench.js [--json <path>]\nSee docs/benchmarks.md for the figures and the BENCH_* variables.\n');
    return;
  }
  const n = {
    newConversations: intEnv('BENCH_NEW_CONVERSATIONS', 12, 1),
    followUps: intEnv('BENCH_FOLLOW_UPS', 20, 1),
    baselineRuns: intEnv('BENCH_BASELINE_RUNS', 10, 1),
    prestart: intEnv('BENCH_PRESTART', 1, 1),
    idleSeconds: intEnv('BENCH_IDLE_SECONDS', 5, 0),
    egressFollowUps: intEnv('BENCH_EGRESS_FOLLOW_UPS', 12, 1),
    egressRate: intEnv('BENCH_EGRESS_RATE', 1000, 1),
    egressSeconds: intEnv('BENCH_EGRESS_SECONDS', 120, 10),
    channelFollowUps: intEnv('BENCH_CHANNEL_FOLLOW_UPS', 10, 1),
  };
  const started = Date.now();
  const machine = await describeMachine();
  if (machine.loadAverage1m > 0.5) say(`note: the machine is not idle (load average ${machine.loadAverage1m}); figures may be noisy`);

  const cleanup = new Cleanup();
  const onSignal = (sig: string) => {
    if (interrupted) return;
    interrupted = true;
    say(`${sig}: cleaning up`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));

  try {
    const fake = await startFakeAnthropic();
    cleanup.defer(() => fake.close());

    say(`1/8 baseline: docker run --rm --entrypoint true ${IMAGE}, ${n.baselineRuns} runs`);
    const baseline = summarize(await timeBareDockerRun(IMAGE, n.baselineRuns));

    say(`2/8 gateway RSS: nanoclaw start as a child process, idle ${n.idleSeconds} s, prestart=0 then prestart=${n.prestart}`);
    const rssCold = await measureGatewayRss({ root: ROOT, fakeUrl: fake.url, prestart: 0, settleMs: n.idleSeconds * 1000, cleanup });
    const rssPool = await measureGatewayRss({ root: ROOT, fakeUrl: fake.url, prestart: n.prestart, settleMs: n.idleSeconds * 1000, cleanup });

    say(`3/8 new conversations, cold (prestart=0): 1 warm-up + ${n.newConversations}`);
    const coldGw = await BenchGateway.start({ fake, prestart: 0, cleanup });
    const cold = await newConversations(coldGw, n.newConversations);
    await coldGw.stop();

    say(`4/8 new conversations, pooled (prestart=${n.prestart}, pool refilled and quiet before each): 1 warm-up + ${n.newConversations}`);
    const pooledGw = await BenchGateway.start({ fake, prestart: n.prestart, cleanup });
    const pooled = await newConversations(pooledGw, n.newConversations);

    say(`5/8 follow-ups in one live conversation: ${n.followUps}, ${FOLLOW_UP_PAUSE_MS} ms apart; then its container's idle memory`);
    const { followUps, container } = await followUpsAndMemory(pooledGw, n.followUps);

    await pooledGw.stop();

    say(`6/8 follow-ups beside an egress-heavy turn (${n.egressFollowUps} alone, ${n.egressFollowUps} under ${n.egressRate} audited requests/s): audit group commit, then the synchronous writer`);
    const egressRun = (audit?: { commit: 'each' }) => besideEgressLoad({ fake, cleanup, audit, followUps: n.egressFollowUps, rate: n.egressRate, loadSeconds: n.egressSeconds, say });
    const egress = { group: await egressRun(), each: await egressRun({ commit: 'each' }), appendMs: await appendCostMs(() => cleanup.tempHome()) };

    say(`7/8 gateway RSS with the Telegram, Slack and Discord channels connected to their stand-ins, then with every chat channel, idle ${n.idleSeconds} s`);
    const standIns = await startChatStandIns();
    cleanup.defer(async () => { for (const s of standIns) await s.close().catch(() => {}); });
    const rssChannels = await measureGatewayRss({ root: ROOT, fakeUrl: fake.url, prestart: 0, settleMs: n.idleSeconds * 1000, cleanup, env: chatChannelsEnv(standIns) });
    const others = await startOtherChannels();
    cleanup.defer(() => others.close());
    say(`  then all chat channels: ${others.note}`);
    const allEnv = chatChannelsEnv(standIns);
    const rssAllChannels = await measureGatewayRss({
      root: ROOT, fakeUrl: fake.url, prestart: 0, settleMs: n.idleSeconds * 1000, cleanup, prepare: others.prepare,
      env: { ...allEnv, ...others.env, NANOCLAW_ACCESS_OWNERS: [allEnv.NANOCLAW_ACCESS_OWNERS, ...others.owners].join(',') },
    });
    await others.close();
    for (const s of standIns) await s.close();

    say(`8/8 follow-ups by way in (the HTTP API, Telegram, Slack, Discord), ${n.channelFollowUps} rounds: message available -> model request`);
    const channels = await channelLatency({ fake, cleanup, followUps: n.channelFollowUps, say });

    const report = buildReport({ n, machine, started, baseline, rssCold, rssPool, cold, pooled, followUps, container, egress, rssChannels, rssAllChannels: { rss: rssAllChannels, note: others.note }, channels });
    printReport(report);
    if (values.json) {
      writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
      say(`figures written to ${values.json}`);
    }
  } finally {
    if (!interrupted) {
      say('cleaning up containers and temporary folders');
      await cleanup.run();
    }
  }
}

interface NewConversationRun {
  samples: MessageSample[];
  /** Pooled only: hand-out -> the replacement's runner said hello (the pool counts it ready). */
  refillReadyMs: number[];
  /** Pooled only: hand-out -> the replacement's engine finished warming up (its CPU went quiet). */
  refillWarmMs: number[];
}

/**
 * N conversations, each: one message, timed; `/end`; then wait until the
 * gateway is back in its resting state (pool full and every container
 * quiet), so no sample pays for the previous one's clean-up or refill.
 */
async function newConversations(gw: BenchGateway, count: number): Promise<NewConversationRun> {
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
    say(`  ${tag} ${i}/${count}: accepted -> model request ${ms(s.acceptedToModelMs)}`);
  }
  return { samples, refillReadyMs, refillWarmMs };
}

async function followUpsAndMemory(gw: BenchGateway, count: number): Promise<{ followUps: MessageSample[]; container: ContainerMemory & { name: string } }> {
  const conversation = 'live';
  const first = await gw.send(conversation);
  await gw.settle();
  const followUps: MessageSample[] = [];
  for (let i = 0; i < count; i++) {
    await sleep(FOLLOW_UP_PAUSE_MS);
    followUps.push(await gw.send(conversation));
  }
  say(`  follow-ups: p50 ${ms(summarize(followUps.map((s) => s.acceptedToModelMs)).p50)}`);
  await waitUntilQuiet(gw.home);
  await sleep(2000);
  const memory = await containerMemory(first.container);
  return { followUps, container: { name: first.container, ...memory } };
}

async function describeMachine() {
  const osRelease = (() => {
    try { return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type(); } catch { return os.type(); }
  })();
  const [version, info] = await Promise.all([docker.version(), docker.info()]);
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryMiB: mib(os.totalmem()),
    os: osRelease,
    kernel: os.release(),
    docker: version.Version,
    runtime: info.DefaultRuntime as string,
    cgroup: `v${info.CgroupVersion ?? '1'} (${info.CgroupDriver})`,
    node: process.version,
    loadAverage1m: Math.round(os.loadavg()[0] * 100) / 100,
  };
}

function breakdown(samples: MessageSample[]) {
  return {
    postToAccepted: medianOf(samples, (s) => s.postToAcceptedMs),
    acceptedToTurnStart: medianOf(samples, (s) => s.acceptedToTurnStartMs),
    beforeDocker: medianOf(samples, (s) => s.beforeDockerMs),
    dockerCreateStart: medianOf(samples, (s) => s.dockerCreateStartMs),
    runnerHello: medianOf(samples, (s) => s.runnerHelloMs),
    turnStartToModel: medianOf(samples, (s) => s.turnStartToModelMs),
    proxyHop: medianOf(samples, (s) => s.proxyHopMs),
    wholeTurn: medianOf(samples, (s) => s.turnMs),
  };
}

type Report = ReturnType<typeof buildReport>;

function buildReport(r: {
  n: { newConversations: number; followUps: number; baselineRuns: number; prestart: number; idleSeconds: number; egressFollowUps: number; egressRate: number; egressSeconds: number; channelFollowUps: number }; machine: Awaited<ReturnType<typeof describeMachine>>; started: number;
  rssChannels: GatewayRss; rssAllChannels: { rss: GatewayRss; note: string }; channels: ChannelLatency;
  baseline: Summary; rssCold: GatewayRss; rssPool: GatewayRss; cold: NewConversationRun; pooled: NewConversationRun;
  followUps: MessageSample[]; container: ContainerMemory & { name: string }; egress: { group: EgressLoadRun; each: EgressLoadRun; appendMs: { groupCommit: number; syncWriter: number } };
}) {
  const egressFigures = (run: EgressLoadRun) => ({ followUpMs: summarizeRun(run), auditedPerSec: run.auditedPerSec, eventLoopDelayMs: run.loopDelayMs });
  const pooled = summarize(r.pooled.samples.map((s) => s.acceptedToModelMs));
  const cold = summarize(r.cold.samples.map((s) => s.acceptedToModelMs));
  const followUp = summarize(r.followUps.map((s) => s.acceptedToModelMs));
  const newTarget = Math.round(r.baseline.p50 / 2);
  const rssMiB = Math.round((r.rssCold.rssKb / 1024) * 10) / 10;
  return {
    date: new Date(r.started).toISOString(),
    durationSec: Math.round((Date.now() - r.started) / 1000),
    /** Other work on the machine skews every figure; a 2-core machine is idle below about 0.5. */
    loadAverage1m: { atStart: r.machine.loadAverage1m, atEnd: Math.round(os.loadavg()[0] * 100) / 100 },
    machine: r.machine,
    settings: { ...r.n, followUpPauseMs: FOLLOW_UP_PAUSE_MS, image: IMAGE },
    figures: {
      gatewayIdleRss: {
        prestart0: {
          rssMiB, peakMiB: Math.round(r.rssCold.peakRssKb / 102.4) / 10, startMs: Math.round(r.rssCold.startMs),
          anonMiB: Math.round(r.rssCold.anonKb / 102.4) / 10, fileMiB: Math.round(r.rssCold.fileKb / 102.4) / 10,
        },
        pooled: {
          prestart: r.rssPool.prestart, rssMiB: Math.round(r.rssPool.rssKb / 102.4) / 10, peakMiB: Math.round(r.rssPool.peakRssKb / 102.4) / 10,
          poolContainerCgroupMiB: r.rssPool.poolContainer ? mib(r.rssPool.poolContainer.cgroupBytes) : null,
        },
        targetMiB: TARGET_GATEWAY_RSS_MIB,
        met: rssMiB <= TARGET_GATEWAY_RSS_MIB,
      },
      newConversation: {
        pooledMs: pooled, coldMs: cold, targetP50Ms: newTarget, met: pooled.p50 <= newTarget,
        pooledBreakdownMedianMs: breakdown(r.pooled.samples),
        coldBreakdownMedianMs: breakdown(r.cold.samples),
        poolRefillReadyMs: summarize(r.pooled.refillReadyMs),
        poolRefillWarmMs: summarize(r.pooled.refillWarmMs),
      },
      followUp: { ms: followUp, targetP50Ms: TARGET_FOLLOW_UP_P50_MS, met: followUp.p50 <= TARGET_FOLLOW_UP_P50_MS, breakdownMedianMs: breakdown(r.followUps) },
      agentContainerIdle: {
        cgroupMiB: mib(r.container.cgroupBytes), cgroupWithCacheMiB: mib(r.container.cgroupUsageBytes), rssSumMiB: mib(r.container.rssSumBytes),
        privateSumMiB: r.container.anonSumBytes === null ? null : mib(r.container.anonSumBytes),
        processes: r.container.processes,
      },
      bareDockerRunMs: r.baseline,
      followUpBesideEgressLoad: { groupCommit: egressFigures(r.egress.group), syncWriter: egressFigures(r.egress.each), auditAppendMs: r.egress.appendMs },
      gatewayIdleRssWithChatChannels: {
        rssMiB: Math.round(r.rssChannels.rssKb / 102.4) / 10, anonMiB: Math.round(r.rssChannels.anonKb / 102.4) / 10,
        addedMiB: Math.round((r.rssChannels.rssKb - r.rssCold.rssKb) / 102.4) / 10,
        allChannels: {
          channels: r.rssAllChannels.note,
          rssMiB: Math.round(r.rssAllChannels.rss.rssKb / 102.4) / 10,
          addedMiB: Math.round((r.rssAllChannels.rss.rssKb - r.rssCold.rssKb) / 102.4) / 10,
        },
      },
      followUpByWayIn: Object.fromEntries(Object.entries(r.channels.byChannel).map(([name, xs]) => [name, summarize(xs)])),
    },
    samples: {
      pooled: r.pooled.samples, cold: r.cold.samples, followUps: r.followUps,
      besideEgressLoad: { groupCommit: { idle: r.egress.group.idle, loaded: r.egress.group.loaded }, syncWriter: { idle: r.egress.each.idle, loaded: r.egress.each.loaded } },
      followUpByWayIn: r.channels.byChannel,
    },
  };
}

function printReport(rep: Report): void {
  const f = rep.figures;
  const eg = f.followUpBesideEgressLoad.groupCommit;
  const es = f.followUpBesideEgressLoad.syncWriter;
  const load = (x: typeof eg) => `${x.auditedPerSec} audited refusals/s, event-loop delay p99 ${x.eventLoopDelayMs.loaded.p99} ms, max ${x.eventLoopDelayMs.loaded.max} ms (alone: p99 ${x.eventLoopDelayMs.idle.p99}, max ${x.eventLoopDelayMs.idle.max})`;
  const pct = (s: Summary) => `p50 ${ms(s.p50)}, p95 ${ms(s.p95)}`;
  const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
  const rows: string[][] = [
    ['Figure', 'Measured', 'Target', 'Result'],
    ['1. Gateway RSS, idle (prestart=0)', `${f.gatewayIdleRss.prestart0.rssMiB} MiB`, `<= ${f.gatewayIdleRss.targetMiB} MiB`, verdict(f.gatewayIdleRss.met)],
    [`   same, pool on (prestart=${f.gatewayIdleRss.pooled.prestart})`, `${f.gatewayIdleRss.pooled.rssMiB} MiB (+ ${f.gatewayIdleRss.pooled.poolContainerCgroupMiB} MiB per pooled container)`, '-', 'info'],
    [`2. New conversation, pooled (prestart=${rep.settings.prestart})`, pct(f.newConversation.pooledMs), `p50 <= ${f.newConversation.targetP50Ms} ms (baseline p50 / 2)`, verdict(f.newConversation.met)],
    ['   same, cold (prestart=0)', pct(f.newConversation.coldMs), '-', 'info'],
    ['3. Follow-up in a live conversation', pct(f.followUp.ms), `p50 <= ${f.followUp.targetP50Ms} ms`, verdict(f.followUp.met)],
    ['4. Agent container memory, idle after a turn', `${f.agentContainerIdle.cgroupMiB} MiB (cgroup, as docker stats shows it)`, '-', 'info'],
    ['5. Baseline: bare docker run (entrypoint true)', pct(f.bareDockerRunMs), '-', 'info'],
    ['6. Follow-up beside an egress-heavy turn', `${pct(eg.followUpMs.loaded)} (alone: ${pct(eg.followUpMs.idle)})`, '-', 'info'],
    ['   same, synchronous audit writer (baseline)', `${pct(es.followUpMs.loaded)} (alone: ${pct(es.followUpMs.idle)})`, '-', 'info'],
    ['7. Gateway RSS, idle, 3 chat channels connected', `${f.gatewayIdleRssWithChatChannels.rssMiB} MiB (+${f.gatewayIdleRssWithChatChannels.addedMiB} MiB over none)`, '-', 'info'],
    ['   same, every chat channel (see below)', `${f.gatewayIdleRssWithChatChannels.allChannels.rssMiB} MiB (+${f.gatewayIdleRssWithChatChannels.allChannels.addedMiB} MiB over none)`, '-', 'info'],
    ...Object.entries(f.followUpByWayIn).map(([name, s], i) => [i === 0 ? `8. Follow-up by way in: ${name} (baseline)` : `   ${name}`, pct(s), '-', 'info']),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const out = [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)];
  const b = (x: ReturnType<typeof breakdown>) => Object.entries(x).filter(([, v]) => Number.isFinite(v)).map(([k, v]) => `${k} ${v}`).join(', ');
  const m = rep.machine;
  process.stdout.write([
    `NanoClaw benchmark, ${rep.date}: ${m.cpus} cores, ${m.os}, Docker ${m.docker} (${m.runtime}, cgroup ${m.cgroup}), Node ${m.node}; took ${rep.durationSec} s; load average ${rep.loadAverage1m.atStart} at start, ${rep.loadAverage1m.atEnd} at end`,
    '"New conversation" and "follow-up" are: message accepted -> the agent\'s first model request (the stand-in model answers instantly).',
    '',
    ...out,
    '',
    `Every chat channel: Telegram, Slack, Discord, ${f.gatewayIdleRssWithChatChannels.allChannels.channels}.`,
    `Gateway RSS ${f.gatewayIdleRss.prestart0.rssMiB} MiB = ${f.gatewayIdleRss.prestart0.anonMiB} MiB private (heap, stacks) + ${f.gatewayIdleRss.prestart0.fileMiB} MiB file pages (mostly the node binary); peak ${f.gatewayIdleRss.prestart0.peakMiB} MiB.`,
    'Where the time goes (medians, ms):',
    `  pooled new conversation: ${b(f.newConversation.pooledBreakdownMedianMs)}`,
    `  cold new conversation:   ${b(f.newConversation.coldBreakdownMedianMs)}`,
    `  follow-up:               ${b(f.followUp.breakdownMedianMs)}`,
    `  pool refill after a hand-out: replacement ready (runner hello) p50 ${ms(f.newConversation.poolRefillReadyMs.p50)}, engine warm (CPU quiet) p50 ${ms(f.newConversation.poolRefillWarmMs.p50)}`,
    `  egress load, group commit:      ${load(eg)}`,
    `  egress load, synchronous writer: ${load(es)}`,
    `  one audit append on the event loop (this disk): group commit ${f.followUpBesideEgressLoad.auditAppendMs.groupCommit} ms, synchronous writer ${f.followUpBesideEgressLoad.auditAppendMs.syncWriter} ms`,
    `  agent container: RSS sum ${f.agentContainerIdle.rssSumMiB} MiB, private (anon) sum ${f.agentContainerIdle.privateSumMiB ?? '?'} MiB; ` +
      f.agentContainerIdle.processes.map((p) => `${p.command} ${Math.round(p.rssKb / 1024)} MiB RSS / ${p.anonKb === null ? '?' : Math.round(p.anonKb / 1024)} MiB anon`).join(', '),
    '',
  ].join('\n'));
}

main().catch((err) => {
  if (interrupted) return;
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
