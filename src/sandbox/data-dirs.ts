import { basename, dirname, join } from 'node:path';
import type { HomeLayout } from '../config/home.ts';
import { closeDir, makeDir, openDir, UnsafePathError, type OpenDir } from '../inbox/safe-fs.ts';
import { AGENT_UID } from './profile.ts';

/** Where a container's conversation files live on the host. */
export interface DataDirs { dataDir: string; workspace: string; state: string }

/**
 * A conversation's folders under NANOCLAW_HOME/conversations/<dirName>.
 *
 *   const dirs = dataDirs(layout, 'nanoclaw-0123456789'); prepareDataDirs(dirs);
 */
export function dataDirs(layout: HomeLayout, dirName: string): DataDirs {
  const dataDir = join(layout.conversations, dirName);
  return { dataDir, workspace: join(dataDir, 'workspace'), state: join(dataDir, 'state') };
}

/**
 * Makes a conversation's folders before its container starts: the data
 * folder (the gateway's), and in it the workspace, its inbox and the engine
 * state, owned by the container's user. Each is made or reopened under its
 * open parent without following a link (src/inbox/safe-fs.ts), so a resumed
 * conversation whose agent planted a symlink cannot steer root's chown.
 * An inbox the agent replaced is left alone and reported through
 * `onUnsafeInbox` (attachments are refused until the agent removes it);
 * anything wrong above it throws, and the container does not start.
 */
export function prepareDataDirs(dirs: DataDirs, onUnsafeInbox?: (err: UnsafePathError) => void): void {
  const opened: OpenDir[] = [];
  const keep = (dir: OpenDir) => { opened.push(dir); return dir; };
  try {
    const data = keep(makeDir(keep(openDir(dirname(dirs.dataDir))), basename(dirs.dataDir)));
    const workspace = keep(makeDir(data, basename(dirs.workspace), { owner: AGENT_UID, reown: true }));
    keep(makeDir(data, basename(dirs.state), { owner: AGENT_UID, reown: true }));
    try {
      keep(makeDir(workspace, 'inbox', { owner: AGENT_UID, reown: true }));
    } catch (err) {
      if (!(err instanceof UnsafePathError)) throw err;
      onUnsafeInbox?.(err);
    }
  } finally {
    for (const dir of opened) closeDir(dir);
  }
}
