/**
 * Text helpers every chat channel shares: the agent's Markdown in the platform's dialect, cut
 * into parts the platform accepts. A channel's `send` needs only `formatForChannel`.
 */
import { toDialect, type Dialect } from './markdown.ts';
import { splitHtml } from './split-html.ts';
import { splitMessage, type Measure } from './split.ts';

export { toDialect, safeUrl, type Dialect } from './markdown.ts';
export { splitMessage, type Measure, type SplitOptions } from './split.ts';
export { splitHtml } from './split-html.ts';

/**
 * The agent's Markdown converted to `dialect` and split into parts of at most `maxLength`.
 *
 *   for (const part of formatForChannel(text, 'telegram-html', { maxLength: 4096 }))
 *     await api.sendMessage(chat, part, { parse_mode: 'HTML' });
 */
export function formatForChannel(markdown: string, dialect: Dialect, opts: { maxLength: number; measure?: Measure }): string[] {
  const text = toDialect(markdown, dialect);
  return dialect === 'telegram-html' ? splitHtml(text, opts) : splitMessage(text, opts);
}
