/**
 * The live turn view of one conversation, built from the event stream: the turn's start, the
 * agent's text, each tool call and result, each egress decision and model request (with the
 * turn's running token total), the replies, and the end. Pure: the page keeps the state and feeds
 * every event through applyEvent, which ignores events of other conversations.
 *
 *   const [log, setLog] = useState(emptyLog());
 *   subscribe((e) => setLog((l) => applyEvent(l, e, 'c-1')));
 */
import type { LiveEvent, OutMessage } from './types';

export type EntryKind = 'start' | 'text' | 'tool_use' | 'tool_result' | 'egress' | 'usage' | 'reply' | 'end';

export interface TurnEntry {
  n: number;
  kind: EntryKind;
  at: string;
  /** One short line: the tool name, "allowed api.example.com:443", "claude-x: 1,200 in / 80 out". */
  title: string;
  /** Longer text shown below it (the agent's words, a tool's input or output, a reply), cut to MAX_TEXT. */
  text?: string;
  /** For egress entries: whether the request went out. */
  denied?: boolean;
  /** For text entries: still being written (text_delta); the step's whole text replaces it. */
  streaming?: boolean;
}

export interface TurnLog {
  running: boolean;
  /**
   * Whether `running` came from a turn_start or turn_end seen on the current stream. Then it is
   * newer than any page fetch could be, and a fetch answered meanwhile must not undo it; after a
   * (re)connect (`ready`) events may have been missed, and the server's word counts again.
   */
  known: boolean;
  inboundId?: number | string;
  /** Tokens of all kinds the running (or last) turn used so far, from its model.request records. */
  turnTokens: number;
  entries: TurnEntry[];
  replyIds: (number | string)[];
  next: number;
}

/** Takes the server's answer on whether a turn runs, unless the stream has said so since it (re)connected. */
export function withServerTurn(log: TurnLog, turn: { inboundId: number | string } | null): TurnLog {
  if (log.known || log.running === !!turn) return log;
  return { ...log, running: !!turn, inboundId: turn?.inboundId ?? log.inboundId };
}

/** Bounds: a long turn keeps its latest entries, and one huge tool output does not stall the page. */
export const MAX_ENTRIES = 400;
export const MAX_TEXT = 4_000;

export function emptyLog(running = false): TurnLog {
  return { running, known: false, turnTokens: 0, entries: [], replyIds: [], next: 1 };
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));
const cut = (text: string): string => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}… (${text.length - MAX_TEXT} more characters)` : text);

function push(log: TurnLog, entry: Omit<TurnEntry, 'n' | 'at'> & { at?: string }): TurnLog {
  const full: TurnEntry = { ...entry, n: log.next, at: entry.at ?? new Date().toISOString(), text: entry.text === undefined ? undefined : cut(entry.text) };
  const entries = [...log.entries, full];
  return { ...log, next: log.next + 1, entries: entries.length > MAX_ENTRIES ? entries.slice(-MAX_ENTRIES) : entries };
}

function reply(log: TurnLog, message: OutMessage): TurnLog {
  if (message.id !== undefined && message.id !== null && log.replyIds.includes(message.id)) return log;
  const next = push(log, { kind: 'reply', title: message.kind && message.kind !== 'text' ? `reply (${message.kind})` : 'reply', text: str(message.text) });
  return { ...next, replyIds: message.id !== undefined && message.id !== null ? [...log.replyIds.slice(-200), message.id] : log.replyIds };
}

/**
 * The agent's text: a delta is added to the text being written (a new entry when there is
 * none); the step's whole text then replaces it, since deltas sent before a reconnect may have
 * been missed. A usage or egress entry may have come in between: the entry is found by kind.
 */
function streamText(log: TurnLog, text: string, delta: boolean): TurnLog {
  let at = -1;
  for (let i = log.entries.length - 1; i >= 0; i--) if (log.entries[i].kind === 'text' && log.entries[i].streaming) { at = i; break; }
  if (at < 0) return push(log, { kind: 'text', title: 'agent', text, streaming: delta || undefined });
  const entries = log.entries.slice();
  const was = entries[at];
  entries[at] = { ...was, text: cut(delta ? (was.text ?? '') + text : text), streaming: delta || undefined };
  return { ...log, entries };
}

export function applyEvent(log: TurnLog, event: LiveEvent, conversation: string): TurnLog {
  if (event.name === 'ready') return { ...log, known: false };
  if (event.data.conversation !== conversation) return log;
  if (event.name === 'audit') {
    const { type, data, ts } = event.data;
    const d = data ?? {};
    if (type.startsWith('egress.')) {
      const denied = type === 'egress.denied';
      const where = `${str(d.host)}${d.port ? `:${num(d.port)}` : ''}`;
      return push(log, { kind: 'egress', at: ts, denied, title: `${denied ? 'denied' : 'allowed'} ${str(d.method)} ${where}`.replace(/\s+/g, ' '), text: d.reason ? str(d.reason) : undefined });
    }
    if (type === 'model.request') {
      const tokens = num(d.inputTokens) + num(d.outputTokens) + num(d.cacheWriteTokens) + num(d.cacheReadTokens);
      const turnTokens = log.turnTokens + tokens;
      const cache = num(d.cacheWriteTokens) + num(d.cacheReadTokens);
      const title = `${str(d.model) || 'model'}: ${num(d.inputTokens).toLocaleString()} in / ${num(d.outputTokens).toLocaleString()} out`
        + `${cache ? ` / ${cache.toLocaleString()} cache` : ''} · turn total ${turnTokens.toLocaleString()}`;
      return { ...push(log, { kind: 'usage', at: ts, title }), turnTokens };
    }
    return log;
  }
  const e = event.data;
  switch (e.type) {
    case 'turn_start':
      return push({ ...log, running: true, known: true, inboundId: e.inboundId, turnTokens: 0 }, { kind: 'start', title: `turn started${e.container ? ` in ${e.container}` : ''}` });
    case 'progress':
      if (e.kind === 'text_delta' || e.kind === 'text') return streamText(log, str(e.text), e.kind === 'text_delta');
      if (e.kind === 'tool_use') return push(log, { kind: 'tool_use', title: e.tool || 'tool', text: str(e.text) });
      if (e.kind === 'tool_result') return push(log, { kind: 'tool_result', title: `${e.tool || 'tool'} result`, text: str(e.text) });
      return push(log, { kind: 'text', title: 'agent', text: str(e.text) });
    case 'outbound':
      return e.message ? reply(log, e.message) : log;
    case 'question': {
      const choices = Array.isArray(e.choices) && e.choices.length ? `\nChoices: ${e.choices.map(str).join(' · ')}` : '';
      return push(log, { kind: 'reply', title: 'question', text: `${str(e.question)}${choices}` });
    }
    case 'turn_end': {
      // Text still marked as being written is as complete as it will get.
      let next = log.entries.some((x) => x.streaming) ? { ...log, entries: log.entries.map((x) => (x.streaming ? { ...x, streaming: undefined } : x)) } : log;
      for (const r of Array.isArray(e.replies) ? e.replies : []) next = reply(next, r);
      return push({ ...next, running: false, known: true }, { kind: 'end', title: `turn ended · ${next.turnTokens.toLocaleString()} tokens` });
    }
    default:
      return log;
  }
}
