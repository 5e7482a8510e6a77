import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import type { OpResult } from '../core/ops.ts';
import { runOp } from './manage.ts';
import { conversationIdFromArgument } from '../store/store.ts';
import { TaskOps } from '../tasks/task-ops.ts';

/**
 * Runs one task operation through the running gateway or on the data folder (cli/manage.ts).
 *
 *   const res = await runTaskOp('pause', { id: 3 }); // { ok: true, text: 'Task #3 … is paused. …' }
 */
export function runTaskOp(op: string, args: Record<string, unknown>): Promise<OpResult> {
  return runOp('tasks', op, args, ({ db, layout, audit }) => new TaskOps({ db, config: loadConfig(layout.home), clock: Date.now, audit }));
}

type Flags = { json?: boolean; all?: boolean; conversation?: string; schedule?: string; prompt?: string; name?: string; tz?: string; missed?: string };

/** Prints an operation's answer (or its JSON) and sets exit code 1 when it was refused. */
async function run(op: string, args: Record<string, unknown>, flags: Flags): Promise<void> {
  const res = await runTaskOp(op, args);
  process.stdout.write(flags.json ? `${JSON.stringify(res, null, 2)}\n` : `${res.text}\n`);
  if (!res.ok) process.exitCode = 1;
}

function idArg(text: string): number {
  const n = Number(text.replace(/^#/, ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`"${text}" is not a task id: \`nanoclaw tasks list --all\` shows them`);
  return n;
}

function missedArg(text: string | undefined): 'run' | 'skip' | undefined {
  if (text === undefined) return undefined;
  if (text !== 'run' && text !== 'skip') throw new Error('--missed is `run` (a run missed while NanoClaw was down runs once, late) or `skip`');
  return text;
}

/**
 * `nanoclaw tasks …`: scheduled tasks from the command line (main.ts:
 * `registerTasksCommand(program)`).
 */
export function registerTasksCommand(program: Command): void {
  const tasks = program.command('tasks').description('scheduled tasks: list, add, pause, resume, cancel, edit, and their runs');
  const json = ['--json', 'machine-readable output'] as const;
  tasks.command('list').description('active and paused tasks (with --all: done and cancelled ones too)')
    .option('--all', 'every task of every conversation, ended ones included')
    .option('--conversation <id>', 'only this conversation\'s (an API id or a c-... id)').option(...json)
    .action((f: Flags) => run('list', { ...(f.conversation ? { conversationId: conversationIdFromArgument(f.conversation) } : {}), ...(f.all ? { all: true } : {}) }, f));
  tasks.command('show <id>').description('one task: schedule, prompt, next and last run').option(...json)
    .action((id: string, f: Flags) => run('show', { id: idArg(id) }, f));
  tasks.command('add').description('schedule a task in a conversation')
    .requiredOption('--conversation <id>', 'the conversation it runs in (an API id or a c-... id, as `nanoclaw status` prints it)')
    .requiredOption('--schedule <schedule>', '`every 30m`, `cron 0 7 * * *`, `at 2026-12-24 18:00`, `at 18:00` or `in 20m`')
    .requiredOption('--prompt <text>', 'what the agent is asked to do at each run')
    .option('--name <name>', 'a short name (default: the prompt\'s first words)')
    .option('--tz <zone>', 'IANA time zone of the schedule (default: tasks.timezone, else the host\'s)')
    .option('--missed <policy>', 'a run missed while NanoClaw was down: run (once, late; default) or skip').option(...json)
    .action((f: Flags) => run('create', {
      conversationId: conversationIdFromArgument(f.conversation!), schedule: f.schedule, prompt: f.prompt,
      ...(f.name !== undefined ? { name: f.name } : {}), ...(f.tz !== undefined ? { timezone: f.tz } : {}), ...(f.missed !== undefined ? { missed: missedArg(f.missed) } : {}),
    }, f));
  for (const [op, what] of [['pause', 'stop running it until resumed'], ['resume', 'run it again from now (runs missed while paused are not caught up)'], ['cancel', 'end it for good (it stays in the history)'], ['runs', 'its latest runs, with what became of each']] as const) {
    tasks.command(`${op} <id>`).description(what).option(...json).action((id: string, f: Flags) => run(op, { id: idArg(id) }, f));
  }
  tasks.command('edit <id>').description('change a task; a new schedule or zone counts from now')
    .option('--schedule <schedule>', 'a new schedule').option('--prompt <text>', 'a new prompt').option('--name <name>', 'a new name')
    .option('--tz <zone>', 'a new IANA time zone').option('--missed <policy>', 'run or skip').option(...json)
    .action((id: string, f: Flags) => run('edit', {
      id: idArg(id), ...(f.schedule !== undefined ? { schedule: f.schedule } : {}), ...(f.prompt !== undefined ? { prompt: f.prompt } : {}),
      ...(f.name !== undefined ? { name: f.name } : {}), ...(f.tz !== undefined ? { timezone: f.tz } : {}), ...(f.missed !== undefined ? { missed: missedArg(f.missed) } : {}),
    }, f));
}
