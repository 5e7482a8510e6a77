import { closeSync, constants, copyFileSync, existsSync, fstatSync, lstatSync, openSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * File names that come from chat services (attachment names, uploads) and
 * the folder they land in. Such a name is written by whoever sent the
 * message, so it is hostile until proven otherwise: it may climb out of the
 * folder (`../../etc/passwd`), hide (`.bashrc`), disguise its type with a
 * right-to-left override (`\u202Etxt.exe` shows as `exe.txt`), pass an
 * option to the agent's shell commands (`-rf`), or be too long for the file
 * system. Every name passes through here before it touches the disk
 * (inbox.ts writes a message's attachments with it).
 *
 *   const path = writeAttachment(join(workspace, 'inbox'), upload.fileName, bytes, config.channels.maxAttachmentBytes);
 */

/**
 * Thrown when an attachment cannot be stored; the message says why and names
 * the file (and, except for `too_large`, the host path: for the log, not the
 * sender). `kind` tells the caller what to do with it:
 * - `too_large`: tell the sender, nothing else happened;
 * - `unsafe_inbox`: the inbox is a symlink, not a folder, or resolves outside
 *   its root; the agent may have tampered with it: audit it;
 * - `failed`: anything else (missing inbox, disk full, ...).
 */
export class AttachmentError extends Error {
  override name = 'AttachmentError';
  constructor(readonly kind: 'too_large' | 'unsafe_inbox' | 'failed', message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Longest stored name, in UTF-8 bytes: well under every file system's 255, leaving room for " (n)". */
export const MAX_NAME_BYTES = 100;
/** Longest suffix kept as the extension when a long name is shortened. */
const MAX_EXT_BYTES = 16;

// C0 and C1 controls, DEL, bidi embeddings/overrides/isolates and marks,
// zero-width characters and the BOM: invisible, or they change how the rest
// of the name is displayed.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/gu;
// Kept: letters, combining marks, digits, space and a few punctuation marks
// that are harmless in a shell word; emoji (with their joiners and modifiers)
// so names stay readable. Everything else becomes "_".
const UNSAFE = /[^\p{L}\p{M}\p{N} ._\-()+@=,\p{Extended_Pictographic}\p{Emoji_Modifier}\p{Regional_Indicator}\ufe0f\u200d]/gu;
// A joiner only means something between emoji; elsewhere it is an invisible character.
const STRAY_JOINER = /(?<![\p{Extended_Pictographic}\p{Emoji_Modifier}\ufe0f])\u200d|\u200d(?![\p{Extended_Pictographic}])/gu;
// Windows refuses these as a name, with or without an extension; files here may end up on Windows.
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\.|$)/i;

/**
 * A harmless, still readable version of `name`: its last path component
 * (`/` or `\`), without invisible characters, leading dots or dashes, or
 * trailing dots and spaces, with unsafe characters as `_`, never a Windows
 * reserved name, and at most 100 UTF-8 bytes with the extension kept.
 * An empty result gives `fallback`.
 *
 *   safeFileName('../../etc/passwd')   // 'passwd'
 *   safeFileName('\u202Etxt.exe')      // 'txt.exe'
 */
export function safeFileName(name: string, fallback = 'file'): string {
  const last = String(name ?? '').split(/[/\\]/).filter((part) => part !== '').pop() ?? '';
  let clean = last.normalize('NFC')
    .replace(INVISIBLE, '')
    .replace(STRAY_JOINER, '')
    .replace(UNSAFE, '_')
    // No hidden files, no "." or "..", nothing a shell command would read as an option.
    .replace(/^[.\s]+/u, '')
    .replace(/^-/, '_')
    .replace(/[.\s]+$/u, '');
  if (WINDOWS_RESERVED.test(clean)) clean = `_${clean}`;
  clean = fitName(clean);
  if (clean !== '') return clean;
  return fallback === 'file' ? 'file' : safeFileName(fallback);
}

/**
 * Where an attachment called `name` goes: its safe name directly inside
 * `inboxDir`, as `name (2).ext`, `name (3).ext` ... when taken (a dangling
 * symlink counts as taken). Creates nothing. Throws if the inbox is missing,
 * is a symlink, or the result would not be directly inside it.
 *
 *   inboxPathFor('/ws/inbox', '../../etc/passwd')   // '/ws/inbox/passwd'
 */
export function inboxPathFor(inboxDir: string, name: string): string {
  const inbox = resolve(inboxDir);
  checkInbox(inbox);
  const chosen = freeName(inbox, safeFileName(name));
  const path = join(inbox, chosen);
  // Belt and braces: safeFileName already removed separators and dot names.
  if (dirname(path) !== inbox || basename(path) !== chosen || chosen === '.' || chosen === '..') {
    throw new AttachmentError('failed', `Refusing attachment name "${printable(name)}": it does not stay directly inside ${inbox}.`);
  }
  return path;
}

/**
 * Stores `data` as a new file in `inboxDir` (name as in `inboxPathFor`) and
 * returns its path. Never follows or overwrites anything already there: the
 * file is created with O_EXCL, which fails on any existing entry, symlinks
 * included. Data over `maxBytes` is refused before anything is written.
 *
 * The inbox usually sits in a workspace the container can write, so the
 * agent could swap it for a symlink to a host folder. The inbox is therefore
 * opened with O_NOFOLLOW, and on Linux the file is created through that open
 * folder (/proc/self/fd), so a swap after the check cannot redirect it. Pass
 * `root` (the workspace) to also require that the inbox resolves inside it,
 * which covers a swapped parent folder.
 *
 * `data` may instead name a file of the host's attachment store
 * (`{ source }`): it is copied by the kernel (no whole-file buffer), into a
 * file created with O_EXCL as above.
 *
 *   writeAttachment(join(ws, 'inbox'), 'report.pdf', bytes, 25 * 1024 * 1024, { root: ws });
 *   writeAttachment(join(ws, 'inbox'), 'photo.jpg', { source: '/home/.nanoclaw/attachments/c-1/7/1-photo.jpg' }, limit, { root: ws });
 */
export function writeAttachment(inboxDir: string, name: string, data: Buffer | { source: string }, maxBytes: number, opts: { root?: string } = {}): string {
  const display = printable(name);
  const size = Buffer.isBuffer(data) ? data.length : sourceSize(data.source, display);
  if (size > maxBytes) {
    throw new AttachmentError('too_large', `Attachment "${display}" is ${formatBytes(size)}, over the limit of ${formatBytes(maxBytes)}; it was not saved. Send a smaller file or raise the limit.`);
  }
  const inbox = resolve(inboxDir);
  let fd: number;
  try {
    fd = openSync(inbox, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const problem = inboxProblem(inbox, err);
    throw new AttachmentError(problem.kind, `Cannot store "${display}": ${problem.text}`, { cause: err });
  }
  try {
    // The open folder, immune to renames and symlink swaps of its path from now on.
    const viaFd = `/proc/self/fd/${fd}`;
    const base = existsSync(viaFd) ? viaFd : inbox;
    const actual = realpathSync(base);
    const expected = opts.root ? realpathSync(opts.root) : realpathSync(dirname(inbox));
    if (opts.root ? !(actual === expected || actual.startsWith(expected + '/')) : dirname(actual) !== expected) {
      throw new AttachmentError('unsafe_inbox', `Cannot store "${display}": the inbox ${inbox} resolves to ${actual}, outside ${opts.root ?? dirname(inbox)}; a symlink may have been planted. Nothing was written.`);
    }
    const safe = safeFileName(name);
    for (let attempt = 0; attempt < 20; attempt++) {
      const chosen = freeName(base, safe);
      try {
        // COPYFILE_EXCL opens the target with O_CREAT | O_EXCL, which no existing entry (a symlink included) survives.
        if (Buffer.isBuffer(data)) writeFileSync(join(base, chosen), data, { flag: 'wx', mode: 0o644 });
        else copyFileSync(data.source, join(base, chosen), constants.COPYFILE_EXCL);
        return join(inbox, chosen);
      } catch (err) {
        // Someone created that name between the check and the write: pick the next one.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new AttachmentError('failed', `Cannot store "${display}" in ${inbox}: ${(err as Error).message}`, { cause: err });
      }
    }
    throw new AttachmentError('failed', `Cannot store "${display}" in ${inbox}: its name kept being taken while writing.`);
  } finally {
    closeSync(fd);
  }
}

/** The size of a stored attachment file; a missing one (deleted meanwhile) is a clear failure. */
function sourceSize(source: string, display: string): number {
  let fd: number;
  try {
    fd = openSync(source, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw new AttachmentError('failed', `The stored copy of "${display}" cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); it was not saved. Send it again.`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new AttachmentError('failed', `The stored copy of "${display}" is not a regular file; it was not saved.`);
    return st.size;
  } finally {
    closeSync(fd);
  }
}

function checkInbox(inbox: string): void {
  let st;
  try {
    st = lstatSync(inbox);
  } catch (err) {
    const problem = inboxProblem(inbox, err);
    throw new AttachmentError(problem.kind, problem.text, { cause: err });
  }
  if (st.isSymbolicLink()) throw new AttachmentError('unsafe_inbox', `The inbox ${inbox} is a symlink; attachments are only written to a real folder.`);
  if (!st.isDirectory()) throw new AttachmentError('unsafe_inbox', `The inbox ${inbox} is not a folder.`);
}

function inboxProblem(inbox: string, err: unknown): { kind: AttachmentError['kind']; text: string } {
  const code = (err as NodeJS.ErrnoException).code;
  // O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR on Linux, ELOOP elsewhere.
  if (taken(inbox) && lstatSync(inbox).isSymbolicLink()) return { kind: 'unsafe_inbox', text: `the inbox ${inbox} is a symlink; attachments are only written to a real folder.` };
  if (code === 'ENOENT') return { kind: 'failed', text: `the inbox ${inbox} does not exist; create it before storing attachments.` };
  if (code === 'ENOTDIR') return { kind: 'unsafe_inbox', text: `the inbox ${inbox} is not a folder.` };
  return { kind: 'failed', text: `the inbox ${inbox} cannot be opened: ${(err as Error).message}` };
}

/** `safe`, or `stem (n).ext` for the first n from 2 whose name is not taken in `dir`. */
function freeName(dir: string, safe: string): string {
  const { stem, ext } = splitExtension(safe);
  for (let n = 1; n <= 10_000; n++) {
    const candidate = n === 1 ? safe : fitName(stem, ext, ` (${n})`);
    if (!taken(join(dir, candidate))) return candidate;
  }
  throw new AttachmentError('failed', `Too many files named like "${safe}" in ${dir}; clear the inbox.`);
}

/** lstat, not exists: a dangling symlink is taken too. */
function taken(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function splitExtension(name: string): { stem: string; ext: string } {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return { stem: name, ext: '' };
  const ext = name.slice(dot);
  if (Buffer.byteLength(ext) > MAX_EXT_BYTES || /\s/.test(ext)) return { stem: name, ext: '' };
  return { stem: name.slice(0, dot), ext };
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * `stem + suffix + ext` within MAX_NAME_BYTES, shortening the stem by whole
 * characters as the eye sees them (an emoji or accented letter is never cut
 * in half). With only `name`, its own extension is kept.
 */
function fitName(name: string, ext?: string, suffix = ''): string {
  let stem = name;
  if (ext === undefined) ({ stem, ext } = splitExtension(name));
  const room = MAX_NAME_BYTES - Buffer.byteLength(ext) - Buffer.byteLength(suffix);
  if (Buffer.byteLength(stem) > room) {
    let kept = '';
    let bytes = 0;
    for (const { segment } of graphemes.segment(stem)) {
      const size = Buffer.byteLength(segment);
      if (bytes + size > room) break;
      kept += segment;
      bytes += size;
    }
    // A single "character" longer than the room (a letter under hundreds of
    // combining marks) is cut by code points instead.
    if (kept === '') for (const ch of stem) { if (Buffer.byteLength(kept + ch) > room) break; kept += ch; }
    stem = kept.replace(/[.\s]+$/u, '');
  }
  if (stem === '' && suffix === '') return '';
  return stem + suffix + ext;
}

/** Exact, so two sizes near the limit never print the same; rounded beside it for the eye. */
function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${n} bytes (${(n / 1024).toFixed(1)} KiB)`;
  return `${n} bytes (${(n / 1024 / 1024).toFixed(1)} MiB)`;
}

/** A name as it can be shown in a message: control characters as escapes. */
function printable(text: string): string {
  return JSON.stringify(String(text)).slice(1, -1).replace(/[\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}
