import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { OpResult } from '../core/ops.ts';
import { SkillOps } from '../skills/skill-ops.ts';
import { runOp } from './manage.ts';

/**
 * `nanoclaw skills ...`: list, show, decide drafts, enable, disable,
 * install, roll back. With a gateway running, each operation goes through
 * its API (POST /api/v1/manage/skills), so the gateway, the audit log's only
 * writer, records it and rebuilds the live folder its containers mount;
 * otherwise it runs here on the store, with its audit record.
 *
 *   registerSkillsCommand(program);
 *   // nanoclaw skills rollback web-research 3f2a9c01
 */
export function registerSkillsCommand(program: Command): void {
  const skills = program.command('skills').description('skills: list, show, approve drafts, enable, disable, install, roll back');
  skills.command('list', { isDefault: true }).description('every skill, its version in use, on or off, and drafts waiting')
    .option('--json', 'machine-readable output').action((o: { json?: boolean }) => run('list', {}, o));
  skills.command('show <name>').description('a skill\'s SKILL.md and files (the version in use, or --version)')
    .option('--version <hash>', 'a kept version, by the first digits of its hash').option('--json', 'machine-readable output')
    .action((name: string, o: { version?: string; json?: boolean }) => run('show', { name, ...(o.version && { version: o.version }) }, o));
  skills.command('proposals').description('drafts the agent proposed that wait for approval').option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => run('proposals', {}, o));
  skills.command('show-proposal <n>').description('one draft whole: every changed file against the version in use').option('--json', 'machine-readable output')
    .action((n: string, o: { json?: boolean }) => run('show-proposal', { id: n }, o));
  skills.command('approve <n>').description('approve draft n: it becomes the version in use').action((n: string) => run('approve', { id: n }));
  skills.command('reject <n>').description('reject draft n: it is kept in the history, never used').action((n: string) => run('reject', { id: n }));
  skills.command('enable <name>').description('turn a skill on').action((name: string) => run('enable', { name }));
  skills.command('disable <name>').description('turn a skill off (its versions are kept)').action((name: string) => run('disable', { name }));
  skills.command('install <folder>').description('install a skill folder from this host (checked like a draft, approved at once)')
    .action((folder: string) => run('install', { folder: resolve(folder) }));
  skills.command('rollback <name> [hash]').description('go back to the version in use before this one, or to a kept version by hash')
    .action((name: string, hash?: string) => run('rollback', { name, ...(hash && { hash }) }));
  skills.command('history <name>').description('every version kept and every change').option('--json', 'machine-readable output')
    .action((name: string, o: { json?: boolean }) => run('history', { name }, o));
}

async function run(op: string, args: Record<string, unknown>, opts: { json?: boolean } = {}): Promise<void> {
  const result = await perform(op, args);
  if (opts.json) process.stdout.write(`${JSON.stringify(result.data ?? {}, null, 2)}\n`);
  else process.stdout.write(`${result.text}\n`);
  if (!result.ok) process.exitCode = 1;
}

function perform(op: string, args: Record<string, unknown>): Promise<OpResult> {
  return runOp('skills', op, args, ({ db, layout, audit }) => new SkillOps({ db, layout, audit }));
}
