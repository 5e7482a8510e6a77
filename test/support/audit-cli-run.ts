import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('./audit-cli.js', import.meta.url));

/**
 * Runs `nanoclaw audit ...` (the same command object main.ts mounts) against a home folder.
 *
 *   const { code, stdout } = await auditCli(['verify'], home);
 */
export function auditCli(args: string[], home: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'audit', ...args], { env: { PATH: process.env.PATH!, NANOCLAW_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
