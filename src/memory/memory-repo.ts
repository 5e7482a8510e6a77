import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { HomeLayout } from '../config/home.ts';
import { prepareAgentDir } from '../sandbox/agent-container.ts';

const run = promisify(execFile);

/**
 * A conversation's persistent memory: a work tree mounted into its container
 * at /memory, with its history in a git directory that no container sees.
 * The host commits after every turn, so each change the agent made can be
 * audited (`nanoclaw memory log`) and reverted.
 *
 * The git directory lives apart from the work tree on purpose: the agent can
 * write anything into /memory (a `.git` file, hooks, attributes) and none of
 * it is read, because every git call names the git dir explicitly and turns
 * hooks off.
 *
 *   const mem = new MemoryRepo(layout, conversationId);
 *   await mem.ensure(); ...turn...; await mem.commit('turn 12');
 */
export class MemoryRepo {
  readonly workTree: string;
  readonly gitDir: string;

  constructor(layout: HomeLayout, conversationId: string) {
    this.workTree = join(layout.memory, conversationId);
    this.gitDir = join(layout.memoryHistory, `${conversationId}.git`);
  }

  async ensure(): Promise<void> {
    prepareAgentDir(this.workTree);
    if (!existsSync(join(this.gitDir, 'HEAD'))) {
      mkdirSync(this.gitDir, { recursive: true, mode: 0o700 });
      await this.git('init', '--quiet');
    }
  }

  /** Records the work tree as it is now; returns the commit and the files it changed, or undefined when nothing changed. */
  async commit(message: string): Promise<{ commit: string; files: string[] } | undefined> {
    await this.git('add', '--all', '--force', '.');
    const { stdout } = await this.git('status', '--porcelain');
    if (!stdout.trim()) return undefined;
    await this.git('commit', '--quiet', '--no-verify', '-m', message);
    const head = await this.git('rev-parse', '--short', 'HEAD');
    const files = stdout.split('\n').filter(Boolean).map((l) => l.slice(3)).slice(0, 50);
    return { commit: head.stdout.trim(), files };
  }

  /** The history, newest first, with the files each commit touched. */
  async log(limit = 50): Promise<string> {
    if (!existsSync(join(this.gitDir, 'HEAD'))) return '';
    try {
      const { stdout } = await this.git('log', `-n${limit}`, '--date=iso', '--stat', '--format=%h %ad %s');
      return stdout;
    } catch (err) {
      if (/does not have any commits/.test(String((err as any).stderr))) return '';
      throw err;
    }
  }

  private git(...args: string[]) {
    return run('git', [
      `--git-dir=${this.gitDir}`, `--work-tree=${this.workTree}`,
      '-c', 'core.hooksPath=/dev/null', '-c', 'safe.directory=*', '-c', 'core.autocrlf=false',
      '-c', 'user.name=NanoClaw', '-c', 'user.email=memory@nanoclaw.local', '-c', 'commit.gpgsign=false',
      ...args,
    ], { cwd: this.gitDir, maxBuffer: 16 * 1024 * 1024, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', HOME: this.gitDir } });
  }
}
