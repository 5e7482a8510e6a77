import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { defineTool } from './define-tool.ts';
import { fileTarget, replaceFile } from './file-replace.ts';
import { resolveToolPath } from './tool-path.ts';

/** Largest content one call writes. */
export const WRITE_MAX_BYTES = 5 * 1024 * 1024;

/**
 * `write`: a whole file's content, creating folders as needed. The file is
 * replaced atomically (see file-replace.ts), so an interrupted write leaves
 * the old content.
 *
 *   await writeTool.run({ path: 'notes/todo.md', content: '- ship\n' }, ctx);   // "Wrote 7 bytes ..."
 */
export const writeTool = defineTool({
  name: 'write',
  description:
    `Create a file or replace its whole content (at most ${WRITE_MAX_BYTES / 1024 / 1024} MB), creating missing folders. ` +
    'Relative paths are against the workspace. To change part of an existing file, use edit instead: it is shorter and safer. ' +
    'A symbolic link is written through only when it points to a regular file.',
  schema: z.object({
    path: z.string().min(1).describe('File to write, absolute or relative to the workspace.'),
    content: z.string().describe('The complete new content of the file.'),
  }),
  async run({ path, content }, ctx) {
    const bytes = Buffer.byteLength(content);
    if (bytes > WRITE_MAX_BYTES) return { text: `The content is ${bytes} bytes, more than the ${WRITE_MAX_BYTES} a write takes. Write it in parts with shell (e.g. append with >>) or produce it with a program.`, isError: true };
    const full = resolveToolPath(path, ctx);
    const target = await fileTarget(full);
    if ('refused' in target) return { text: target.refused, isError: true };
    try {
      if (!target.exists) await mkdir(dirname(target.path), { recursive: true });
      await replaceFile(target.path, content, target.exists ? target.mode : undefined);
    } catch (e) {
      return { text: `Could not write ${target.path}: ${(e as Error).message}`, isError: true };
    }
    const what = target.exists ? `Replaced ${target.path}${'via' in target && target.via ? ` (through the link ${target.via})` : ''}` : `Created ${target.path}`;
    return { text: `${what}: wrote ${bytes} bytes.` };
  },
});
