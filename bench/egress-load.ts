import { statSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuditLog, auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import type { AuditLogOptions } from '../src/audit/audit-log.ts';
import type { FakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { BenchGateway, type MessageSample } from './bench-gateway.ts';
import type { Cleanup } from './cleanup.ts';
import { execIn } from './docker-probe.ts';
import { summarize, type Summary } from './stats.ts';

/**
 * Figure 6: does one conversation's audited egress stall another's? The
 * gateway audits every egress decision; with a sync per record on the event
 * loop, one container fetching many URLs delays every other conversation.
 *
 * In one gateway: follow-ups in a `quiet` conversation, first alone, then
 * while a `busy` conversation's agent runs curl in parallel against a host
 * that is not allowed, so every request is refused and audited
 * (`egress.denied`). bench.ts runs it twice in one run: with the default
 * audit log (group commit) and with the synchronous writer (`commit: 'each'`)
 * as the baseline.
 */
export interface EgressLoadRun {
  /** Follow-ups in `quiet` with no other conversation busy. */
  idle: MessageSample[];
  /** Follow-ups in `quiet` that started and ended while the egress turn ran. */
  loaded: MessageSample[];
  /** egress.denied records per second while the load ran. */
  auditedPerSec: number;
  /** Event-loop delay (ms) of this process, which is the gateway's, in each phase. */
  loopDelayMs: { idle: LoopDelay; loaded: LoopDelay };
}

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** The refused host: `.invalid` never resolves, and it is on no allowlist. */
const LOAD_HOST = 'load.invalid';
const FOLLOW_UP_PAUSE_MS = 200;
/** Inside the busy container: the load stops once this exists (the benchmark creates it with `docker exec`). */
const STOP_FILE = '/tmp/nanoclaw-bench-stop';

/**
 * The busy turn: Node (which the image has, for the runner) sends `rate`
 * requests a second (at most 24 in flight) through the container's proxy
 * (HTTP_PROXY, with its token) until told to stop, or for at most `seconds`.
 * Each goes through the host's egress proxy, which refuses it and appends an
 * audit record. A fixed rate, so both audit writers carry the same load: as
 * fast as possible, the faster writer would get more requests, and so more
 * CPU spent on them, than the slower one.
 */
export const loadCommand = (rate: number, seconds: number) => `run: node -e '
const http = require("node:http"), fs = require("node:fs");
const proxy = new URL(process.env.http_proxy);
const auth = "Basic " + Buffer.from(decodeURIComponent(proxy.username) + ":" + decodeURIComponent(proxy.password)).toString("base64");
const start = Date.now();
let sent = 0, inFlight = 0;
const fire = () => {
  inFlight++;
  const done = () => { inFlight--; };
  const req = http.request({ host: proxy.hostname, port: proxy.port, path: "http://${LOAD_HOST}/" + sent++, headers: { "proxy-authorization": auth } },
    (res) => { res.resume(); res.on("end", done); });
  req.on("error", done);
  req.end();
};
const tick = setInterval(() => {
  if (Date.now() - start > ${seconds * 1000} || fs.existsSync("${STOP_FILE}")) {
    clearInterval(tick);
    return console.log("egress load done: " + sent + " requests");
  }
  const due = Math.floor((Date.now() - start) * ${rate} / 1000);
  while (sent < due && inFlight < 24) fire();
}, 10);
'`;

/** The figure for one audit writer: a gateway of its own (cold containers), stopped afterwards. */
export async function besideEgressLoad(opts: {
  fake: FakeAnthropic; cleanup: Cleanup; audit?: AuditLogOptions; followUps: number; rate: number; loadSeconds: number; say: (msg: string) => void;
}): Promise<EgressLoadRun> {
  const gw = await BenchGateway.start({ fake: opts.fake, prestart: 0, cleanup: opts.cleanup, audit: opts.audit });
  try {
    const run = await followUpsBesideEgressLoad(gw, opts);
    const s = summarizeRun(run);
    const ms = (x: number) => `${Math.round(x)} ms`;
    opts.say(`  ${opts.audit?.commit === 'each' ? 'synchronous writer' : 'group commit'}: alone p50 ${ms(s.idle.p50)}, under load p50 ${ms(s.loaded.p50)} (${run.auditedPerSec} audited refusals/s)`);
    return run;
  } finally {
    await gw.stop();
  }
}

/**
 * Runs the figure on one gateway and returns its samples. Only follow-ups
 * that both began after the first audited refusal and finished before the
 * busy turn ended count as loaded, so a load that ends early shows as fewer
 * samples, never as fast ones.
 */
export async function followUpsBesideEgressLoad(gw: BenchGateway, opts: { followUps: number; rate: number; loadSeconds: number; say: (msg: string) => void }): Promise<EgressLoadRun> {
  await gw.send('quiet');
  const { container: busyContainer } = await gw.send('busy');
  await gw.settle();

  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const idle: MessageSample[] = [];
  for (let i = 0; i < opts.followUps; i++) {
    await sleep(FOLLOW_UP_PAUSE_MS);
    idle.push(await gw.send('quiet'));
  }
  loop.disable();
  const idleDelay = delayOf(loop);

  const log = auditLogPath(gw.home);
  const sizeBefore = statSync(log).size;
  let loadEnded = Infinity;
  const busy = gw.post('busy', loadCommand(opts.rate, opts.loadSeconds)).finally(() => { loadEnded = performance.now(); });
  busy.catch(() => {}); // awaited below; its error is reported there
  // The load has begun once refusals are being audited (about 20 records' worth of bytes).
  const waitFrom = performance.now();
  while (statSync(log).size < sizeBefore + 8_000) {
    if (loadEnded !== Infinity) break;
    if (performance.now() - waitFrom > 60_000) throw new Error('the egress-heavy turn made no audited requests within 60 s');
    await sleep(20);
  }
  const loadStarted = performance.now();
  const loadStartedEpoch = Date.now();

  loop.reset();
  loop.enable();
  const loaded: MessageSample[] = [];
  while (loaded.length < opts.followUps && loadEnded === Infinity) {
    await sleep(FOLLOW_UP_PAUSE_MS);
    const s = await gw.send('quiet');
    if (loadEnded === Infinity) loaded.push(s);
  }
  loop.disable();
  const loadedDelay = delayOf(loop);
  const stoppedSampling = performance.now();
  if (loadEnded === Infinity) await execIn(busyContainer, ['touch', STOP_FILE]);
  await busy;
  if (loaded.length < opts.followUps) opts.say(`  note: the egress turn ended after ${loaded.length} of ${opts.followUps} follow-ups; raise BENCH_EGRESS_SECONDS`);

  // Counted afterwards, so reading the log does not slow the samples.
  const loadEndedEpoch = loadStartedEpoch + (Math.min(loadEnded, stoppedSampling) - loadStarted);
  const refusals = readAuditLog(log, { type: 'egress.denied', since: new Date(loadStartedEpoch) })
    .filter((r) => r.data?.host === LOAD_HOST && Date.parse(r.ts) <= loadEndedEpoch).length;
  const seconds = (loadEndedEpoch - loadStartedEpoch) / 1000;
  return { idle, loaded, auditedPerSec: Math.round(refusals / seconds), loopDelayMs: { idle: idleDelay, loaded: loadedDelay } };
}

/**
 * What one audit append costs the event loop, per writer, on the disk the
 * benchmark's homes are on: `records` egress.denied records appended back to
 * back, mean ms each (the group commit's sync runs on the thread pool, so it
 * is not counted; its flush is waited for before closing). The figure above
 * scales with this: a disk whose sync is slower makes the synchronous writer
 * cost the loop that much more per record.
 */
export async function appendCostMs(tempHome: () => string, records = 300): Promise<{ groupCommit: number; syncWriter: number }> {
  const once = async (commit: 'group' | 'each') => {
    const log = AuditLog.open(auditLogPath(tempHome()), { commit });
    try {
      const t0 = performance.now();
      for (let i = 0; i < records; i++) {
        log.append({ type: 'egress.denied', conversation: 'c-0123456789abcdef0123', container: 'nanoclaw-bench', data: { host: LOAD_HOST, port: 80, method: 'GET', reason: 'not-allowlisted', status: 403 } });
      }
      const perRecord = (performance.now() - t0) / records;
      await log.flush();
      return Math.round(perRecord * 1000) / 1000;
    } finally {
      log.close();
    }
  };
  return { groupCommit: await once('group'), syncWriter: await once('each') };
}

/** The histogram's figures in ms (it counts in ns). */
function delayOf(h: ReturnType<typeof monitorEventLoopDelay>): LoopDelay {
  const ms = (ns: number) => Math.round(ns / 1e5) / 10;
  return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
}

/** Follow-up latency (accepted -> first model request) of a run, idle and loaded. */
export function summarizeRun(run: EgressLoadRun): { idle: Summary; loaded: Summary } {
  return {
    idle: summarize(run.idle.map((s) => s.acceptedToModelMs)),
    loaded: summarize(run.loaded.map((s) => s.acceptedToModelMs)),
  };
}
