import type { ToolDef } from '../model.ts';

/**
 * A tool the built-in engine offers its model: the definition the model
 * reads and the code that runs it inside the container. `run` never throws
 * for a bad input or a failed action: it answers with text the model can
 * read and act on (`isError` marks a failure). Every tool bounds its own
 * time and output.
 *
 *   const out = await shellTool.run({ command: 'ls' }, { cwd: '/workspace', env, signal });
 *   // out.text: the command's output, clipped; out.isError when it failed
 */
export interface Tool {
  readonly def: ToolDef;
  run(input: Record<string, unknown>, ctx: ToolContext): Promise<ToolOutput>;
}

export interface ToolContext {
  /** The folder relative paths resolve against (the workspace). */
  cwd: string;
  /** The environment for child processes (PATH, HOME, proxy variables). */
  env: Record<string, string>;
  /** Fires when the turn is interrupted: stop and answer promptly. */
  signal: AbortSignal;
}

export interface ToolOutput {
  text: string;
  isError?: boolean;
}
