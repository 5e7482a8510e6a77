import { lstatSync, opendirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { closeDir, openDir, pathOf, type OpenDir } from '../inbox/safe-fs.ts';

/**
 * What a memory work tree may hold for the host to commit it. The agent
 * writes the tree, and `git add` runs on the host as root: git stores a
 * symlink as a link (it never follows one out of the tree) and skips most
 * special files, but it blocks forever opening a FIFO named .gitattributes,
 * and it reads and compresses a file of any size. So the tree is checked
 * first, without following anything, and git runs under a timeout as well
 * (the agent could swap a file between the check and git's read).
 */
export const MEMORY_LIMITS = {
  /** Memory is notes, not a data store: larger files belong in the workspace. */
  maxFileBytes: 10 * 1024 * 1024,
  maxTotalBytes: 100 * 1024 * 1024,
  maxEntries: 10_000,
  maxDepth: 32,
  /** For git itself, a backstop for swaps after the check. */
  gitTimeoutMs: 60_000,
};

export type MemoryLimits = typeof MEMORY_LIMITS;

/** Thrown when the work tree holds something the host refuses to commit; the message says what and how to fix it. */
export class MemoryCommitRefused extends Error {
  override name = 'MemoryCommitRefused';
}

/**
 * Walks the work tree (lstat only, every folder opened with O_NOFOLLOW) and
 * throws MemoryCommitRefused at the first FIFO, socket or device, file over
 * the size cap, or when the tree is too big or deep. Symlinks are fine:
 * git records them as links.
 *
 *   checkWorkTree('/home/me/.nanoclaw/memory/conv-1');   // throws on /memory/big.bin over 10 MiB
 */
export function checkWorkTree(root: string, limits: MemoryLimits = MEMORY_LIMITS): void {
  let entries = 0;
  let total = 0;
  const refuse = (what: string) => new MemoryCommitRefused(`Memory was not committed: ${what}. Fix it in /memory; the next turn commits again.`);
  const top = openDir(root);
  try {
    visit(top, '/memory', 0);
  } finally {
    closeDir(top);
  }

  function visit(dir: OpenDir, shown: string, depth: number): void {
    if (depth > limits.maxDepth) throw refuse(`${shown} is nested more than ${limits.maxDepth} folders deep`);
    const base = pathOf(dir);
    // Read one entry at a time: a folder with millions of names is refused at the cap, not listed whole.
    const listing = opendirSync(base);
    try {
      for (let entry; (entry = listing.readSync());) check(base, entry.name, shown, depth);
    } finally {
      listing.closeSync();
    }
  }

  function check(base: string, name: string, shown: string, depth: number): void {
    if (++entries > limits.maxEntries) throw refuse(`it holds more than ${limits.maxEntries} files and folders`);
    const path = `${shown}/${name}`;
    const st = lstatSync(join(base, name));
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      const child = openDir(join(base, name));
      try { visit(child, path, depth + 1); } finally { closeDir(child); }
    } else if (st.isFile()) {
      if (st.size > limits.maxFileBytes) throw refuse(`${path} is ${st.size} bytes, over the ${limits.maxFileBytes}-byte limit per file`);
      total += st.size;
      if (total > limits.maxTotalBytes) throw refuse(`its files are over ${limits.maxTotalBytes} bytes in all`);
    } else {
      throw refuse(`${path} is a ${kind(st)}; memory keeps only files, folders and symlinks`);
    }
  }
}

function kind(st: Stats): string {
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'device';
  return 'special file';
}
