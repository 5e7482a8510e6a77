import { z } from 'zod';
import { defineTool } from './define-tool.ts';
import { runProcess } from './run-process.ts';

/** Output kept per command: the head and the tail, the middle noted. */
export const SHELL_MAX_CHARS = 30_000;
const DEFAULT_TIMEOUT_SEC = 120;
const MAX_TIMEOUT_SEC = 600;

/**
 * `shell`: one bash command in the workspace. The command runs in its own
 * process group, so a timeout or an interrupted turn kills all it started;
 * stdout and stderr come back interleaved through one pipe, in the order
 * they were written.
 *
 *   await shellTool.run({ command: 'npm test', timeoutSec: 300 }, ctx);
 */
export const shellTool = defineTool({
  name: 'shell',
  description:
    'Run a command with /bin/bash -c in the workspace and get its output (stdout and stderr interleaved) and exit code. ' +
    `Times out after timeoutSec seconds (default ${DEFAULT_TIMEOUT_SEC}, at most ${MAX_TIMEOUT_SEC}); on timeout everything the command started is killed. ` +
    `Output beyond ${SHELL_MAX_CHARS} characters is cut from the middle. stdin is empty, so interactive programs get no input: pass flags such as -y. ` +
    'Each call is a fresh shell: cd and exported variables do not carry over (chain with &&). ' +
    'To leave a server running, start it in the background with its output redirected: `cmd > /tmp/cmd.log 2>&1 &`. ' +
    'Prefer read, write, edit, glob and grep for files; use shell for builds, tests, git and other programs.',
  schema: z.object({
    command: z.string().min(1).describe('The bash command line to run.'),
    timeoutSec: z.number().positive().max(MAX_TIMEOUT_SEC).optional()
      .describe(`Seconds before the command is killed; default ${DEFAULT_TIMEOUT_SEC}, at most ${MAX_TIMEOUT_SEC}.`),
  }),
  async run({ command, timeoutSec }, ctx) {
    const seconds = timeoutSec ?? DEFAULT_TIMEOUT_SEC;
    const r = await runProcess({
      file: '/bin/bash',
      // One pipe for both streams keeps their order; the second exec keeps the command's own line numbers in bash's messages.
      args: ['-c', 'exec 2>&1; exec /bin/bash -c "$1"', 'bash', command],
      cwd: ctx.cwd,
      env: ctx.env,
      signal: ctx.signal,
      timeoutMs: seconds * 1000,
      maxChars: SHELL_MAX_CHARS,
    });
    if (r.spawnError) return { text: `Could not start /bin/bash in ${ctx.cwd}: ${r.spawnError.message}`, isError: true };
    const notes: string[] = [];
    if (r.stopped === 'timeout') notes.push(`Timed out after ${seconds} s: the command and everything it started were killed. Give a longer timeoutSec (at most ${MAX_TIMEOUT_SEC}) or run it in the background.`);
    else if (r.stopped === 'aborted') notes.push('Interrupted: the command and everything it started were killed.');
    else if (r.exitSignal) notes.push(`Killed by ${r.exitSignal}.`);
    else notes.push(`Exit code ${r.exitCode}.`);
    if (r.outputLeftOpen) notes.push('A background process still holds the output; redirect its output to a file to see it.');
    const body = r.output === '' ? '(no output)' : r.output.replace(/\n$/, '');
    return { text: `${body}\n\n${notes.join(' ')}`, isError: r.stopped !== null || r.exitCode !== 0 };
  },
});
