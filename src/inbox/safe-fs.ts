import { closeSync, constants, existsSync, fchmodSync, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, unlinkSync } from 'node:fs';
import { safeFileName } from './attachments.ts';
import { join } from 'node:path';

/**
 * File operations of the gateway (root) inside folders an agent can write:
 * its workspace, inbox, engine state and memory work tree. The agent may
 * replace any path there with a symlink (to a host folder, a dangling
 * target), a FIFO or a huge file at any moment, so nothing here follows a
 * link: every folder is opened with O_NOFOLLOW | O_DIRECTORY and the next
 * name is resolved under that open folder (/proc/self/fd/N/name, which is
 * what openat/mkdirat do), and ownership is changed only through an open fd
 * (fchown/fchmod), never by path. A path-following mkdir -p or chown here
 * lets the agent make root re-own a host folder of its choosing.
 *
 *   const ws = openDir(workspace);
 *   try { closeDir(makeDir(ws, 'inbox', { owner: AGENT_UID })); } finally { closeDir(ws); }
 */

/** Thrown when a path inside an agent's folder is a symlink, not a folder, or otherwise not what the gateway made. */
export class UnsafePathError extends Error {
  override name = 'UnsafePathError';
  constructor(readonly path: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A folder held open: `fd` is what counts, `path` is for messages (and the off-Linux fallback). */
export interface OpenDir { fd: number; path: string }

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const viaProc = existsSync('/proc/self/fd');

/** Opens `path` as a folder; a symlink or anything else there is refused. */
export function openDir(path: string): OpenDir {
  try {
    return { fd: openSync(path, DIR_FLAGS), path };
  } catch (err) {
    throw refusal(path, err);
  }
}

export function closeDir(dir: OpenDir): void {
  closeSync(dir.fd);
}

/**
 * The path of `name` directly inside the open folder: resolved through the
 * fd, so a swap of the folder's own path after it was opened cannot redirect
 * it. Off Linux (no /proc) it is the plain path, checked by the O_NOFOLLOW opens only.
 */
export function under(dir: OpenDir, name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) {
    throw new UnsafePathError(join(dir.path, name), `"${name}" is not a plain name inside ${dir.path}.`);
  }
  return join(pathOf(dir), name);
}

/** A path that names the open folder itself (for readdir): through its fd where /proc allows. */
export function pathOf(dir: OpenDir): string {
  return viaProc ? `/proc/self/fd/${dir.fd}` : dir.path;
}

/**
 * Makes the folder `name` inside `parent` (mode 0700) unless it exists, and
 * returns it open. Whatever is there must be a real folder: a symlink, even
 * one to a folder, is refused and left alone (mkdir never follows the last
 * name, and the open is O_NOFOLLOW). With `owner`, a folder this call made is
 * given to that uid through its fd; `reown` does the same for one that
 * existed (only while no container runs on it). A gateway that is not root
 * cannot chown, so it opens the folder to everyone instead (mode 0777).
 *
 *   const inbox = makeDir(ws, 'inbox', { owner: AGENT_UID });
 */
export function makeDir(parent: OpenDir, name: string, opts: { owner?: number; reown?: boolean } = {}): OpenDir {
  const path = join(parent.path, name);
  let made = true;
  try {
    mkdirSync(under(parent, name), { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new UnsafePathError(path, `Cannot create ${path}: ${(err as Error).message}`, { cause: err });
    made = false;
  }
  const dir = { fd: 0, path };
  try {
    dir.fd = openSync(under(parent, name), DIR_FLAGS);
  } catch (err) {
    throw refusal(path, err);
  }
  try {
    if (opts.owner !== undefined && (made || opts.reown)) giveTo(dir.fd, opts.owner);
  } catch (err) {
    closeDir(dir);
    throw new UnsafePathError(path, `Cannot give ${path} to uid ${opts.owner}: ${(err as Error).message}`, { cause: err });
  }
  return dir;
}

function giveTo(fd: number, uid: number): void {
  const me = process.getuid?.();
  if (me === 0) {
    const st = fstatSync(fd);
    if (st.uid !== uid || st.gid !== uid) fchownSync(fd, uid, uid);
  } else if (me !== uid) {
    fchmodSync(fd, 0o777);
  }
}

/**
 * Reads a regular file at `relative` under `root` (a folder the agent can
 * write), at most `maxBytes`: no component may be a symlink, the file must be
 * regular (a FIFO, socket or device is refused without blocking), and a file
 * over the cap is refused before it is read. For files the agent hands out
 * (an outbox).
 *
 *   const bytes = readAgentFile(workspace, 'outbox/report.pdf', 25 * 1024 * 1024);
 */
export function readAgentFile(root: string, relative: string, maxBytes: number): Buffer {
  const parts = relative.split('/').filter((p) => p !== '' && p !== '.');
  const shown = join(root, ...parts);
  if (!parts.length || parts.includes('..')) throw new UnsafePathError(shown, `"${relative}" must name a file inside ${root}, without "..".`);
  const dirs: OpenDir[] = [openDir(root)];
  try {
    for (const part of parts.slice(0, -1)) {
      const at = dirs[dirs.length - 1];
      try {
        dirs.push({ fd: openSync(under(at, part), DIR_FLAGS), path: join(at.path, part) });
      } catch (err) {
        throw refusal(join(at.path, part), err);
      }
    }
    let fd: number;
    try {
      fd = openSync(under(dirs[dirs.length - 1], parts[parts.length - 1]), FILE_FLAGS);
    } catch (err) {
      throw refusal(shown, err);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new UnsafePathError(shown, `${shown} is not a regular file (a FIFO, socket, device or folder); only regular files are read.`);
      if (st.size > maxBytes) throw new UnsafePathError(shown, `${shown} is ${st.size} bytes, over the limit of ${maxBytes}; it was not read.`);
      // Read one byte past the size: a file that grows while it is read is refused, not truncated.
      const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
      let got = 0;
      for (let n; got < buf.length && (n = readSync(fd, buf, got, buf.length - got, null)) > 0;) got += n;
      if (got > maxBytes) throw new UnsafePathError(shown, `${shown} grew past the limit of ${maxBytes} bytes while it was read.`);
      return buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  } finally {
    for (const d of dirs) closeDir(d);
  }
}

/** Limits of one outbox read: per file, all files together, and how many files. */
export interface OutboxLimits { maxFileBytes: number; maxTotalBytes: number; maxFiles: number }

/** A file the agent left in its outbox, read and ready to send (name sanitised), or why it is not sent. */
export type OutboxEntry =
  | { ok: true; name: string; original: string; data: Buffer }
  | { ok: false; original: string; reason: string };

/**
 * The files the agent left in `<workspace>/outbox`, read as readAgentFile
 * reads (no link followed, regular files only, a FIFO refused without
 * blocking, each within `maxFileBytes`), in name order. Entries that are not
 * sent (links, folders, FIFOs, files over a limit) come back with the reason,
 * for the agent and the audit log. Names are sanitised (safeFileName) and
 * made unique. A missing outbox is an empty one; an outbox that is itself a
 * symlink or not a folder is refused (UnsafePathError). Reading does not
 * remove anything: the caller clears what it sent.
 *
 *   for (const f of listOutbox(workspace, { maxFileBytes: 25 << 20, maxTotalBytes: 50 << 20, maxFiles: 10 })) ...
 */
export function listOutbox(workspace: string, limits: OutboxLimits): OutboxEntry[] {
  const box = openOutbox(workspace);
  if (!box) return [];
  try {
    const names = readdirSync(pathOf(box)).sort();
    const out: OutboxEntry[] = [];
    const used = new Set<string>();
    let total = 0;
    for (const original of names) {
      if (out.filter((e) => e.ok).length >= limits.maxFiles) {
        out.push({ ok: false, original, reason: `more than ${limits.maxFiles} files in the outbox; send the rest in another turn` });
        continue;
      }
      let data: Buffer;
      try {
        // readAgentFile opens the outbox again by name under the workspace; a swap of it since is refused there.
        data = readAgentFile(workspace, `outbox/${original}`, Math.min(limits.maxFileBytes, limits.maxTotalBytes - total));
      } catch (err) {
        out.push({ ok: false, original, reason: (err as Error).message.replaceAll(workspace, '/workspace') });
        continue;
      }
      total += data.length;
      const safe = safeFileName(original);
      let name = safe;
      for (let n = 2; used.has(name); n++) name = `${n}-${safe}`;
      used.add(name);
      out.push({ ok: true, name, original, data });
    }
    return out;
  } finally {
    closeDir(box);
  }
}

/** `<workspace>/outbox` opened without following a link; undefined when there is none. */
function openOutbox(workspace: string): OpenDir | undefined {
  const ws = openDir(workspace);
  try {
    return { fd: openSync(under(ws, 'outbox'), DIR_FLAGS), path: join(workspace, 'outbox') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw refusal(join(workspace, 'outbox'), err);
  } finally {
    closeDir(ws);
  }
}

/**
 * Removes sent files from `<workspace>/outbox` by name, through the opened
 * outbox (a swapped outbox is refused, not followed); an entry the agent
 * replaced meanwhile is unlinked as whatever it now is (unlink never follows
 * a link), and one already gone is skipped.
 */
export function removeFromOutbox(workspace: string, names: string[]): void {
  const box = names.length ? openOutbox(workspace) : undefined;
  if (!box) return;
  try {
    for (const name of names) {
      if (name.includes('/') || name === '.' || name === '..') continue;
      try { unlinkSync(under(box, name)); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
    }
  } finally {
    closeDir(box);
  }
}

/**
 * Deletes a conversation's folder and everything in it, following no link:
 * a symlink inside is removed as a link, and the folder it points to (a host
 * folder the agent named) is left as it was; FIFOs are unlinked, never
 * opened. Node's rmSync works on lstat, which the planted-links tests check.
 * The caller stops the container first, so nothing is swapped while it runs.
 */
export function removeTree(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isDirectory()) throw new UnsafePathError(path, `${path} is not a folder (a symlink?); it was not deleted.`);
  rmSync(path, { recursive: true, force: true });
}

function refusal(path: string, err: unknown): UnsafePathError {
  const code = (err as NodeJS.ErrnoException).code;
  let linked = false;
  try { linked = lstatSync(path).isSymbolicLink(); } catch { /* gone, or its parent is not a folder */ }
  // O_NOFOLLOW on a symlink fails with ELOOP; with O_DIRECTORY Linux says ENOTDIR.
  if (linked || code === 'ELOOP') return new UnsafePathError(path, `${path} is a symlink; it is never followed.`, { cause: err });
  if (code === 'ENOTDIR') return new UnsafePathError(path, `${path} (or a folder above it) is not a folder.`, { cause: err });
  if (code === 'ENOENT') return new UnsafePathError(path, `${path} does not exist.`, { cause: err });
  return new UnsafePathError(path, `Cannot open ${path}: ${(err as Error).message}`, { cause: err });
}
