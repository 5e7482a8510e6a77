import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { defineTool } from './define-tool.ts';
import { resolveToolPath } from './tool-path.ts';

const MAX_LINES = 2000;
const MAX_CHARS = 50_000;
/** A longer line is shown cut: minified files and data dumps would otherwise fill the whole allowance. */
const MAX_LINE_CHARS = 2000;
const BINARY_SNIFF_BYTES = 8192;

/**
 * `read`: lines of a text file, numbered, a bounded window per call. Only
 * regular files are opened: a FIFO or a device would block the turn or read
 * for ever, so the path is checked first and the open itself never waits
 * (O_NONBLOCK), with the opened file checked again in case it was swapped.
 *
 *   await readTool.run({ path: 'src/a.ts', offset: 2001 }, ctx);   // lines 2001-4000, numbered
 */
export const readTool = defineTool({
  name: 'read',
  description:
    `Read a text file: returns its lines numbered from 1 (number, tab, line). At most ${MAX_LINES} lines and ${MAX_CHARS} characters per call; ` +
    'the answer says where to continue (offset). Lines longer than 2000 characters are shown cut. ' +
    'Relative paths are against the workspace. Refuses folders (use glob), binary files and special files. ' +
    'Read a file before editing it; use grep to find where something is first when the file is large.',
  schema: z.object({
    path: z.string().min(1).describe('File to read, absolute or relative to the workspace.'),
    offset: z.number().int().min(1).optional().describe('First line to show, counting from 1; default 1.'),
    limit: z.number().int().min(1).max(MAX_LINES).optional().describe(`How many lines to show; default and most ${MAX_LINES}.`),
  }),
  async run({ path, offset, limit }, ctx) {
    const full = resolveToolPath(path, ctx);
    let info;
    try {
      info = await stat(full);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { text: `No such file: ${full}. Use glob to find the file's name.`, isError: true };
      return { text: `Cannot read ${full}: ${(e as Error).message}`, isError: true };
    }
    if (info.isDirectory()) return { text: `${full} is a folder, not a file. Use glob (e.g. pattern "*" with path "${path}") to list what it holds.`, isError: true };
    if (!info.isFile()) return { text: `${full} is not a regular file (${kindOf(info)}); read opens only regular files.`, isError: true };

    let file: FileHandle;
    try {
      file = await open(full, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      return { text: `Cannot open ${full}: ${(e as Error).message}`, isError: true };
    }
    try {
      const opened = await file.stat();
      if (!opened.isFile()) return { text: `${full} is not a regular file (${kindOf(opened)}); read opens only regular files.`, isError: true };
      return await readLines(file, full, opened.size, offset ?? 1, limit ?? MAX_LINES);
    } finally {
      await file.close();
    }
  },
});

async function readLines(file: FileHandle, full: string, size: number, first: number, limit: number) {
  const buf = Buffer.alloc(64 * 1024);
  const decoder = new StringDecoder('utf8');
  const shown: string[] = [];
  let chars = 0;
  let lineNo = 0;
  let more = false;
  // The line being read: kept up to the display bound, its full length counted.
  let partial = '';
  let partialLength = 0;
  let position = 0;
  let sniffed = false;

  const take = (line: string, length: number): boolean => {
    lineNo++;
    if (lineNo < first) return true;
    if (shown.length >= limit) { more = true; return false; }
    let text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (length > MAX_LINE_CHARS) text = `${text.slice(0, MAX_LINE_CHARS)}... [line cut: ${length} characters]`;
    const entry = `${String(lineNo).padStart(6)}\t${text}`;
    if (shown.length > 0 && chars + entry.length + 1 > MAX_CHARS) { more = true; lineNo--; return false; }
    shown.push(entry);
    chars += entry.length + 1;
    return true;
  };

  reading: for (;;) {
    const { bytesRead } = await file.read(buf, 0, buf.length, position);
    if (bytesRead === 0) break;
    if (!sniffed) {
      sniffed = true;
      if (buf.subarray(0, Math.min(bytesRead, BINARY_SNIFF_BYTES)).includes(0)) {
        return { text: `${full} is a binary file (${size} bytes); read shows text only. Inspect it with shell (e.g. \`file\`, \`xxd ${full} | head\`).`, isError: true };
      }
    }
    position += bytesRead;
    const pieces = decoder.write(buf.subarray(0, bytesRead)).split('\n');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (partial.length <= MAX_LINE_CHARS) partial += piece.slice(0, MAX_LINE_CHARS + 1 - partial.length);
      partialLength += piece.length;
      if (i === pieces.length - 1) break; // no newline after it yet
      if (!take(partial, partialLength)) break reading;
      partial = '';
      partialLength = 0;
    }
  }
  if (!more && partialLength > 0) take(partial, partialLength);

  if (size === 0) return { text: `${full} is empty.` };
  if (shown.length === 0) return { text: `${full} has ${lineNo} lines; offset ${first} is past its end.`, isError: true };
  const last = first + shown.length - 1;
  const note = more ? `\n\n[Lines ${first}-${last} shown; the file goes on. Call read with offset ${last + 1} to continue.]` : '';
  return { text: shown.join('\n') + note };
}

function kindOf(info: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (info.isFIFO()) return 'a named pipe';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  if (info.isSocket()) return 'a socket';
  return 'not a file';
}
