import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { HomeLayout } from '../config/home.ts';
import { closeDir, makeDir, openDir } from '../inbox/safe-fs.ts';
import { AGENT_UID } from '../sandbox/profile.ts';
import { checkWorkTree, MEMORY_LIMITS, MemoryCommitRefused, type MemoryLimits } from './work-tree-check.ts';

const run = promisify(execFile);

/**
 * A conversation's persistent memory: a work tree mounted into its container
 * at /memory, with its history in a git directory that no container sees.
 * The host commits after every turn, so each change the agent made can be
 * audited (`nanoclaw memory log`) and reverted.
 *
 * The git directory lives apart from the work tree on purpose: the agent can
 * write anything into /memory (a `.git` file, hooks, config) and none of
 * it is used, because every git call names the git dir explicitly and turns
 * hooks off (`git add` does read a `.gitattributes`, harmless: its filter
 * drivers would need config the agent cannot write). The host never follows what the agent planted there: the work
 * tree is made through open folders (no link followed), and each commit
 * first checks the tree and then runs git under a timeout
 * (work-tree-check.ts): a FIFO, a huge file or a swap refuses the commit
 * with MemoryCommitRefused, and the next turn tries again.
 *
 *   const mem = new MemoryRepo(layout, conversationId);
 *   await mem.ensure(); ...turn...; await mem.commit('turn 12');
 */
export class MemoryRepo {
  readonly workTree: string;
  readonly gitDir: string;

  constructor(layout: HomeLayout, conversationId: string, private readonly limits: MemoryLimits = MEMORY_LIMITS) {
    this.workTree = join(layout.memory, conversationId);
    this.gitDir = join(layout.memoryHistory, `${conversationId}.git`);
  }

  /** Makes the work tree (owned by the container's user) and the history; run it before the container starts. */
  async ensure(): Promise<void> {
    const memory = openDir(dirname(this.workTree));
    try { closeDir(makeDir(memory, basename(this.workTree), { owner: AGENT_UID, reown: true })); } finally { closeDir(memory); }
    if (!existsSync(join(this.gitDir, 'HEAD'))) {
      mkdirSync(this.gitDir, { recursive: true, mode: 0o700 });
      await this.git('init', '--quiet');
    }
  }

  /** Records the work tree as it is now; returns the commit and the files it changed, or undefined when nothing changed. */
  async commit(message: string): Promise<{ commit: string; files: string[] } | undefined> {
    try {
      checkWorkTree(this.workTree, this.limits);
    } catch (err) {
      if (err instanceof MemoryCommitRefused) throw err;
      // A folder swapped for a link, or an entry deleted, while it was walked.
      throw new MemoryCommitRefused(`Memory was not committed: it changed while it was checked (${(err as Error).message}). The next turn commits again.`, { cause: err });
    }
    try {
      await this.git('add', '--all', '--force', '.');
    } catch (err) {
      if (!(err as { killed?: boolean }).killed) throw err;
      // Killed mid-add: its lock would fail every later commit.
      rmSync(join(this.gitDir, 'index.lock'), { force: true });
      throw new MemoryCommitRefused(`Memory was not committed: git took more than ${this.limits.gitTimeoutMs / 1000} s to read /memory (a file swapped for a FIFO or a huge file after the check?). The next turn commits again.`, { cause: err });
    }
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
    ], { cwd: this.gitDir, maxBuffer: 16 * 1024 * 1024, timeout: this.limits.gitTimeoutMs, killSignal: 'SIGKILL', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', HOME: this.gitDir } });
  }
}
