import { Command } from 'commander';
import { auditCommand } from './audit.ts';
import { runChat } from './chat.ts';
import { runConfig } from './config.ts';
import { runDashboard } from './dashboard.ts';
import { runDemo } from './demo.ts';
import { runDoctor } from './doctor.ts';
import { runMemoryLog } from './memory.ts';
import { runPairAdd, runPairApprove, runPairList, runPairRevoke } from './pair.ts';
import { runStart } from './start.ts';
import { runStatus } from './status.ts';
import { registerSkillsCommand } from './skills.ts';
import { registerTasksCommand } from './tasks.ts';
import { runSetupChannel } from './setup-channel.ts';
import { addProviderOptions, providerFlagsGiven, runSetupProvider, type SetupProviderOptions } from './setup-provider.ts';

const program = new Command('nanoclaw')
  .description('A security-first personal AI agent: every conversation runs in its own hardened container.')
  .showHelpAfterError();

program.command('start').description('run the gateway (HTTP API on 127.0.0.1, terminal chat)').action(runStart);
program.command('chat').description('chat with the agent from this terminal (needs a running gateway)').action(runChat);
program.command('status').description('show the API address and token, conversations and their containers').option('--json', 'machine-readable output').action(runStatus);
program.command('doctor').description('check Docker, the agent image, config, the data folder and each model provider').action(runDoctor);
program.command('demo').description('offline demo: a stand-in model scripts a shell command in a real container').action(runDemo);
program.command('config').description('list every option with its default, current value and environment variable')
  .option('--markdown', 'print the options table of docs/configuration.md').action(runConfig);
program.command('memory').description('persistent memory').command('log <conversation>')
  .description('show the recorded changes to a conversation\'s memory (an API id or a c-... id)').action(runMemoryLog);

const setup = program.command('setup <what>').description('connect a chat channel (telegram, slack, discord, whatsapp, email, gmail), or add a model provider (`setup provider`): explains the steps, checks the credentials, saves them')
  .option('--option <key=value...>', 'a channel option, e.g. mode=webhook (otherwise asked, or the default)');
addProviderOptions(setup).action((what: string, opts: SetupProviderOptions & { option?: string[] }) => {
  const providerFlags = providerFlagsGiven(opts);
  if (what === 'provider') {
    if (opts.option) throw new Error('--option is for `nanoclaw setup <channel>`; a provider takes --name, --kind, --base-url, --model (see `nanoclaw setup --help`).');
    return runSetupProvider(opts);
  }
  if (providerFlags.length) throw new Error(`${providerFlags.join(', ')} ${providerFlags.length > 1 ? 'are' : 'is'} for \`nanoclaw setup provider\`, not \`setup ${what}\`.`);
  return runSetupChannel(what, opts);
});
const pair = program.command('pair').description('who may talk to the agent on chat channels');
pair.command('approve <code>').description('approve the sender who received this pairing code').action(runPairApprove);
pair.command('add <sender>').description('approve a sender who has not written yet (channel:sender, e.g. email:bob@example.com)').action(runPairAdd);
pair.command('list').description('approved senders and pending codes').action(runPairList);
pair.command('revoke <sender>').description('forget an approved sender (channel:sender)').action(runPairRevoke);

program.command('dashboard').description('open the web dashboard: a single-use login link (two minutes) for this machine\'s browser')
  .option('--print', 'print the link instead of opening a browser')
  .option('--sessions', 'list the browsers signed in')
  .option('--revoke-all', 'sign every browser out')
  .action(runDashboard);
program.addCommand(auditCommand());
registerTasksCommand(program);
registerSkillsCommand(program);

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`nanoclaw: ${(err as Error).message}\n`);
  process.exit(1);
});
