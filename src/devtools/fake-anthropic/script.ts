/**
 * What the fake model says. The default script is stateless: it looks only at
 * the request in hand, so any number of side requests in between cannot shift
 * what a later turn answers. Rules, tried on the LAST message of `messages`
 * (trailing `role: 'system'` messages skipped, see below):
 *
 * 1. A user message holding `tool_result` blocks -> text
 *    `Tool output:\n<the results' text, trimmed, at most 4000 chars>`, end_turn
 *    (any `<system-reminder>` in them left out).
 * 2. Otherwise the user's text (text blocks and the string form, minus any
 *    `<system-reminder>...</system-reminder>` that Claude Code adds):
 *    - a line starting with `run: ` -> `Running it.` and a `tool_use` of `Bash`
 *      with `{command: <everything after 'run: ', may span lines>, description}`,
 *      stop_reason tool_use (only when the request offers a `Bash` tool; to
 *      the built-in engine, which offers `shell` instead, a `shell` call with
 *      `{command}`);
 *    - lines of the form `tool: <name> <JSON object>` -> `Calling <names>.` and
 *      one `tool_use` per such line, in order, with the JSON (on that line;
 *      none means `{}`) as its input. A tool the request offers is named as it
 *      is (`tool: Read {"file_path":"/etc/hostname"}`,
 *      `tool: mcp__nanoclaw__ask_user {"question":"Which?"}`); any other name
 *      is one of the host's tools, `mcp__nanoclaw__<name>`
 *      (`tool: send_message {"text":"hi"}`). Only when the request offers
 *      every tool named; otherwise `No such tool: <name>.`, and
 *      `Not a JSON object: <input>` for an input that does not parse as one;
 *    - a line starting with `sleep: <ms>` -> waits that long, then `Slept <ms> ms.`;
 *    - a line starting with `slowly: <text>` -> `<text>`, streamed a 16-character
 *      delta every 100 ms, as a model writing at its own pace (live views);
 *    - anything else -> `Echo: <text>`.
 *
 * The rules apply to agent turns only: requests that offer tools. Claude Code
 * also sends side requests without tools (2.1.331 asks for a session title
 * unless CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1; older versions probed
 * quota with max_tokens 1); those get a short answer (`OK`, or JSON that fits
 * a requested json_schema) and never a tool call or a sleep, so they cannot
 * break or slow a test.
 */
import type { ContentBlockParam, MessagesRequest, ReplyBlock } from './wire.ts';

/** An answer: the blocks to send, an optional delay before sending them, and an optional pause between streamed events. */
export interface Reply {
  blocks: ReplyBlock[];
  delayMs?: number;
  frameDelayMs?: number;
}

/**
 * A custom script, tried before the default one; `undefined` falls back to it.
 *
 *   startFakeAnthropic({ script: (body) =>
 *     body.messages?.length === 1 ? { blocks: [{ type: 'text', text: 'Hi!' }] } : undefined });
 */
export type ScriptFn = (body: MessagesRequest) => Reply | undefined | Promise<Reply | undefined>;

/** Most tool output the rule-1 answer quotes; keeps follow-up requests small. */
const TOOL_OUTPUT_LIMIT = 4000;

/** The answer to a side request: short, plain, and never a tool call. */
export const SIDE_REPLY_TEXT = 'OK';

/** True for the main conversation's turns: Claude Code always sends its tools with them. */
export function isAgentTurn(body: MessagesRequest): boolean {
  return Array.isArray(body.tools) && body.tools.length > 0;
}

export function defaultScript(body: MessagesRequest): Reply {
  if (!isAgentTurn(body)) return sideReply(body);
  // Claude Code (2.1.x) appends a `role: 'system'` message (its environment
  // block) after the user's turn, so "last" means the last non-system one.
  const last = body.messages?.findLast((m) => m.role !== 'system');
  const blocks = typeof last?.content === 'string' ? [{ type: 'text', text: last.content }] : (last?.content ?? []);

  const results = blocks.filter((b) => b.type === 'tool_result');
  if (last?.role === 'user' && results.length > 0) {
    // Claude Code adds reminders to tool results for some models (the tokens
    // left in the context, with Sonnet 4.5): a model reads them, it does not quote them.
    const output = results.map((r) => stripReminders(blockText(r.content))).join('\n').trim();
    return text(`Tool output:\n${output.slice(0, TOOL_OUTPUT_LIMIT)}`);
  }

  const userText = blocks
    .filter((b) => b.type === 'text')
    .map((b) => stripReminders(b.text ?? ''))
    .filter((t) => t.length > 0)
    .join('\n');

  const run = /^run: ([\s\S]*)$/m.exec(userText);
  if (run && offersTool(body, 'Bash')) {
    return {
      blocks: [
        { type: 'text', text: 'Running it.' },
        { type: 'tool_use', name: 'Bash', input: { command: run[1], description: 'Run the requested command' } },
      ],
    };
  }
  // The built-in engine's shell tool.
  if (run && offersTool(body, 'shell')) {
    return { blocks: [{ type: 'text', text: 'Running it.' }, { type: 'tool_use', name: 'shell', input: { command: run[1] } }] };
  }

  const calls = [...userText.matchAll(/^tool: (\S+)(.*)$/gm)];
  if (calls.length > 0) return toolCalls(body, calls.map((m) => ({ name: m[1], input: m[2].trim() })));

  const sleep = /^sleep: (\d+)/m.exec(userText);
  if (sleep) return { ...text(`Slept ${sleep[1]} ms.`), delayMs: Number(sleep[1]) };

  const slowly = /^slowly: (.+)$/m.exec(userText);
  if (slowly) return { ...text(slowly[1]), frameDelayMs: 100 };

  return text(`Echo: ${userText}`);
}

/** The host's tools, as the Claude engine offers them (runner/src/engines/claude-host-tools.ts). */
const HOST_TOOL_PREFIX = 'mcp__nanoclaw__';

/** The `tool:` rule: one tool_use per line, or the reason there is none. */
function toolCalls(body: MessagesRequest, lines: Array<{ name: string; input: string }>): Reply {
  const blocks: ReplyBlock[] = [];
  for (const line of lines) {
    const name = offersTool(body, line.name) ? line.name : `${HOST_TOOL_PREFIX}${line.name}`;
    if (!offersTool(body, name)) return text(`No such tool: ${name}.`);
    let input: unknown;
    try { input = line.input ? JSON.parse(line.input) : {}; } catch { input = undefined; }
    if (!input || typeof input !== 'object' || Array.isArray(input)) return text(`Not a JSON object: ${line.input}`);
    blocks.push({ type: 'tool_use', name, input: input as Record<string, unknown> });
  }
  const names = blocks.map((b) => (b.type === 'tool_use' ? b.name : '')).join(', ');
  return { blocks: [{ type: 'text', text: `Calling ${names}.` }, ...blocks] };
}

/**
 * Claude Code 2.1.x names each session with a tool-less request that asks for
 * structured output (`output_config.format: {type:'json_schema', schema}`, a
 * required string `title`); answering with JSON that fits the schema keeps it
 * from logging parse failures. Everything else gets plain `OK`.
 */
function sideReply(body: MessagesRequest): Reply {
  const config = body.output_config as { format?: { type?: string; schema?: JsonSchema } } | undefined;
  const format = config?.format ?? (body.output_format as { type?: string; schema?: JsonSchema } | undefined);
  if (format?.type === 'json_schema' && format.schema) return text(JSON.stringify(sampleFor(format.schema, 'value')));
  return text(SIDE_REPLY_TEXT);
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
}

/** The smallest value a JSON schema accepts: required properties only, short placeholder strings. */
function sampleFor(schema: JsonSchema, name: string): unknown {
  if (schema.enum?.length) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const key of schema.required ?? []) out[key] = sampleFor(schema.properties?.[key] ?? {}, key);
      return out;
    }
    case 'array':
      return [];
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return `Fake ${name}`;
  }
}

function text(value: string): Reply {
  return { blocks: [{ type: 'text', text: value }] };
}

function offersTool(body: MessagesRequest, name: string): boolean {
  return body.tools?.some((t) => t.name === name) ?? false;
}

/** A tool result's content is a string or a list of blocks; only text counts here. */
function blockText(content: string | ContentBlockParam[] | undefined): string {
  if (typeof content === 'string') return content;
  return (content ?? [])
    .filter((b) => b.type === 'text')
    .map((b) => b.text ?? '')
    .join('\n');
}

/** Removes Claude Code's `<system-reminder>` blocks, whether alone or inline with the prompt. */
function stripReminders(value: string): string {
  return value.replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, '').trim();
}
