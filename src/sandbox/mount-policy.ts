import { readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { z } from 'zod';
import { CONTAINER_PATHS } from '../protocol/messages.ts';
import type { Mount } from './runtime.ts';

/**
 * Extra host folders in a container, only through an allowlist the operator
 * keeps outside anything a container can write.
 *
 * The allowlist is the one thing that decides which host paths may be asked
 * for; the request (from config) then picks among them. Both must agree before
 * a folder is mounted read-write. Whatever is asked, some places are never
 * mounted: secrets (.ssh, .aws, key files, .env ...), the Docker socket, system
 * folders, the user's home as a whole, NanoClaw's own home, and the
 * allowlist's folder.
 *
 * Mounting a folder mounts everything in it. A project folder that holds a
 * `.env` file or a `.ssh` folder at any depth is still mounted whole: only the
 * requested path itself (after symlinks are resolved) is checked against the
 * sensitive names, not its contents, because checking the contents would
 * refuse almost every real project and a recursive scan would go stale the
 * moment a file is added. Allowlist folders that hold no secrets.
 *
 *   const allowlist = loadMountAllowlist(defaultMountAllowlistPath(), home);
 *   const { mounts, rejected } = resolveExtraMounts(config.container.extraMounts, allowlist, { home });
 */

/** `$NANOCLAW_MOUNT_ALLOWLIST`, else `~/.config/nanoclaw/mount-allowlist.json`: outside NANOCLAW_HOME by default. */
export function defaultMountAllowlistPath(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.NANOCLAW_MOUNT_ALLOWLIST;
  if (fromEnv) {
    if (!isAbsolute(fromEnv)) throw new MountAllowlistError(`NANOCLAW_MOUNT_ALLOWLIST must be an absolute path, got "${fromEnv}".`);
    return resolve(fromEnv);
  }
  return join(homedir(), '.config', 'nanoclaw', 'mount-allowlist.json');
}

/** The allowlist file cannot be trusted or read; the message names the file and what to do. */
export class MountAllowlistError extends Error {
  override name = 'MountAllowlistError';
}

export interface AllowlistEntry {
  /** Absolute host path as written in the file; symlinks are resolved when a request is checked. */
  path: string;
  /** True unless the entry says `"readOnly": false`. */
  readOnly: boolean;
  description?: string;
}

export interface MountAllowlist {
  /** The file the entries came from (named in rejection reasons; its folder is never mounted). */
  file: string;
  entries: AllowlistEntry[];
}

/** One extra mount asked for (from config); `readOnly` defaults to true. */
export interface MountRequest {
  hostPath: string;
  containerPath?: string;
  readOnly?: boolean;
}

export interface ExtraMounts {
  mounts: Mount[];
  rejected: Array<{ hostPath: string; reason: string }>;
  /** Mounted, but read-only although read-write was asked for; log these so the user is not surprised. */
  downgraded: Array<{ hostPath: string; reason: string }>;
}

const AllowlistFileSchema = z.strictObject({
  allow: z.array(z.strictObject({
    path: z.string().min(1),
    readOnly: z.boolean().default(true),
    description: z.string().optional(),
  })),
});

const EXAMPLE = '{"allow": [{"path": "/home/me/projects", "readOnly": true, "description": "my code"}]}';

/**
 * Reads and checks the allowlist. A missing file is an empty list (no extra
 * mounts). Refused, with the reason: a malformed file, a file inside
 * `home` (NANOCLAW_HOME), and a file or folder someone else could rewrite:
 * whoever can edit the allowlist decides what containers see, so a container
 * or another user able to write it could widen its own mounts.
 */
export function loadMountAllowlist(file: string, home: string): MountAllowlist {
  if (!isAbsolute(file)) throw new MountAllowlistError(`The mount allowlist path "${file}" must be absolute.`);
  let real: string;
  try {
    real = realpathSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file, entries: [] };
    throw new MountAllowlistError(`Cannot read the mount allowlist ${file}: ${(err as Error).message}.`, { cause: err });
  }

  const homeReal = realOrResolved(home);
  for (const [path, homePath] of [[resolve(file), resolve(home)], [real, homeReal]]) {
    if (isInside(path, homePath)) {
      throw new MountAllowlistError(`The mount allowlist ${file} is inside NANOCLAW_HOME (${home}), where conversation folders live; a container able to write it could widen its own mounts. Move it outside, e.g. to ~/.config/nanoclaw/mount-allowlist.json, or point NANOCLAW_MOUNT_ALLOWLIST elsewhere.`);
    }
  }

  const st = statSync(real);
  if (!st.isFile()) throw new MountAllowlistError(`The mount allowlist ${file} is not a regular file.`);
  if (st.mode & 0o022) {
    throw new MountAllowlistError(`The mount allowlist ${file} is writable by ${writers(st.mode)} (mode ${modeText(st.mode)}); another user or a container could then widen its own mounts. Run: chmod go-w ${file}`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    throw new MountAllowlistError(`The mount allowlist ${file} belongs to uid ${st.uid}, not to you (uid ${uid}) or root; its owner could widen what containers see. Run: chown ${uid} ${file}`);
  }
  const dir = dirname(real);
  const dst = statSync(dir);
  if ((dst.mode & 0o022) && !(dst.mode & 0o1000)) {
    throw new MountAllowlistError(`The folder of the mount allowlist ${file}, ${dir}, is writable by ${writers(dst.mode)} (mode ${modeText(dst.mode)}), so anyone there could replace the file and widen what containers see. Run: chmod go-w ${dir}`);
  }

  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(real, 'utf8'));
  } catch (err) {
    throw new MountAllowlistError(`The mount allowlist ${file} is not valid JSON: ${(err as Error).message}. Expected ${EXAMPLE}`, { cause: err });
  }
  const parsed = AllowlistFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}${i.code === 'unrecognized_keys' ? ` (${i.keys.join(', ')})` : ''}`);
    throw new MountAllowlistError(`The mount allowlist ${file} is malformed:\n${problems.join('\n')}\nExpected ${EXAMPLE}`);
  }
  parsed.data.allow.forEach((entry, i) => {
    const problem = pathSyntaxProblem(entry.path);
    if (problem) throw new MountAllowlistError(`The mount allowlist ${file} is malformed: allow.${i}.path "${printable(entry.path)}" ${problem}.`);
  });
  return { file, entries: parsed.data.allow };
}

/**
 * Decides which requested host paths become mounts. Never throws for a bad
 * request: each one is either mounted or listed in `rejected` with a reason
 * the user can act on, so one bad entry does not stop a container.
 *
 * The mount's `hostPath` is the resolved real path, so Docker binds exactly
 * what was checked. Requests are read-only unless both the request and the
 * allowlist entry (the most specific one that matches) say `readOnly: false`.
 * `userHome` defaults to the current user's home folder.
 */
export function resolveExtraMounts(requested: readonly MountRequest[], allowlist: MountAllowlist, opts: { home: string; userHome?: string }): ExtraMounts {
  const ctx: PolicyContext = {
    allowlistFile: allowlist.file,
    allowlistDirs: unique([dirname(resolve(allowlist.file)), dirname(realOrResolved(allowlist.file))]),
    homes: unique([resolve(opts.home), realOrResolved(opts.home)]),
    userHomes: unique([resolve(opts.userHome ?? homedir()), realOrResolved(opts.userHome ?? homedir())]),
    // Entries that do not exist on this host match nothing.
    entries: allowlist.entries.flatMap((e) => { const real = tryRealpath(e.path); return real ? [{ ...e, real }] : []; }),
  };
  const result: ExtraMounts = { mounts: [], rejected: [], downgraded: [] };
  for (const req of requested) {
    const hostPath = typeof req?.hostPath === 'string' ? req.hostPath : String(req?.hostPath);
    const verdict = checkRequest(req, ctx);
    if ('reason' in verdict) { result.rejected.push({ hostPath, reason: verdict.reason }); continue; }
    const clash = result.mounts.find((m) => m.containerPath === verdict.mount.containerPath);
    if (clash) {
      result.rejected.push({ hostPath, reason: `its container path ${verdict.mount.containerPath} is already used by ${clash.hostPath}; set a different "containerPath" under /mnt/.` });
      continue;
    }
    result.mounts.push(verdict.mount);
    if (verdict.downgrade) result.downgraded.push({ hostPath, reason: verdict.downgrade });
  }
  return result;
}

interface PolicyContext {
  allowlistFile: string;
  allowlistDirs: string[];
  homes: string[];
  userHomes: string[];
  entries: Array<AllowlistEntry & { real: string }>;
}

type Verdict = { mount: Mount; downgrade?: string } | { reason: string };

function checkRequest(req: MountRequest, ctx: PolicyContext): Verdict {
  if (typeof req?.hostPath !== 'string' || req.hostPath === '') return { reason: '"hostPath" must be a non-empty absolute path, e.g. /home/me/projects.' };
  const given = req.hostPath;
  const syntax = pathSyntaxProblem(given);
  if (syntax) return { reason: `"${printable(given)}" ${syntax}.` };

  let real: string;
  try {
    real = realpathSync(given);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { reason: `${given} does not exist on this host; create it or fix the path.` };
    return { reason: `${given} cannot be resolved (${code ?? (err as Error).message}); check its permissions.` };
  }
  const via = real === given ? given : `${given} (resolves to ${real})`;
  const realSyntax = pathSyntaxProblem(real);
  if (realSyntax) return { reason: `${via}: the resolved path ${realSyntax}.` };

  const blocked = blockedBecause(given) ?? blockedBecause(real, ctx);
  if (blocked) return { reason: `${via} ${blocked}` };

  const st = statSync(real);
  if (!st.isDirectory() && !st.isFile()) {
    return { reason: `${via} is not a folder or regular file; sockets, devices and pipes would give the container a way out of its sandbox and are never mounted.` };
  }

  const matches = ctx.entries.filter((e) => isInside(real, e.real));
  if (matches.length === 0) {
    return {
      reason: ctx.entries.length === 0
        ? `no folder is allowlisted for mounting; add it to ${ctx.allowlistFile}, e.g. {"allow": [{"path": "${real}"}]}.`
        : `${via} is not inside any folder listed in ${ctx.allowlistFile}; add it (or a parent folder) there.`,
    };
  }

  const containerPath = req.containerPath === undefined ? defaultContainerPath(given) : req.containerPath;
  const cpProblem = containerPathProblem(containerPath);
  if (cpProblem) return { reason: `container path "${printable(String(containerPath))}" ${cpProblem}` };

  // The most specific entry decides, so a read-only entry for a subfolder can
  // narrow a read-write parent. Two entries for the same folder: read-only wins.
  const depth = Math.max(...matches.map((e) => e.real.length));
  const entryAllowsWrite = matches.filter((e) => e.real.length === depth).every((e) => !e.readOnly);
  const wantsWrite = req.readOnly === false;
  const readOnly = !(wantsWrite && entryAllowsWrite);
  const downgrade = wantsWrite && readOnly
    ? `mounted read-only: its entry in ${ctx.allowlistFile} does not say "readOnly": false.`
    : undefined;
  return { mount: { hostPath: real, containerPath: posix.normalize(containerPath).replace(/\/+$/, ''), readOnly }, downgrade };
}

/** Segment rules, matched case-insensitively against every segment of the path. */
const SENSITIVE_NAMES: Array<[RegExp, string]> = [
  [/^\.ssh$/i, 'SSH keys'],
  [/^\.aws$/i, 'AWS credentials'],
  [/^\.gnupg$/i, 'GnuPG keys'],
  [/^\.kube$/i, 'Kubernetes credentials'],
  [/^\.docker$/i, 'Docker registry credentials'],
  [/^\.azure$/i, 'Azure credentials'],
  [/^\.(netrc|npmrc|pypirc|git-credentials|pgpass)$/i, 'a credentials file'],
  [/^\.env(\..*)?$/i, 'an environment file, which usually holds secrets'],
  [/^id_(rsa|ed25519|ecdsa|dsa)/i, 'an SSH private key'],
  [/\.(pem|key|p12|pfx)$/i, 'a key or certificate file'],
  [/^credentials/i, 'a credentials file'],
  [/^docker\.sock$/i, 'the Docker socket, which is root on the host'],
];

/** Never mounted, nor anything inside them. */
const SYSTEM_TREES = ['/proc', '/sys', '/dev', '/etc', '/boot', '/run', '/var/run', '/private/etc', '/private/var/run'];
/** Never mounted themselves (nor a folder containing them); their subfolders can be, since projects live there. */
const SYSTEM_ROOTS = ['/', '/root', '/home', '/Users'];
/** Any user's home, not only the gateway's own: the gateway may run as root while projects live in /home/me. */
const ANY_HOME = /^\/(home|Users)\/[^/]+$/;

/**
 * Why a path may never be mounted, or undefined. `ctx` adds the checks that
 * need the resolved path: NanoClaw's home, the user's home and the allowlist.
 */
function blockedBecause(path: string, ctx?: PolicyContext): string | undefined {
  const segments = path.split('/').filter(Boolean);
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    if (i > 0 && /^\.config$/i.test(segments[i - 1]) && /^gcloud$/i.test(seg)) {
      return 'is or is inside .config/gcloud (Google Cloud credentials); secrets are never mounted, even when allowlisted. Mount a folder outside it.';
    }
    const rule = SENSITIVE_NAMES.find(([re]) => re.test(seg));
    if (rule) return `is or is inside "${seg}" (${rule[1]}); secrets are never mounted, even when allowlisted. Mount a folder outside it.`;
  }
  const tree = SYSTEM_TREES.find((t) => isInside(path, t));
  if (tree) return `is inside the system folder ${tree}, which is never mounted.`;
  if (SYSTEM_ROOTS.includes(path)) return 'is a system folder that holds other users\' files and is never mounted; mount a project folder inside it instead.';
  if (ANY_HOME.test(path)) return 'is a user\'s home folder; mounting it would expose its .ssh and every other secret there. Mount a project folder inside it instead.';
  if (!ctx) return undefined;
  const userHome = ctx.userHomes.find((h) => isInside(h, path));
  if (userHome) {
    return `is your home folder (${userHome}) or contains it; mounting it would expose ~/.ssh and every other secret there. Mount a project folder inside it instead.`;
  }
  const nanoHome = ctx.homes.find((h) => isInside(path, h) || isInside(h, path));
  if (nanoHome) {
    return `is, contains or lies inside NanoClaw's home (${nanoHome}), which holds every conversation's files and the API token; it is never mounted.`;
  }
  const allowDir = ctx.allowlistDirs.find((d) => isInside(path, d) || isInside(d, path));
  if (allowDir) {
    return `is, contains or lies inside ${allowDir}, the folder of the mount allowlist; a container that could write there could widen its own mounts.`;
  }
  return undefined;
}

/** Why a host path is unusable as written, or undefined. */
function pathSyntaxProblem(path: string): string | undefined {
  // C0, DEL, C1 and the Unicode line separators: they would corrupt logs and bind specs.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(path)) return 'contains a control character (NUL, newline, ...); rename the folder';
  // Docker's bind syntax is host:container:mode, and --mount splits on commas.
  if (/[:,]/.test(path)) return 'contains ":" or ",", which Docker\'s bind syntax cannot carry; rename the folder';
  if (!path.startsWith('/')) return 'is not an absolute path; give the full path, e.g. /home/me/projects (~ is not expanded)';
  if (path.split('/').includes('..')) return 'has a ".." segment; give the path without it';
  return undefined;
}

const RESERVED_CONTAINER_PATHS = [CONTAINER_PATHS.run, CONTAINER_PATHS.workspace, CONTAINER_PATHS.memory, CONTAINER_PATHS.global, CONTAINER_PATHS.skills, CONTAINER_PATHS.home, '/tmp'];

function containerPathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || path === '') return 'must be an absolute path under /mnt/, e.g. /mnt/projects.';
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029:,]/.test(path)) return 'contains a control character, ":" or ","; use letters, digits, ".", "_" and "-".';
  if (!path.startsWith('/')) return 'is not absolute; use a path under /mnt/, e.g. /mnt/projects.';
  if (path.split('/').includes('..')) return 'has a ".." segment; use a plain path under /mnt/.';
  const normal = posix.normalize(path).replace(/\/+$/, '');
  const reserved = RESERVED_CONTAINER_PATHS.find((r) => isInside(normal, r) || isInside(r, normal));
  if (reserved) return `would shadow ${reserved}, which NanoClaw mounts itself; use a path under /mnt/.`;
  if (!normal.startsWith('/mnt/')) return 'is not under /mnt/; extra mounts go there, e.g. /mnt/projects.';
  return undefined;
}

/** `/mnt/<basename>`, with the name reduced to characters that are safe in a shell and in a bind spec. */
function defaultContainerPath(hostPath: string): string {
  const name = basename(hostPath.replace(/\/+$/, '')).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(0, 64);
  return `/mnt/${name || 'mount'}`;
}

/** Path-segment aware: `/data/foo` is inside `/data`, `/data/foobar` is not inside `/data/foo`. */
function isInside(path: string, parent: string): boolean {
  if (parent === '/') return path.startsWith('/');
  return path === parent || path.startsWith(parent + '/');
}

function tryRealpath(path: string): string | undefined {
  try { return realpathSync(path); } catch { return undefined; }
}

function realOrResolved(path: string): string {
  return tryRealpath(path) ?? resolve(path);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function writers(mode: number): string {
  return [mode & 0o020 ? 'its group' : '', mode & 0o002 ? 'other users' : ''].filter(Boolean).join(' and ');
}

function modeText(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** A path as it can be shown in a message: control characters as escapes. */
function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}
