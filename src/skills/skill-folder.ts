import { closeSync, constants, fstatSync, lstatSync, openSync, opendirSync, readSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { closeDir, openDir, pathOf, under, UnsafePathError, type OpenDir } from '../inbox/safe-fs.ts';
import { parseSkillMd, SKILL_MD, SKILL_MD_MAX, SkillFormatError, type SkillManifest } from './skill-format.ts';

/**
 * Reads a skill folder the agent drafted in its workspace, which it may have
 * laid out to hurt: symlinks to host files, FIFOs that block a reader, huge
 * or endless files, thousands of entries, a `.claude-plugin` folder that
 * would turn the skill into configuration. Every folder is opened with
 * O_NOFOLLOW | O_DIRECTORY and every name under the open folder (safe-fs),
 * each entry is lstat-ed before it is opened (a device is never opened) and
 * fstat-ed after (a swap in between is refused), and each file is read with
 * a bounded read of at most its limit + 1 bytes, whatever stat said.
 *
 *   const draft = readSkillFolder(workspaceHostPath, '/workspace/skills/web-research');
 *   draft.manifest.name; draft.files.map((f) => f.path);
 */

/** One file of a skill: its path inside the skill folder ('/'-separated), exec bit and bytes. */
export interface SkillFile { path: string; exec: boolean; data: Buffer }

/** A skill folder as read: its files (sorted by path) and its checked SKILL.md. */
export interface SkillDraft { name: string; files: SkillFile[]; manifest: SkillManifest }

/** Bounds of one skill folder. */
export const SKILL_LIMITS = { files: 64, depth: 4, fileBytes: 256 * 1024, totalBytes: 1024 * 1024, entries: 256, nameLength: 128 } as const;

/** A draft that cannot be taken as it is; the message says what to change, in the agent's paths. */
export class SkillFolderError extends Error {
  override name = 'SkillFolderError';
}

/** Where the agent's workspace appears inside its container. */
const WORKSPACE_IN_CONTAINER = '/workspace';
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Reads and checks the skill folder at `path` (`/workspace/skills/x` as the
 * agent sees it, or relative to the workspace) under `workspaceRoot` (the
 * host path of that workspace). Throws SkillFolderError or SkillFormatError
 * with a message a model can act on; paths in it are the agent's.
 */
export function readSkillFolder(workspaceRoot: string, path: string, shownRoot = WORKSPACE_IN_CONTAINER): SkillDraft {
  let rel = path.trim();
  if (rel === WORKSPACE_IN_CONTAINER || rel.startsWith(`${WORKSPACE_IN_CONTAINER}/`)) rel = rel.slice(WORKSPACE_IN_CONTAINER.length);
  else if (rel.startsWith('/')) throw new SkillFolderError(`"${path}" is outside ${WORKSPACE_IN_CONTAINER}; draft the skill in your workspace (e.g. ${WORKSPACE_IN_CONTAINER}/skills/my-skill) and propose that folder.`);
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (!parts.length) throw new SkillFolderError(`"${path}" names the workspace itself; give the skill's own folder, e.g. ${WORKSPACE_IN_CONTAINER}/skills/my-skill.`);
  for (const p of parts) checkName(p, `${shownRoot}/${parts.join('/')}`);

  const held: OpenDir[] = [];
  const shown = (...more: string[]) => [shownRoot, ...more].join('/');
  try {
    held.push(open(() => openDir(workspaceRoot), shownRoot));
    for (let i = 0; i < parts.length; i++) {
      const at = held[held.length - 1];
      held.push(open(() => ({ fd: openSync(under(at, parts[i]), DIR_FLAGS), path: join(at.path, parts[i]) }), shown(...parts.slice(0, i + 1))));
    }
    const folder = parts[parts.length - 1];
    const files: SkillFile[] = [];
    const budget = { entries: 0, bytes: 0 };
    walk(held[held.length - 1], [], files, budget, shown(...parts));
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const skillMd = files.find((f) => f.path === SKILL_MD);
    if (!skillMd) throw new SkillFolderError(`${shown(...parts)} has no ${SKILL_MD}; a skill is a folder holding ${SKILL_MD} (front matter with name and description, then instructions).`);
    if (skillMd.data.length > SKILL_MD_MAX) throw new SkillFolderError(`${shown(...parts, SKILL_MD)} is over ${SKILL_MD_MAX / 1024} KiB; move long material into other files and point to them.`);
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
    let md: string;
    try { md = text.decode(skillMd.data); } catch { throw new SkillFolderError(`${shown(...parts, SKILL_MD)} is not UTF-8 text.`); }
    const manifest = parseSkillMd(md, folder, shown(...parts, SKILL_MD));
    return { name: manifest.name, files, manifest };
  } finally {
    for (const d of held) closeDir(d);
  }
}

/**
 * Reads a skill folder on the owner's host (`nanoclaw skills install`) with
 * the same rules: the owner's folder may hold a download from anywhere.
 */
export function readHostSkillFolder(folder: string): SkillDraft {
  const clean = folder.replace(/\/+$/, '');
  const i = clean.lastIndexOf('/');
  if (i < 0) throw new SkillFolderError(`"${folder}" must be an absolute path.`);
  return readSkillFolder(clean.slice(0, i) || '/', clean.slice(i + 1), clean.slice(0, i));
}

function walk(dir: OpenDir, at: string[], files: SkillFile[], budget: { entries: number; bytes: number }, shown: string): void {
  // opendir reads entries in batches: a folder of a million names is refused after the bound, not listed whole.
  const listing = opendirSync(pathOf(dir));
  const names: string[] = [];
  try {
    for (let e; (e = listing.readSync());) {
      if (++budget.entries > SKILL_LIMITS.entries) throw new SkillFolderError(`${shown} holds more than ${SKILL_LIMITS.entries} files and folders; a skill has at most ${SKILL_LIMITS.files} files.`);
      names.push(e.name);
    }
  } finally {
    listing.closeSync();
  }
  for (const name of names.sort()) {
    const rel = [...at, name];
    const where = [shown, ...rel].join('/');
    checkName(name, where);
    const path = under(dir, name);
    let st: Stats;
    try { st = lstatSync(path); } catch (err) { throw new SkillFolderError(`${where} could not be read (${(err as NodeJS.ErrnoException).code}); was it removed while being proposed?`); }
    if (st.isSymbolicLink()) throw new SkillFolderError(`${where} is a symlink; a skill holds only regular files and folders. Copy the file in instead.`);
    if (st.isDirectory()) {
      if (rel.length > SKILL_LIMITS.depth) throw new SkillFolderError(`${where} is nested more than ${SKILL_LIMITS.depth} folders deep; flatten the skill.`);
      const sub = open(() => ({ fd: openSync(path, DIR_FLAGS), path: join(dir.path, name) }), where);
      try {
        same(st, fstatSync(sub.fd), where);
        walk(sub, rel, files, budget, shown);
      } finally {
        closeDir(sub);
      }
      continue;
    }
    if (!st.isFile()) throw new SkillFolderError(`${where} is a ${kind(st)}; a skill holds only regular files and folders.`);
    if (files.length >= SKILL_LIMITS.files) throw new SkillFolderError(`${shown} has more than ${SKILL_LIMITS.files} files; a skill may have at most ${SKILL_LIMITS.files}.`);
    const limit = Math.min(SKILL_LIMITS.fileBytes, SKILL_LIMITS.totalBytes - budget.bytes);
    const data = readBounded(path, st, limit, where);
    budget.bytes += data.length;
    files.push({ path: rel.join('/'), exec: (st.mode & 0o100) !== 0, data });
  }
}

/** At most `limit` bytes of the regular file at `path`; reading limit + 1 tells a file that is (or grew) too big. */
function readBounded(path: string, st: Stats, limit: number, where: string): Buffer {
  let fd: number;
  try { fd = openSync(path, FILE_FLAGS); } catch (err) { throw new SkillFolderError(`${where} could not be opened (${(err as NodeJS.ErrnoException).code}); it must be a regular file, not a link.`); }
  try {
    const now = fstatSync(fd);
    same(st, now, where);
    if (!now.isFile()) throw new SkillFolderError(`${where} is a ${kind(now)}; a skill holds only regular files and folders.`);
    const buf = Buffer.alloc(limit + 1);
    let got = 0;
    for (let n; got < buf.length && (n = readSync(fd, buf, got, buf.length - got, null)) > 0;) got += n;
    if (got > limit) {
      throw new SkillFolderError(limit < SKILL_LIMITS.fileBytes
        ? `${where} takes the skill over ${SKILL_LIMITS.totalBytes / 1024} KiB in all; a skill is at most ${SKILL_LIMITS.totalBytes / 1024} KiB.`
        : `${where} is over ${SKILL_LIMITS.fileBytes / 1024} KiB; each file of a skill is at most ${SKILL_LIMITS.fileBytes / 1024} KiB.`);
    }
    return Buffer.from(buf.subarray(0, got));
  } finally {
    closeSync(fd);
  }
}

/** Refuses names that would hide something or escape: dotfiles (.claude-plugin, .git), "..", "/", NUL and control characters. */
function checkName(name: string, where: string): void {
  if (name.startsWith('.')) throw new SkillFolderError(`${where}: "${name}" starts with a dot; hidden files and folders are not allowed in a skill (nothing like .claude-plugin may ride along). Remove or rename it.`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f/\\]/.test(name)) throw new SkillFolderError(`${where}: a name holds a control character, "/" or "\\"; use plain file names.`);
  if (name.length > SKILL_LIMITS.nameLength) throw new SkillFolderError(`${where}: the name "${name.slice(0, 40)}…" is over ${SKILL_LIMITS.nameLength} characters.`);
}

function same(before: Stats, after: Stats, where: string): void {
  if (before.ino !== after.ino || before.dev !== after.dev) throw new SkillFolderError(`${where} changed while it was read; propose it again once it is written.`);
}

function open(fn: () => OpenDir, where: string): OpenDir {
  try {
    return fn();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof UnsafePathError) throw new SkillFolderError(err.message.replace(err.path, where), { cause: err });
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new SkillFolderError(`${where} is not a folder (a symlink, or a file); the skill must be a real folder in the workspace.`, { cause: err });
    if (code === 'ENOENT') throw new SkillFolderError(`${where} does not exist; draft the skill there first (a folder holding ${SKILL_MD}).`, { cause: err });
    throw new SkillFolderError(`${where} could not be opened: ${(err as Error).message}`, { cause: err });
  }
}

function kind(st: Stats): string {
  return st.isFIFO() ? 'FIFO' : st.isSocket() ? 'socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'device' : st.isSymbolicLink() ? 'symlink' : 'special file';
}

export { SkillFormatError };
