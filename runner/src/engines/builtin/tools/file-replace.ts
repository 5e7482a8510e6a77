import { randomBytes } from 'node:crypto';
import { chmod, lstat, open, readlink, realpath, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * How write and edit change a file: the path is checked without following
 * a link first, and the new content lands by rename, so a reader never sees
 * half a file and a failed write leaves the old one whole.
 *
 * A link is followed only to a regular file, and then its target's content
 * is replaced (the link stays a link): a planted link to a folder, a device
 * or nowhere is refused rather than written through by surprise.
 *
 *   const t = await fileTarget('/workspace/a.txt');
 *   if ('refused' in t) ...; else await replaceFile(t.path, 'hello\n', t.mode);
 */
export type FileTarget =
  | { path: string; exists: false }
  | { path: string; exists: true; mode: number; size: number; via?: string }
  | { refused: string };

export async function fileTarget(full: string): Promise<FileTarget> {
  let info;
  try {
    info = await lstat(full);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { path: full, exists: false };
    return { refused: `Cannot use ${full}: ${(e as Error).message}` };
  }
  if (info.isFile()) return { path: full, exists: true, mode: info.mode & 0o7777, size: info.size };
  if (info.isDirectory()) return { refused: `${full} is a folder, not a file.` };
  if (!info.isSymbolicLink()) return { refused: `${full} is not a regular file (a pipe, device or socket); only regular files are written.` };

  const link = await readlink(full).catch(() => '?');
  let real: string;
  try {
    real = await realpath(full);
  } catch {
    return { refused: `${full} is a symbolic link to ${link}, which does not exist; files are not created through links. Write to the real path if that is what you mean.` };
  }
  const target = await lstat(real);
  if (!target.isFile()) return { refused: `${full} is a symbolic link to ${real}, which is not a regular file; only a link to a regular file is written through.` };
  return { path: real, exists: true, mode: target.mode & 0o7777, size: target.size, via: full };
}

/**
 * Writes `data` to a temporary file beside `path`, flushes it, then renames
 * it over `path`. `mode` keeps an existing file's permissions.
 */
export async function replaceFile(path: string, data: string | Buffer, mode?: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temp, 'wx', mode ?? 0o666);
  try {
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    if (mode !== undefined) await chmod(temp, mode); // the umask may have dropped bits the old file had
    await rename(temp, path);
  } catch (e) {
    await unlink(temp).catch(() => {});
    throw e;
  }
}
