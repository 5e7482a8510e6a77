import { summarize } from '../audit/bounded.ts';
import { LIMITS, type HostToRunner, type HostToolCall, type HostToolResult, type RunnerToHost } from '../protocol/messages.ts';

/**
 * Runs one host tool call for the agent: sends the message, the file, asks
 * the question. `signal` aborts when the turn ends, however it ends (its
 * end, a timeout, an interrupt, the container's death): a handler waiting
 * for a person's answer stops waiting then. A handler that throws answers
 * the agent with the error's message.
 *
 * The handler is where (id, call) is honoured as the idempotency key: a turn
 * re-run after a crash numbers its calls from 1 again, so a key already acted
 * on is answered from what was stored, not acted on twice.
 *
 *   const onCall: HostToolHandler = async (c) =>
 *     c.tool === 'send_message' ? (await deliver(c.input.text), { ok: true, text: 'sent' }) : { ok: false, error: 'not here' };
 */
export type HostToolHandler = (call: HostToolCall, signal: AbortSignal) => Promise<HostToolResult>;

/** What the agent is told when the one running it gave no handler (a place with no person to reach). */
export const NO_HOST_TOOLS = 'host tools are not available here';

type Call = Extract<RunnerToHost, { type: 'call' }>;
type CallResult = Extract<HostToRunner, { type: 'call_result' }>;

export interface TurnCallsOptions {
  handler?: HostToolHandler;
  /** Sends the `call_result`; never called after the turn ended. */
  answer(result: CallResult): void;
  /** The turn's clock: paused while an `ask_user` waits on a person. */
  clock: { pause(): void; resume(): void };
  /** Called as each accepted call starts, for the audit log. */
  onCall?(call: HostToolCall): void;
}

/**
 * The host tool calls of one running turn, with the protocol's rules on them:
 * numbered from 1 with no repeats or gaps, at most LIMITS.callsOpen open at
 * once (the schema bounds the number, so at most LIMITS.callsPerTurn in all).
 * A call that breaks a rule is not run; `accept` says why, and the owner ends
 * the container as for any protocol violation.
 *
 *   const calls = new TurnCalls('m1', { handler, answer: (r) => channel.send(r), clock });
 *   const why = calls.accept(m); if (why) channel.violation(new ProtocolViolation(why));
 *   calls.end();   // when the turn ends: handlers are aborted, late answers dropped
 */
export class TurnCalls {
  private readonly ended = new AbortController();
  private last = 0;
  private readonly open = new Set<number>();

  constructor(readonly turnId: string, private readonly opts: TurnCallsOptions) {}

  /** Starts the call, or returns how it breaks the protocol (then nothing was started). */
  accept(m: Call): string | undefined {
    if (m.id !== this.turnId) return `it sent call ${m.call} for a turn that is not running`;
    if (m.call <= this.last) return `it repeated call ${m.call} of this turn`;
    if (m.call !== this.last + 1) return `it sent call ${m.call} of this turn when call ${this.last + 1} was next`;
    if (this.open.size >= LIMITS.callsOpen) return `it opened more than ${LIMITS.callsOpen} host tool calls at once`;
    this.last = m.call;
    this.open.add(m.call);
    const call = { id: m.id, call: m.call, tool: m.tool, input: m.input } as HostToolCall;
    // compose_mail waits for the owner to confirm the draft, as ask_user waits for an answer.
    const waitsOnPerson = call.tool === 'ask_user' || call.tool === 'compose_mail';
    if (waitsOnPerson) this.opts.clock.pause();
    this.opts.onCall?.(call);
    void this.run(call).then((result) => {
      this.open.delete(call.call);
      if (this.ended.signal.aborted) return;
      if (waitsOnPerson) this.opts.clock.resume();
      this.opts.answer(result.ok
        ? { type: 'call_result', id: call.id, call: call.call, ok: true, text: result.text }
        : { type: 'call_result', id: call.id, call: call.call, ok: false, error: result.error });
    });
    return undefined;
  }

  /** The turn ended: open handlers see their signal abort, and what they answer later is dropped. */
  end(): void {
    this.ended.abort(new Error(`turn ${this.turnId} ended`));
  }

  private async run(call: HostToolCall): Promise<HostToolResult> {
    const { handler } = this.opts;
    if (!handler) return { ok: false, error: NO_HOST_TOOLS };
    try {
      const r = await handler(call, this.ended.signal);
      // The handler's text goes back over the protocol: fitted to its bound, never refused by it.
      if (r?.ok === true && typeof r.text === 'string') return { ok: true, text: fit(r.text) };
      if (r?.ok === false && typeof r.error === 'string') return { ok: false, error: fit(r.error) };
      return { ok: false, error: `the host's ${call.tool} gave no answer` };
    } catch (err) {
      return { ok: false, error: fit(err instanceof Error ? err.message : String(err)) };
    }
  }
}

/**
 * A short account of a call for the audit log and live views: the part that
 * says what the agent did (the text, the path, the question), summarized as
 * tool inputs are (bounded, secrets redacted), never the whole input.
 *
 *   describeCall({ id: 'm1', call: 1, tool: 'send_file', input: { path: 'out/report.pdf' } }) // 'out/report.pdf'
 */
export function describeCall(call: HostToolCall, max = 300): string {
  const what = call.tool === 'send_message' ? call.input.text
    : call.tool === 'send_file' ? call.input.path
    // A mail's recipients and subject, never its body.
    : call.tool === 'compose_mail' ? `to ${call.input.to.join(', ')}: ${call.input.subject}`
    : call.tool === 'ask_user' ? call.input.question
    : call.tool === 'schedule_task' ? `${call.input.schedule}: ${call.input.prompt}`
    : call.tool === 'change_task' ? `${call.input.action} task ${call.input.id}`
    : call.tool === 'propose_skill' ? call.input.path
    : '';
  return summarize(what, max);
}

function fit(text: string): string {
  if (text.length <= LIMITS.callText) return text;
  const note = `… (${text.length - LIMITS.callText + 64} more characters not shown)`;
  return text.slice(0, LIMITS.callText - 64) + note;
}
