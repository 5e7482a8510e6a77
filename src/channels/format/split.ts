/**
 * Cutting one long reply into parts a platform accepts (Telegram 4096, Discord 2000, ...).
 * Text is cut only between graphemes, so an emoji, a flag or a letter with its accents is
 * never broken (a broken surrogate pair makes some APIs reject the whole message), and the
 * cut prefers a paragraph break, then a line break, then a space. A cut inside a fenced code
 * block closes the fence in this part and reopens it, with its language, in the next.
 */

/** How long a string is for the platform. Must add up over concatenation (code units, code points, bytes). */
export type Measure = (s: string) => number;

export interface SplitOptions {
  /** The most each part may measure. */
  maxLength: number;
  /** Defaults to UTF-16 code units, which is what Telegram and Discord count. */
  measure?: Measure;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const FENCE = /^ {0,3}(`{3,}|~{3,})([^`\n]*)$/;

/** The open fence (marker and info string) at the end of `text`, given the one open at its start. */
function fenceAfter(text: string, open: Fence | null): Fence | null {
  for (const line of text.split('\n')) {
    const m = FENCE.exec(line);
    if (!m) continue;
    if (!open) open = { marker: m[1], info: m[2].trim().slice(0, 32) }; // a long info string would eat every part
    // A fence closes only with the same character, at least as long, and no info string.
    else if (m[1][0] === open.marker[0] && m[1].length >= open.marker.length && m[2].trim() === '') open = null;
  }
  return open;
}
interface Fence { marker: string; info: string }

/**
 * Grapheme pieces of `text`; a grapheme that alone is over `budget` (hostile input: one letter
 * with thousands of combining marks) is broken into code points, never into half surrogates.
 */
export function graphemes(text: string, measure: Measure, budget: number): string[] {
  const out: string[] = [];
  for (const { segment } of segmenter.segment(text)) {
    if (measure(segment) <= budget) out.push(segment);
    else out.push(...Array.from(segment));
  }
  return out;
}

/** Where to cut `pieces` (an index into it), preferring paragraph, line, then word breaks in the later half. */
export function bestCut(pieces: string[], fit: number): number {
  if (fit >= pieces.length) return pieces.length;
  let line = -1, word = -1;
  // pieces[fit] is the first piece left out: a break there is a cut like any other.
  for (let i = fit; i > 0; i--) {
    const p = pieces[i];
    if (p === '\n' && pieces[i - 1] === '\n') return i - 1;
    if (p === '\n' && line < 0) line = i;
    if ((p === ' ' || p === '\t') && word < 0) word = i;
    if (i < fit / 2 && (line >= 0 || word >= 0)) break; // a paragraph this early would make a tiny part
  }
  if (line > 0) return line;
  if (word > 0) return word;
  return fit;
}

/**
 * The graphemes at the start of `text`, enough to pass `budget`, and how many of them fit.
 * Only a window is segmented (a long text would otherwise be segmented once per part); its
 * last piece may be a grapheme the window's edge cut, so it is dropped, and the window grows
 * while everything left in it fits (a measure may count one long grapheme as 1).
 */
function window(text: string, measure: Measure, budget: number): { pieces: string[]; fit: number } {
  for (let size = budget * 4 + 64; ; size *= 2) {
    const pieces = graphemes(text.slice(0, size), measure, budget);
    if (size < text.length) pieces.pop();
    let used = 0, fit = 0;
    while (fit < pieces.length && used + measure(pieces[fit]) <= budget) used += measure(pieces[fit++]);
    if (fit < pieces.length || size >= text.length) return { pieces, fit };
  }
}

/**
 * Split `text` into parts that each measure at most `maxLength`, none empty.
 *
 *   for (const part of splitMessage(reply, { maxLength: 4096 })) await api.sendMessage(chat, part);
 *   splitMessage(text, { maxLength: 2000, measure: (s) => [...s].length });
 */
export function splitMessage(text: string, opts: SplitOptions): string[] {
  const measure = opts.measure ?? ((s: string) => s.length);
  const max = opts.maxLength;
  if (!(max >= 16)) throw new RangeError(`splitMessage: maxLength ${max} is too small to hold a part with a code fence; use at least 16`);
  const parts: string[] = [];
  let rest = text.replace(/\r\n?/g, '\n');
  let open: Fence | null = null;
  while (rest.trim() !== '') {
    const head = open ? `${open.marker}${open.info}\n` : '';
    if (open === null && measure(rest) <= max) { parts.push(rest.trimEnd()); break; }
    if (open && measure(head + rest) <= max && fenceAfter(rest, open) === null) { parts.push((head + rest).trimEnd()); break; }
    // Room for the longest closing fence this part could need.
    const longest = Math.max(open ? open.marker.length : 0, ...Array.from(rest.matchAll(/`{3,}|~{3,}/g), (m) => m[0].length));
    const budget = max - measure(head) - (longest ? measure('\n' + '`'.repeat(longest)) : 0);
    if (budget < 1) throw new RangeError(`splitMessage: maxLength ${max} cannot hold the fence "${head.trim()}"; raise it`);
    const { pieces, fit } = window(rest, measure, budget);
    const cut = Math.max(1, bestCut(pieces, fit));
    let body = pieces.slice(0, cut).join('');
    rest = rest.slice(body.length);
    // The break itself is dropped: the newlines, or one space (never a code line's indentation).
    rest = rest.startsWith('\n') ? rest.replace(/^\n+/, '') : rest.replace(/^[ \t]/, '');
    body = body.trimEnd();
    const after = fenceAfter(body, open);
    const part = head + body + (after ? `\n${after.marker}` : '');
    if (body.trim() !== '') parts.push(part);
    open = after;
  }
  return parts.filter((p) => p.trim() !== '');
}
