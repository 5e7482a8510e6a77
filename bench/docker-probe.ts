import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { LABEL_HOME, LABEL_MANAGED } from '../src/sandbox/profile.ts';

const run = promisify(execFile);

/**
 * What the benchmark asks of the Docker engine directly, beside the gateway:
 * the bare `docker run` baseline, a container's memory, "is everything idle
 * yet", and the final clean-up. Reads go through the Engine API (the same
 * socket the gateway uses); the baseline goes through the CLI on purpose,
 * because "what `docker run` costs" is the figure people compare with.
 */
export const docker = new Docker({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });

/**
 * Times `docker run --rm --entrypoint true <image>` end to end (CLI start,
 * create, start, exit, remove). One untimed run first, so the image's layers
 * are in the page cache for every timed one.
 */
export async function timeBareDockerRun(image: string, runs: number): Promise<number[]> {
  const once = () => run('docker', ['run', '--rm', '--entrypoint', 'true', image]);
  await once();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await once();
    samples.push(performance.now() - t0);
  }
  return samples;
}

export interface ContainerMemory {
  /** cgroup memory usage minus inactive file cache: the number `docker stats` prints. */
  cgroupBytes: number;
  /** Raw cgroup usage, page cache included. */
  cgroupUsageBytes: number;
  /** Sum of the resident set sizes of the container's processes (`docker top`, ps rss); shared file pages count once per process. */
  rssSumBytes: number;
  /** Sum of their anonymous (private) resident memory, from /proc/<pid>/status; null when /proc is not readable. */
  anonSumBytes: number | null;
  processes: Array<{ pid: number; rssKb: number; anonKb: number | null; command: string }>;
}

/** Memory of one running container, two ways (see ContainerMemory). */
export async function containerMemory(name: string): Promise<ContainerMemory> {
  const c = docker.getContainer(name);
  const stats = await c.stats({ stream: false, 'one-shot': true } as any) as any;
  const m = stats.memory_stats ?? {};
  const usage = Number(m.usage ?? 0);
  // cgroup v1 names it total_inactive_file, v2 inactive_file; docker stats subtracts whichever exists.
  const inactive = Number(m.stats?.total_inactive_file ?? m.stats?.inactive_file ?? 0);
  const top = await c.top({ ps_args: '-o pid,rss,args' } as any) as any;
  const titles: string[] = top.Titles ?? [];
  const [iPid, iRss, iCmd] = ['PID', 'RSS', 'COMMAND'].map((t) => titles.indexOf(t));
  const processes: ContainerMemory['processes'] = (top.Processes ?? []).map((p: string[]) => {
    const pid = Number(p[iPid]);
    return { pid, rssKb: Number(p[iRss]), anonKb: anonKb(pid), command: shortCommand(p[iCmd] ?? '') };
  });
  const anon = processes.map((p) => p.anonKb);
  return {
    cgroupBytes: inactive < usage ? usage - inactive : usage,
    cgroupUsageBytes: usage,
    rssSumBytes: processes.reduce((sum, p) => sum + p.rssKb * 1024, 0),
    anonSumBytes: anon.every((k) => k !== null) ? anon.reduce((sum, k) => sum + k! * 1024, 0) : null,
    processes,
  };
}

/** Private memory of a host pid: RssAnon + RssShmem (the pids `docker top` gives are the host's). */
function anonKb(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return kb('RssAnon') + kb('RssShmem');
  } catch {
    return null;
  }
}

/** `/usr/local/bin/node /opt/.../main.js` -> `node main.js`; `/opt/.../claude --output-format ...` -> `claude`. */
function shortCommand(args: string): string {
  // The program and its first argument that is not an option: `bun --smol .../main.js` is `bun main.js`.
  const [exe, ...rest] = args.split(/\s+/);
  const first = rest.find((a) => a && !a.startsWith('-'));
  const base = (x: string) => x.split('/').pop() ?? x;
  return first ? `${base(exe)} ${base(first)}` : base(exe);
}

/** Running containers that a gateway with this home started. */
export async function containersOf(home: string): Promise<string[]> {
  const found = await docker.listContainers({ filters: { label: [`${LABEL_MANAGED}=true`, `${LABEL_HOME}=${home}`] } });
  return found.map((c) => c.Id);
}

/**
 * Waits until every container of this home has stopped burning CPU: a
 * pre-started container says hello as soon as its runner connects, but the
 * engine it pre-warms keeps starting up for a second or two after that (about
 * 60% of a core, falling off). An idle engine still ticks (under 1% of a
 * core), so quiet means under 5% of one core over two 500 ms windows in a
 * row. Resolves with how long it waited; gives up (and says so) after `maxMs`.
 */
export async function waitUntilQuiet(home: string, maxMs = 20_000): Promise<{ waitedMs: number; quiet: boolean }> {
  const t0 = performance.now();
  let calm = 0;
  let before = await cpuNs(await containersOf(home));
  while (performance.now() - t0 < maxMs) {
    await sleep(500);
    const now = await cpuNs(await containersOf(home));
    const busyFraction = (now.total - before.total) / ((now.at - before.at) * 1e6);
    // A container that appeared or vanished in between makes the delta meaningless: start over.
    calm = now.ids === before.ids && busyFraction < 0.05 ? calm + 1 : 0;
    before = now;
    if (calm >= 2) return { waitedMs: performance.now() - t0, quiet: true };
  }
  return { waitedMs: performance.now() - t0, quiet: false };
}

async function cpuNs(ids: string[]): Promise<{ ids: string; total: number; at: number }> {
  const one = (id: string): Promise<any> => docker.getContainer(id).stats({ stream: false, 'one-shot': true } as any) as any;
  const each: number[] = await Promise.all(ids.map((id) => one(id)
    .then((s) => Number(s.cpu_stats?.cpu_usage?.total_usage ?? 0), () => 0))); // 0: gone meanwhile
  return { ids: [...ids].sort().join(','), total: each.reduce((a, b) => a + b, 0), at: performance.now() };
}

/** Runs a command in a running container (as its own user), through the CLI; rejects when it fails. */
export async function execIn(container: string, cmd: string[]): Promise<void> {
  await run('docker', ['exec', container, ...cmd]);
}

/** Force-removes every container a gateway with this home started (clean-up after an error). */
export async function removeContainersOf(home: string): Promise<number> {
  const found = await docker.listContainers({ all: true, filters: { label: [`${LABEL_MANAGED}=true`, `${LABEL_HOME}=${home}`] } });
  await Promise.all(found.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {})));
  return found.length;
}
