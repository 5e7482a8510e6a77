import type { Sender } from './engines/engine.ts';

/**
 * The line that tells the engine who wrote a message, so that in a group chat
 * it can tell people apart. Both parts are the sender's own choice (a display
 * name can say anything): control characters and angle brackets go, so a name
 * cannot break the line, close the block it sits in or pose as an instruction,
 * and each part is quoted and bounded.
 *
 *   describeSender({ id: 'tg:42', name: 'Ann' }) // 'This message is from "Ann" (sender id "tg:42").'
 */
export function describeSender(sender: Sender): string {
  const id = clean(sender.id, 200) || 'unknown';
  const name = sender.name ? clean(sender.name, 100) : '';
  return name ? `This message is from ${JSON.stringify(name)} (sender id ${JSON.stringify(id)}).` : `This message is from sender id ${JSON.stringify(id)}.`;
}

/**
 * The line that tells the engine which files came with the message, already
 * in its inbox. The names were sanitised by the host, yet chosen by the
 * sender: cleaned and quoted like the sender's name.
 *
 *   describeAttachments([{ path: '/workspace/inbox/a.pdf', bytes: 12 }]) // 'Files attached to this message: "/workspace/inbox/a.pdf" (12 bytes).'
 */
export function describeAttachments(files: Array<{ path: string; bytes: number }>): string {
  if (!files.length) return '';
  return `Files attached to this message: ${files.map((f) => `${JSON.stringify(clean(f.path, 300))} (${f.bytes} bytes)`).join(', ')}.`;
}

function clean(s: string, max: number): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029<>]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, max);
}
