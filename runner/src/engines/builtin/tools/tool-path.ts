import { isAbsolute, resolve } from 'node:path';
import type { ToolContext } from './tool.ts';

/**
 * Where a path a model names points: relative paths against the workspace,
 * `~/` against HOME. Any path the agent's user can reach is allowed (the
 * container is the boundary); the tools that write decide about links.
 *
 *   resolveToolPath('src/a.ts', ctx);   // '/workspace/src/a.ts'
 */
export function resolveToolPath(path: string, ctx: ToolContext): string {
  const home = ctx.env.HOME;
  if (home && (path === '~' || path.startsWith('~/'))) return resolve(home, path.slice(2));
  return isAbsolute(path) ? resolve(path) : resolve(ctx.cwd, path);
}
