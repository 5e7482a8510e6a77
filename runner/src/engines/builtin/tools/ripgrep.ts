import type { ProcessResult } from './run-process.ts';

/**
 * What glob and grep share about ripgrep (`rg`, in the agent image): the
 * answer when it cannot be started, and the arguments that make it search
 * hidden files but never a repository's own .git folder.
 *
 *   if (r.spawnError) return ripgrepMissing(r);
 */
export const RG_COMMON_ARGS = ['--hidden', '--color', 'never', '--no-messages'];
/** Last, so it wins over the caller's globs (in rg a later glob takes precedence). */
export const RG_SKIP_GIT = ['--glob', '!.git'];

export function ripgrepMissing(r: ProcessResult): { text: string; isError: true } {
  const e = r.spawnError!;
  const why = e.code === 'ENOENT' ? 'ripgrep (rg) is not installed or not on PATH' : `ripgrep (rg) could not be started: ${e.message}`;
  return { text: `${why}. Use shell with find or grep instead.`, isError: true };
}
