import { HostToolInputs, LIMITS, describeIssues, type HostToRunner, type HostToolInput, type HostToolName, type HostToolResult, type RunnerToHost } from '../../src/protocol/messages.ts';
import type { HostToolCaller } from './engines/engine.ts';

type CallResult = Extract<HostToRunner, { type: 'call_result' }>;

interface Waiting {
  call: number;
  message: RunnerToHost;
  settle: (r: HostToolResult) => void;
  sent: boolean;
  /** Answered here already (the turn is being stopped); still open at the host until it answers. */
  settled: boolean;
}

/**
 * The runner's end of host tool calls: numbers each turn's calls from 1 in
 * the order the engine makes them, sends them as `call` messages and hands
 * each `call_result` back to the call it answers, matched by (id, call).
 *
 * It keeps the host's rules so an honest runner never breaks them: an input
 * outside the protocol's bounds is answered here with the reason (the model
 * can fix it), never sent; calls beyond LIMITS.callsOpen wait here, in order,
 * until an earlier one is answered; a turn's call after LIMITS.callsPerTurn
 * is refused here. It times nothing out: the host ends a turn that runs too
 * long, and an `ask_user` (or a `compose_mail` waiting for the owner to
 * confirm) may rightly wait for minutes.
 *
 *   const tools = new HostTools((m) => socket.write(JSON.stringify(m) + '\n'));
 *   const r = await tools.call('m1', 'send_message', { text: 'Working on it.' });   // later: tools.answer(callResult)
 */
export class HostTools implements HostToolCaller {
  private readonly turns = new Map<string, { made: number; queue: Waiting[] }>();

  constructor(private readonly send: (m: RunnerToHost) => void) {}

  call<T extends HostToolName>(turnId: string, tool: T, input: HostToolInput<T>): Promise<HostToolResult> {
    const checked = HostToolInputs[tool]?.safeParse(input);
    if (!checked?.success) {
      return Promise.resolve({ ok: false, error: checked ? `invalid input for ${tool}: ${describeIssues(checked.error)}` : `there is no host tool ${tool}` });
    }
    let turn = this.turns.get(turnId);
    if (!turn) this.turns.set(turnId, turn = { made: 0, queue: [] });
    if (turn.made >= LIMITS.callsPerTurn) {
      return Promise.resolve({ ok: false, error: `this turn has made ${LIMITS.callsPerTurn} host tool calls, the most one turn may make; finish the turn with a reply instead` });
    }
    const call = ++turn.made;
    const message = { type: 'call', id: turnId, call, tool, input: checked.data } as RunnerToHost;
    return new Promise((settle) => {
      turn.queue.push({ call, message, settle, sent: false, settled: false });
      this.pump(turn);
    });
  }

  /** The host's answer: settles the call it names; an answer to a call no longer waiting (its turn ended) is dropped. */
  answer(m: CallResult): void {
    const turn = this.turns.get(m.id);
    const i = turn?.queue.findIndex((w) => w.call === m.call && w.sent) ?? -1;
    if (!turn || i < 0) return;
    const [waiting] = turn.queue.splice(i, 1);
    if (!waiting.settled) waiting.settle(m.ok ? { ok: true, text: m.text } : { ok: false, error: m.error });
    this.pump(turn);
  }

  /**
   * The turn is being stopped: its calls are answered here with `reason` at
   * once (an engine may wait for a tool's answer before it lets a turn stop,
   * and a person may never answer). Calls already sent stay open, as far as
   * the host's count goes, until the host answers them or the turn ends.
   */
  stopTurn(turnId: string, reason: string): void {
    const turn = this.turns.get(turnId);
    if (!turn) return;
    turn.queue = turn.queue.filter((w) => {
      if (!w.settled) { w.settled = true; w.settle({ ok: false, error: reason }); }
      return w.sent;
    });
  }

  /** The turn ended (its `turn_end` is sent): the host answers none of its calls any more. */
  endTurn(turnId: string): void {
    this.stopTurn(turnId, 'the turn ended before the host answered');
    this.turns.delete(turnId);
  }

  /** Sends waiting calls, in order, while fewer than LIMITS.callsOpen are open. */
  private pump(turn: { queue: Waiting[] }): void {
    let open = turn.queue.filter((w) => w.sent).length;
    for (const w of turn.queue) {
      if (open >= LIMITS.callsOpen) break;
      if (w.sent) continue;
      w.sent = true;
      open++;
      this.send(w.message);
    }
  }
}
