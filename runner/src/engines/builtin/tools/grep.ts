import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { defineTool } from './define-tool.ts';
import { RG_COMMON_ARGS, RG_SKIP_GIT, ripgrepMissing } from './ripgrep.ts';
import { runProcess } from './run-process.ts';
import { resolveToolPath } from './tool-path.ts';

/** Output lines (matches and context) per call. */
export const GREP_MAX_LINES = 500;
export const GREP_MAX_CHARS = 30_000;
/** A longer matching line is shown as a preview: minified files would otherwise fill the answer with one line. */
const MAX_COLUMNS = 300;
const TIMEOUT_MS = 60_000;

/**
 * `grep`: lines matching a regular expression in a file or under a folder,
 * by `rg`, with file names and line numbers; rg is stopped as soon as the
 * answer is full, so a pattern that matches everything costs little.
 *
 *   await grepTool.run({ pattern: 'TODO', glob: '*.ts', context: 2 }, ctx);
 */
export const grepTool = defineTool({
  name: 'grep',
  description:
    'Search file contents for a regular expression (ripgrep/Rust syntax: escape literal ( ) [ ] { } . * + ? with \\) in a file or under a folder ' +
    '(default the workspace). Answers path:line:text for matches (path-line-text for context lines), ' +
    `at most ${GREP_MAX_LINES} lines and ${GREP_MAX_CHARS} characters, lines longer than ${MAX_COLUMNS} characters previewed. ` +
    'Hidden files are searched; the .git folder, binary files and files ignored by .gitignore (in a git repository) are not. ' +
    'Narrow with glob (e.g. "*.py") or path. Use glob to find files by name.',
  schema: z.object({
    pattern: z.string().min(1).describe('Regular expression to search for.'),
    path: z.string().min(1).optional().describe('File or folder to search, absolute or relative to the workspace; default the workspace.'),
    glob: z.string().min(1).optional().describe('Only files whose names match this glob, e.g. "*.ts" or "src/**/*.go".'),
    ignore_case: z.boolean().optional().describe('Match without regard to case; default false.'),
    context: z.number().int().min(0).max(20).optional().describe('Lines of context to show before and after each match; default 0.'),
  }),
  async run({ pattern, path, glob, ignore_case: ignoreCase, context }, ctx) {
    const target = resolveToolPath(path ?? '.', ctx);
    if (!(await stat(target).catch(() => undefined))) return { text: `No such file or folder: ${target}.`, isError: true };

    const lines: string[] = [];
    let chars = 0;
    let full = false;
    const r = await runProcess({
      file: 'rg',
      args: [
        '--line-number', '--no-heading', '--with-filename', '--sort', 'path', ...RG_COMMON_ARGS,
        '--max-columns', String(MAX_COLUMNS), '--max-columns-preview',
        ...(ignoreCase ? ['--ignore-case'] : []),
        ...(context ? ['--context', String(context)] : []),
        ...(glob ? ['--glob', glob] : []), ...RG_SKIP_GIT,
        '--regexp', pattern, '--', target,
      ],
      cwd: ctx.cwd,
      env: ctx.env,
      signal: ctx.signal,
      timeoutMs: TIMEOUT_MS,
      maxChars: 4000,
      onLine: (line) => {
        if (lines.length >= GREP_MAX_LINES || chars + line.length + 1 > GREP_MAX_CHARS) { full = true; return false; }
        lines.push(line);
        chars += line.length + 1;
      },
    });
    if (r.spawnError) return ripgrepMissing(r);
    if (r.stopped === 'aborted') return { text: 'Interrupted.', isError: true };
    const found = lines.join('\n');
    if (r.stopped === 'timeout') return { text: `${found}\n\n[The search took longer than ${TIMEOUT_MS / 1000} s and was stopped; narrow it with path or glob.]`, isError: lines.length === 0 };
    if (r.exitCode === 2 && lines.length === 0) return { text: `rg failed: ${r.stderr.trim() || 'exit code 2'}`, isError: true };
    if (lines.length === 0) return { text: `No matches for ${pattern} in ${target}.` };
    const note = full ? `\n\n[Output cut at ${lines.length} lines; there are more matches. Narrow the search with path, glob or a more specific pattern.]` : '';
    return { text: found + note };
  },
});
