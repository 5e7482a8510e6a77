import { createHash } from 'node:crypto';
import type { SkillFile } from './skill-folder.ts';

/**
 * The content hash that names a skill version. SHA-256 over this encoding:
 * the line `nanoclaw-skill-v1\n`, then for each file in ascending byte order
 * of its UTF-8 path: the path, NUL, `x` (executable) or `-`, NUL, the length
 * in decimal, NUL, the bytes. The length prefix keeps one file's bytes from
 * passing for the next one's header, and folders count only through their
 * files (an empty folder is not part of a skill). Two folders with the same
 * files, exec bits and bytes have the same hash, wherever and whenever read.
 *
 *   const hash = skillHash(draft.files);   // 64 hex
 *   shortHash(hash);                       // first 12, for people
 */
export function skillHash(files: readonly SkillFile[]): string {
  const h = createHash('sha256');
  h.update('nanoclaw-skill-v1\n');
  const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  for (const f of sorted) {
    h.update(f.path);
    h.update(`\0${f.exec ? 'x' : '-'}\0${f.data.length}\0`);
    h.update(f.data);
  }
  return h.digest('hex');
}

/** The first 12 hex digits: what people read and type (`nanoclaw skills rollback x 3f2a9c01b2d4`). */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}
