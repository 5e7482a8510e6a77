import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { defineTool } from './define-tool.ts';
import { RG_COMMON_ARGS, RG_SKIP_GIT, ripgrepMissing } from './ripgrep.ts';
import { runProcess } from './run-process.ts';
import { resolveToolPath } from './tool-path.ts';

/** Paths listed per call. */
export const GLOB_MAX_PATHS = 500;
const TIMEOUT_MS = 60_000;

/**
 * `glob`: file names matching a pattern under a folder, newest first, by
 * `rg --files` (fast, and it skips what .gitignore ignores, such as
 * node_modules in most projects).
 *
 *   await globTool.run({ pattern: '**\/*.test.ts', path: 'src' }, ctx);   // absolute paths, one a line
 */
export const globTool = defineTool({
  name: 'glob',
  description:
    'Find files by name pattern: lists matching files under a folder (default the workspace) as absolute paths, most recently modified first, ' +
    `at most ${GLOB_MAX_PATHS}. Patterns are gitignore-style globs: "*.ts" matches at any depth, "src/**/*.test.ts" is relative to the folder, ` +
    '"{a,b}" alternatives work. Hidden files are included; the .git folder and files ignored by .gitignore (in a git repository) are not. ' +
    'Use it to find files by name and to list a folder ("*"); use grep to search file contents.',
  schema: z.object({
    pattern: z.string().min(1).describe('Glob pattern, e.g. "*.md" or "src/**/*.ts".'),
    path: z.string().min(1).optional().describe('Folder to search in, absolute or relative to the workspace; default the workspace.'),
  }),
  async run({ pattern, path }, ctx) {
    const dir = resolveToolPath(path ?? '.', ctx);
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory()) return { text: `${dir} is not a folder. Give glob a folder as path (or leave it out for the workspace).`, isError: true };

    const paths: string[] = [];
    let total = 0;
    const r = await runProcess({
      file: 'rg',
      args: ['--files', ...RG_COMMON_ARGS, '--glob', pattern, ...RG_SKIP_GIT, '--sortr', 'modified', '--', dir],
      cwd: dir,
      env: ctx.env,
      signal: ctx.signal,
      timeoutMs: TIMEOUT_MS,
      maxChars: 4000,
      onLine: (line) => {
        if (line === '') return;
        total++;
        if (paths.length < GLOB_MAX_PATHS) paths.push(line);
      },
    });
    if (r.spawnError) return ripgrepMissing(r);
    if (r.stopped === 'aborted') return { text: 'Interrupted.', isError: true };
    if (r.stopped === 'timeout') return { text: `Listing files under ${dir} took longer than ${TIMEOUT_MS / 1000} s and was stopped. Search a smaller folder.`, isError: true };
    if (r.exitCode === 2 && total === 0) return { text: `rg failed: ${r.stderr.trim() || 'exit code 2'}`, isError: true };
    if (total === 0) return { text: `No files under ${dir} match ${pattern}.` };
    const note = total > paths.length ? `\n\n[${total} files match; the ${paths.length} most recently modified are shown. Narrow the pattern or the path to see the others.]` : '';
    return { text: paths.join('\n') + note };
  },
});
