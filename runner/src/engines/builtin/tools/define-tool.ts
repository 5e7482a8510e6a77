import { z } from 'zod';
import type { Tool, ToolContext, ToolOutput } from './tool.ts';

/**
 * A tool from a zod schema: the model is told the schema as JSON Schema, and
 * every input is checked against it before `run` sees it, so a malformed call
 * (a missing field, a string where a number belongs) comes back to the model
 * as a readable error it can correct rather than as an exception.
 *
 *   const echo = defineTool({ name: 'echo', description: 'Says it back.', schema: z.object({ text: z.string() }),
 *     run: async ({ text }) => ({ text }) });
 */
export function defineTool<S extends z.ZodObject>(spec: {
  name: string;
  description: string;
  schema: S;
  run: (input: z.output<S>, ctx: ToolContext) => Promise<ToolOutput>;
}): Tool {
  const inputSchema = z.toJSONSchema(spec.schema, { io: 'input' }) as Record<string, unknown>;
  delete inputSchema.$schema; // some OpenAI-compatible servers reject the meta-schema key
  return {
    def: { name: spec.name, description: spec.description, inputSchema },
    async run(input, ctx) {
      const parsed = spec.schema.safeParse(input);
      if (!parsed.success) return { text: `Invalid input for ${spec.name}: ${describeIssues(parsed.error)}. Check the tool's input schema and call it again.`, isError: true };
      try {
        return await spec.run(parsed.data, ctx);
      } catch (err) {
        // A tool answers failures itself; this is the last line, so an unexpected one still reaches the model as text.
        return { text: `${spec.name} failed: ${err instanceof Error ? err.message : String(err)}`, isError: true };
      }
    },
  };
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join('.') : 'input';
    return `${where}: ${issue.message}`;
  }).join('; ');
}
