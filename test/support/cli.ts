import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** dist/src/cli/main.js, next to this compiled file's dist/test/support. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/**
 * Runs a Node script as a child process with only the given environment (and
 * PATH); resolves with its output and exit code.
 *
 *   const { code, stdout } = await runScript(CLI, ['status', '--json'], { NANOCLAW_HOME: home });
 */
export function runScript(script: string, args: string[], env: Record<string, string>, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { env: { PATH: process.env.PATH!, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/**
 * Runs the real `nanoclaw` command.
 *
 *   const { code, stdout } = await cli(['status', '--json'], { NANOCLAW_HOME: home });
 */
export function cli(args: string[], env: Record<string, string>, input?: string) {
  return runScript(CLI, args, env, input);
}
