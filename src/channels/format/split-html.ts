/**
 * Cutting Telegram HTML (as `toTelegramHtml` makes it) into parts that each parse on their own:
 * Telegram rejects a whole message whose tags do not balance, so a cut inside <b>…</b> closes
 * the open tags at the end of the part and reopens them, attributes and all, at the start of
 * the next. Tags and entities (&amp;) are never cut; text is cut between graphemes.
 */
import { bestCut, graphemes, type SplitOptions } from './split.ts';

type Atom = { kind: 'open'; raw: string; name: string } | { kind: 'close'; raw: string; name: string } | { kind: 'text'; raw: string };

function atoms(html: string, measure: (s: string) => number, budget: number): Atom[] {
  const out: Atom[] = [];
  for (const m of html.matchAll(/<(\/?)([a-z-]+)[^>]*>|&[#a-z0-9]+;|[^<&]+|[<&]/gi)) {
    if (m[2]) out.push({ kind: m[1] ? 'close' : 'open', raw: m[0], name: m[2].toLowerCase() });
    else if (m[0].startsWith('&') && m[0].length > 1) out.push({ kind: 'text', raw: m[0] });
    else for (const g of graphemes(m[0], measure, budget)) out.push({ kind: 'text', raw: g });
  }
  return out;
}

/**
 * Split well-formed Telegram HTML into valid parts of at most `maxLength` each, none empty.
 *
 *   const parts = splitHtml(toTelegramHtml(reply), { maxLength: 4096 });
 *   for (const p of parts) await api.sendMessage(chat, p, { parse_mode: 'HTML' });
 */
export function splitHtml(html: string, opts: SplitOptions): string[] {
  const measure = opts.measure ?? ((s: string) => s.length);
  const max = opts.maxLength;
  if (measure(html) <= max) return html.trim() === '' ? [] : [html];
  const all = atoms(html, measure, Math.max(1, Math.floor(max / 4)));
  const parts: string[] = [];
  let stack: Atom[] = []; // open tags at the start of the current part
  let i = 0;
  while (i < all.length) {
    const head = stack.map((a) => a.raw).join('');
    let open = [...stack], used = measure(head);
    const taken: Atom[] = [];
    const closers = (tags: Atom[]) => tags.reduce((n, a) => n + measure(`</${(a as { name: string }).name}>`), 0);
    // Take atoms while the part, with the closing tags it would then need, still fits.
    while (i + taken.length < all.length) {
      const a = all[i + taken.length];
      const next = a.kind === 'open' ? [...open, a] : a.kind === 'close' ? open.slice(0, -1) : open;
      const trial = used + measure(a.raw);
      if (trial + closers(next) > max) break;
      used = trial; open = next; taken.push(a);
    }
    if (taken.length === 0) throw new RangeError(`splitHtml: maxLength ${max} cannot hold the open tags ${head}; raise it`);
    // Prefer a break in the text; cut positions are counted in atoms.
    const cut = i + taken.length >= all.length ? taken.length : Math.max(1, bestCut(all.slice(i, i + taken.length + 1).map((a) => a.raw), taken.length));
    const body = taken.slice(0, cut);
    const state = [...stack];
    for (const a of body) { if (a.kind === 'open') state.push(a); else if (a.kind === 'close') state.pop(); }
    const text = head + body.map((a) => a.raw).join('').trimEnd() + state.toReversed().map((a) => `</${(a as { name: string }).name}>`).join('');
    if (body.some((a) => a.kind === 'text' && a.raw.trim() !== '')) parts.push(text);
    stack = state;
    i += cut;
    // The break itself is dropped: one space, or the newlines (not a code line's indentation).
    if (all[i]?.raw === ' ') i++;
    else while (all[i]?.raw === '\n') i++;
  }
  return parts;
}
