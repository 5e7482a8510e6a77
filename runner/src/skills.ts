import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** Largest index.json read; a bigger one is broken (200 skills with long descriptions fit in a quarter of it). */
export const MAX_INDEX_BYTES = 256 * 1024;
/** Most skills one container is offered. */
export const MAX_SKILLS = 200;

/** One approved, enabled skill as the host's index names it: its folder is `<dir>/skills/<name>/`. */
export interface Skill {
  name: string;
  description: string;
  /** The approved version's content hash: a changed hash is a changed skill. */
  hash: string;
}

const SkillEntry = z.object({
  // The folder's name, so never a path: no dots, no slashes.
  name: z.string().regex(/^[a-z0-9-]{1,64}$/, 'a skill name is 1-64 of a-z, 0-9 and -'),
  description: z.string().max(1024),
  hash: z.string().min(1).max(128),
});

const SkillIndexFile = z.object({
  skills: z.array(SkillEntry).max(MAX_SKILLS),
}).refine((index) => new Set(index.skills.map((s) => s.name)).size === index.skills.length, 'a skill is named twice');

/**
 * The skills the owner approved for this container, from the index the host
 * writes into the read-only skills folder (`/skills/index.json`, replaced
 * atomically after the skill folders are in place). The folder changes while
 * the container runs (the owner approves a skill), so callers read it at the
 * start of each turn, never once for the container's life.
 *
 * The host writes it, but it sits in a folder the agent reads: it is still
 * read as untrusted, never through a link, never a FIFO or device, bounded
 * in bytes and entries, every field checked. A missing folder or index means
 * no skills; anything else wrong means no skills and a `problem` saying why.
 *
 *   const { skills, problem } = readSkillIndex('/skills');
 *   if (problem) log('warn', problem);
 */
export function readSkillIndex(dir: string): { skills: Skill[]; problem?: string } {
  const file = join(dir, 'index.json');
  try {
    // A link planted for the folder itself would lead the engines elsewhere.
    if (lstatSync(dir).isSymbolicLink()) return broken(`${dir} is a link`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { skills: [] };
    return broken(`${dir} cannot be read (${(err as Error).message})`);
  }
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { skills: [] };
    if (code === 'ELOOP') return broken(`${file} is a link`);
    return broken(`${file} cannot be opened (${(err as Error).message})`);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return broken(`${file} is not a regular file`);
    if (st.size > MAX_INDEX_BYTES) return broken(`${file} is ${st.size} bytes, over the ${MAX_INDEX_BYTES}-byte bound`);
    // Read one byte past the bound: a file that grew after fstat is caught too.
    const buf = Buffer.alloc(MAX_INDEX_BYTES + 1);
    let read = 0;
    for (let n; read < buf.length && (n = readSync(fd, buf, read, buf.length - read, read)) > 0;) read += n;
    if (read > MAX_INDEX_BYTES) return broken(`${file} is over the ${MAX_INDEX_BYTES}-byte bound`);
    text = buf.subarray(0, read).toString('utf8');
  } catch (err) {
    return broken(`${file} cannot be read (${(err as Error).message})`);
  } finally {
    closeSync(fd);
  }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { return broken(`${file} is not JSON`); }
  const parsed = SkillIndexFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return broken(`${file} does not match the index format (${issue.path.join('.') || 'index'}: ${issue.message})`);
  }
  return { skills: parsed.data.skills };
}

function broken(why: string): { skills: Skill[]; problem: string } {
  return { skills: [], problem: `no skills are offered: ${why}` };
}

/**
 * Reads the index for an engine, turn by turn, and tells the engine's log
 * about a broken index once (not on every turn it stays broken; again once
 * it changes or after it was fixed and broke anew).
 *
 *   const index = new SkillIndexReader('/skills', (text) => events.log('warn', text));
 *   const skills = index.read();   // at the start of each turn
 */
export class SkillIndexReader {
  private lastProblem?: string;

  constructor(readonly dir: string, private readonly warn: (text: string) => void) {}

  read(): Skill[] {
    const { skills, problem } = readSkillIndex(this.dir);
    if (problem && problem !== this.lastProblem) this.warn(problem);
    this.lastProblem = problem;
    return skills;
  }
}

/** What identifies a set of skills: names and approved versions, so a session can tell it was opened with other skills. */
export function skillSetKey(skills: Skill[]): string {
  return skills.map((s) => `${s.name}@${s.hash}`).sort().join('\n');
}
