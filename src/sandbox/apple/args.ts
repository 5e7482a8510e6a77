import { readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { RuntimeError, type ContainerSpec } from '../runtime.ts';

/**
 * The `container run` command line for a spec: which parts of the hardened
 * profile Apple's `container` CLI can express, and how. Flags as defined in
 * apple/container (Sources/Services/ContainerAPIService/Client/Flags.swift and
 * Parser.swift). Every valued option is written `--flag=value`, so a value can
 * never be read as another flag.
 *
 *   runArgs(spec, { envFile: '/private/tmp/x/env' })
 *   // ['run', '--detach', '--name=nanoclaw-1', ..., 'nanoclaw-agent:latest']
 *
 * Mapped: user, env (from a file, never argv), labels, `--read-only`,
 * `--cap-drop=ALL`, `--network=none`, CPUs, memory, the pids limit (as the
 * agent user's nproc limit: one container per VM, so it counts the same
 * processes), bind mounts, sized tmpfs.
 * Not expressible, so weaker (docs/runtimes.md says so): no-new-privileges,
 * a tmpfs owned by a uid (it is root-owned, mode 1777), fractional CPUs
 * (rounded up to whole vCPUs), an init process, seccomp profile choice.
 * Refused: another OCI runtime (gVisor), and values the CLI's parser would
 * split or misread.
 */
export function runArgs(spec: ContainerSpec, opts: { envFile: string; listDir?: (dir: string) => DirEntries }): string[] {
  const problems = refusals(spec);
  if (problems.length) throw new RuntimeError(`Apple Container cannot run ${spec.name} as asked: ${problems.join('; ')}.`);
  const listDir = opts.listDir ?? listHostDir;
  const args = ['run', '--detach', `--name=${spec.name}`, `--user=${spec.user}`, `--env-file=${opts.envFile}`];
  for (const [k, v] of Object.entries(spec.labels)) args.push(`--label=${k}=${v}`);
  if (spec.readOnlyRoot) args.push('--read-only');
  if (spec.dropAllCapabilities) args.push('--cap-drop=ALL');
  // Without --network the container joins the default vmnet network; `none` leaves loopback only.
  if (!spec.network) args.push('--network=none');
  args.push(`--cpus=${Math.max(1, Math.ceil(spec.nanoCpus / 1e9))}`);
  args.push(`--memory=${Math.ceil(spec.memoryBytes / MiB)}M`);
  args.push(`--ulimit=nproc=${spec.pidsLimit}`);
  for (const m of spec.mounts) args.push(...volumeArgs(m, listDir));
  for (const [path, t] of Object.entries(spec.tmpfs)) {
    // The CLI's tmpfs takes size and mode but no uid/gid: a tmpfs meant to belong to the
    // agent is root-owned and world-writable with the sticky bit, which lets the agent
    // write there. Only the agent's user runs in the VM.
    args.push(`--mount=type=tmpfs,destination=${path},size=${t.sizeMb}M,mode=1777`);
  }
  args.push(spec.image);
  return args;
}

/** The `--env-file` contents: KEY=value lines, read by the CLI (values may not span lines). */
export function envFileText(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join('');
}

export interface DirEntries { sockets: string[]; others: string[] }

const MiB = 1024 * 1024;

/**
 * One mounted host path as `--volume` options. A Unix socket cannot cross a
 * directory shared over virtiofs (the guest sees a file it cannot connect
 * to), but a socket mounted on its own is relayed into the VM over vsock by
 * the CLI (the mechanism behind `container run --ssh`). So a folder of
 * sockets, like the container's /run/nanoclaw, is mounted socket by socket.
 */
function volumeArgs(m: ContainerSpec['mounts'][number], listDir: (dir: string) => DirEntries): string[] {
  const { sockets, others } = listDir(m.hostPath);
  if (sockets.length === 0) return [`--volume=${m.hostPath}:${m.containerPath}${m.readOnly ? ':ro' : ''}`];
  if (others.length) {
    throw new RuntimeError(`Apple Container cannot share ${m.hostPath}: it holds Unix sockets (${sockets.join(', ')}) and other files (${others.join(', ')}); ` +
      'sockets only cross into the VM mounted one by one, so keep them in a folder of their own.');
  }
  // No `:ro` on a relayed socket: there is no file content to protect, and connecting is all it allows.
  return [...sockets].sort().map((s) => `--volume=${join(m.hostPath, s)}:${posix.join(m.containerPath, s)}`);
}

/** Sockets and everything else in a host folder (nothing, for a path that is not a folder). */
function listHostDir(dir: string): DirEntries {
  const out: DirEntries = { sockets: [], others: [] };
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return out; }
  for (const e of entries) (e.isSocket() ? out.sockets : out.others).push(e.name);
  return out;
}

/** What the CLI cannot do for this spec, or would parse differently from what was meant. */
function refusals(spec: ContainerSpec): string[] {
  const out: string[] = [];
  if (spec.runtime) {
    out.push(`the ${spec.runtime} OCI runtime is for Linux hosts; Apple Container runs every container in its own VM instead (set container.runtime to runc)`);
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(spec.name)) out.push(`the name ${JSON.stringify(spec.name)} is not a plain container ID`);
  if (spec.image.startsWith('-')) out.push(`the image ${JSON.stringify(spec.image)} would read as a flag`);
  // `--volume` splits on ':' and its options on ','.
  for (const m of spec.mounts) {
    for (const p of [m.hostPath, m.containerPath]) if (/[:,]/.test(p)) out.push(`the mount path ${JSON.stringify(p)} contains ':' or ','`);
  }
  for (const path of Object.keys(spec.tmpfs)) if (/[,=]/.test(path)) out.push(`the tmpfs path ${JSON.stringify(path)} contains ',' or '='`);
  // `--label` splits on '=' into at most three parts and rejects a third.
  for (const [k, v] of Object.entries(spec.labels)) if (k.includes('=') || v.includes('=')) out.push(`the label ${k} contains '='`);
  for (const [k, v] of Object.entries(spec.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\r\n]/.test(v)) out.push(`the environment variable ${k} cannot be written to an env file`);
  }
  return out;
}

/**
 * Whether two image references name the same image, the way the CLI
 * normalises them: `nanoclaw-agent` is `docker.io/library/nanoclaw-agent:latest`.
 */
export function sameImage(a: string, b: string): boolean {
  return normalizeImage(a) === normalizeImage(b);
}

function normalizeImage(ref: string): string {
  let name = ref;
  const first = name.split('/')[0];
  if (!name.includes('/')) name = `docker.io/library/${name}`;
  else if (!/[.:]/.test(first) && first !== 'localhost') name = `docker.io/${name}`;
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  if (!lastPart.includes(':') && !name.includes('@')) name += ':latest';
  return name;
}
