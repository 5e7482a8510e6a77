import type { Block, ToolDef, TranscriptMessage } from './model.ts';

/**
 * Keeps a long conversation inside the model's context window. The size is
 * estimated from characters (about 3.5 per token for English and code; an
 * estimate on the safe side, since each provider counts differently). When
 * the next request would pass COMPACT_AT of the window (after room for the
 * answer), the older part of the transcript is summarised by the model and
 * replaced by that summary; the latest turns are kept as they are.
 *
 *   if (overBudget(estimateTokens(system, tools, messages), provider)) messages = await compact(messages, fits, summarise);
 */

/** Share of the context window (after room for the answer) that triggers compaction. */
const COMPACT_AT = 0.8;
/** Characters per token in the estimate. */
const CHARS_PER_TOKEN = 3.5;
/** A tool result in the part summarised is quoted at most this long. */
const QUOTED_RESULT = 2000;

export function estimateTokens(system: string, tools: ToolDef[], messages: TranscriptMessage[]): number {
  let chars = system.length + JSON.stringify(tools).length;
  for (const m of messages) for (const b of m.blocks) chars += blockChars(b) + 16;
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

export function overBudget(tokens: number, window: { contextTokens: number; maxOutputTokens: number }): boolean {
  return tokens > (window.contextTokens - window.maxOutputTokens) * COMPACT_AT;
}

/**
 * The transcript with its older part replaced by a summary. The latest turns
 * are kept as they are, as many as `fits` accepts (at least the last one);
 * `summarise` gets the rest as plain text and returns the summary (a model
 * call). A turn starts at a user message that is not tool results, so a tool
 * call is never split from its result. With a single long turn there is
 * nothing to summarise: old tool results are shortened instead.
 */
export async function compact(messages: TranscriptMessage[], fits: (kept: TranscriptMessage[]) => boolean, summarise: (text: string) => Promise<string>): Promise<TranscriptMessage[]> {
  const starts = messages.flatMap((m, i) => (isTurnStart(m) ? [i] : []));
  let cut = starts.length ? starts[starts.length - 1] : 0;
  for (let i = starts.length - 2; i >= 1; i--) {
    if (!fits(messages.slice(starts[i]))) break;
    cut = starts[i];
  }
  if (cut <= 0) return shortenResults(messages);
  const summary = await summarise(render(messages.slice(0, cut)));
  return [
    { role: 'user', blocks: [{ type: 'text', text: `<summary of the conversation so far>\n${summary.trim()}\n</summary of the conversation so far>` }] },
    { role: 'assistant', blocks: [{ type: 'text', text: 'Noted: I have the summary of our earlier conversation and carry on from it.' }] },
    ...messages.slice(cut),
  ];
}

/** The instructions of the summarising call. */
export const SUMMARY_SYSTEM =
  'You compress a conversation between a person and an AI agent that works in a Linux container. Write a concise summary the agent can continue from: ' +
  'what the person wants, decisions made, facts learned (names, paths, numbers, URLs), files created or changed, what was done and what is left. ' +
  'Use short bullet points. Do not invent anything.';

function isTurnStart(m: TranscriptMessage): boolean {
  return m.role === 'user' && m.blocks.every((b) => b.type === 'text');
}

function render(messages: TranscriptMessage[]): string {
  const lines: string[] = [];
  for (const m of messages) {
    for (const b of m.blocks) {
      if (b.type === 'text') lines.push(`${m.role === 'user' ? 'Person' : 'Agent'}: ${b.text}`);
      else if (b.type === 'tool_call') lines.push(`Agent called ${b.name} with ${JSON.stringify(b.input).slice(0, QUOTED_RESULT)}`);
      else lines.push(`Tool result${b.isError ? ' (error)' : ''}: ${clipMiddle(b.content, QUOTED_RESULT)}`);
    }
  }
  return lines.join('\n');
}

/** The transcript with all but the last few tool results cut to QUOTED_RESULT characters. */
function shortenResults(messages: TranscriptMessage[], keepLast = 4): TranscriptMessage[] {
  let seen = 0;
  const out = messages.map((m) => ({ ...m, blocks: [...m.blocks] }));
  for (let i = out.length - 1; i >= 0; i--) {
    out[i].blocks = out[i].blocks.map((b) => {
      if (b.type !== 'tool_result') return b;
      return ++seen <= keepLast ? b : { ...b, content: clipMiddle(b.content, QUOTED_RESULT) };
    });
  }
  return out;
}

function clipMiddle(s: string, max: number): string {
  if (s.length <= max) return s;
  const half = Math.floor(max / 2);
  return `${s.slice(0, half)}\n… (${s.length - max} characters left out) …\n${s.slice(-half)}`;
}

function blockChars(b: Block): number {
  if (b.type === 'text') return b.text.length;
  if (b.type === 'tool_call') return b.name.length + JSON.stringify(b.input).length;
  return b.content.length;
}
