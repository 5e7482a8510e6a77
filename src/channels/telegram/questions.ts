import type { InlineKeyboardMarkup } from 'grammy/types';
import type { Button } from '../channel.ts';

/** Telegram's limit on a button's callback data, in bytes. */
const MAX_CALLBACK_BYTES = 64;
/** Telegram cuts longer button labels; keep them readable. */
const MAX_LABEL = 64;

/**
 * The agent's questions as inline keyboards. A button's callback data is
 * `q:<questionId>:<index>` (a few bytes, well within Telegram's 64), never the
 * choice itself, which may be long or contain anything. The choices are
 * remembered per question so a tap maps back to the value; after a restart the
 * tapped button's own label (which Telegram sends back with the tap) stands in.
 *
 *   const markup = questions.keyboard(42, [{ label: 'A', value: 'A' }], chat);
 *   questions.decode('q:42:0', chat, message)  // { questionId: 42, value: 'A' }
 */
export class QuestionKeyboards {
  private readonly asked = new Map<number, { chat: string; values: string[] }>();

  keyboard(questionId: number, buttons: Button[]): InlineKeyboardMarkup {
    return {
      inline_keyboard: buttons.map((b, i) => {
        const data = `q:${questionId}:${i}`;
        if (Buffer.byteLength(data) > MAX_CALLBACK_BYTES) throw new Error(`callback data ${data} is over ${MAX_CALLBACK_BYTES} bytes`);
        const label = b.label.length > MAX_LABEL ? `${b.label.slice(0, MAX_LABEL - 1)}…` : b.label;
        return [{ text: label || `${i + 1}`, callback_data: data }];
      }),
    };
  }

  /** Notes that the question's keyboard went to `chat`. */
  sent(questionId: number, chat: string, buttons: Button[]): void {
    this.asked.set(questionId, { chat, values: buttons.map((b) => b.value) });
    // A gateway runs for months: keep the last few hundred questions only.
    if (this.asked.size > 500) this.asked.delete(this.asked.keys().next().value!);
  }

  /**
   * The question and the chosen value of a tap, or undefined when the data is
   * not ours or the tap came from another chat than the question went to.
   */
  decode(data: string, chat: string, keyboard: InlineKeyboardMarkup | undefined): { questionId: number; value: string } | undefined {
    const m = /^q:(\d{1,15}):(\d{1,3})$/.exec(data);
    if (!m) return undefined;
    const questionId = Number(m[1]);
    const index = Number(m[2]);
    const known = this.asked.get(questionId);
    if (known) {
      if (known.chat !== chat || index >= known.values.length) return undefined;
      return { questionId, value: known.values[index] };
    }
    const label = keyboard?.inline_keyboard?.flat().find((b) => 'callback_data' in b && b.callback_data === data)?.text;
    return label === undefined ? undefined : { questionId, value: label };
  }

  forget(questionId: number): void {
    this.asked.delete(questionId);
  }
}
