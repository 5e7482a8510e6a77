import { LIMITS, type TurnOutcome } from '../../src/protocol/messages.ts';

/**
 * Fits what the engine produced to the protocol's bounds before it is sent.
 * The host stops a runner whose message is over a bound (it cannot tell a
 * runner gone wrong from a long answer), so an honest runner clips first and
 * says so in the text: a long answer arrives shortened, never as a failure.
 *
 *   send({ type: 'log', level: 'warn', text: clip(stderr, LIMITS.text) });
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = (cut: number) => `… (${cut} more characters not shown)`;
  const keep = Math.max(0, max - note(text.length).length);
  return text.slice(0, keep) + note(text.length - keep);
}

/** A turn's outcome within LIMITS.replies replies of LIMITS.repliesTotal characters in all, and an error within LIMITS.text. */
export function fitOutcome(result: TurnOutcome): TurnOutcome {
  if (!result.ok) return { ok: false, code: result.code, error: clip(result.error, LIMITS.text) };
  const replies: string[] = [];
  let left = LIMITS.repliesTotal;
  for (const reply of result.replies.slice(0, LIMITS.replies)) {
    if (left <= 0) break;
    const fitted = clip(reply, left);
    replies.push(fitted);
    left -= fitted.length;
  }
  return { ok: true, replies };
}
