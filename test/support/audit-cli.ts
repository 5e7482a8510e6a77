/**
 * `nanoclaw audit ...` as main.ts runs it, for test/audit.test.ts to spawn
 * with its own NANOCLAW_HOME: the same command object, the same error exit.
 */
import { Command } from 'commander';
import { auditCommand } from '../../src/cli/audit.ts';

const program = new Command('nanoclaw').showHelpAfterError();
program.addCommand(auditCommand());
program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`nanoclaw: ${(err as Error).message}\n`);
  process.exit(1);
});
