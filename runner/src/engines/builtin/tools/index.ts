import { editTool } from './edit.ts';
import { globTool } from './glob.ts';
import { grepTool } from './grep.ts';
import { readTool } from './read.ts';
import { shellTool } from './shell.ts';
import type { Tool } from './tool.ts';
import { webFetchTool } from './web-fetch.ts';
import { writeTool } from './write.ts';

export type { Tool, ToolContext, ToolOutput } from './tool.ts';

/**
 * The built-in engine's own tools, in the order the model is told of them:
 * shell, read, write, edit, glob, grep, web_fetch. Each bounds its time and
 * output and answers failures as text (see tool.ts).
 *
 *   const tools = coreTools();
 *   const out = await tools.find((t) => t.def.name === 'read')!.run({ path: 'README.md' }, ctx);
 */
export function coreTools(): Tool[] {
  return [shellTool, readTool, writeTool, editTool, globTool, grepTool, webFetchTool];
}
