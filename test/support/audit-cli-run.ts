import { fileURLToPath } from 'node:url';
import { runScript } from './cli.ts';

const AUDIT_CLI = fileURLToPath(new URL('./audit-cli.js', import.meta.url));

/**
 * Runs `nanoclaw audit ...` (the same command object main.ts mounts) against a home folder.
 *
 *   const { code, stdout } = await auditCli(['verify'], home);
 */
export function auditCli(args: string[], home: string) {
  return runScript(AUDIT_CLI, ['audit', ...args], { NANOCLAW_HOME: home });
}
