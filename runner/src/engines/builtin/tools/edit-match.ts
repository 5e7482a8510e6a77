/**
 * Where edit's old_text occurs in a file: exactly if it can, else once more
 * ignoring what a model most often gets wrong when it retypes text it read
 * (trailing whitespace, CRLF line ends, curly quotes, typographic dashes,
 * non-breaking spaces). The loose match is found in a normalized copy and
 * mapped back to the original's offsets, so only the matched range changes
 * and the rest of the file keeps its own quotes and spacing.
 *
 *   findMatches('a = “x”;  \n', 'a = "x";\n');   // { ranges: [{ start: 0, end: 11 }], loose: true }
 */
export interface MatchRange { start: number; end: number }

export function findMatches(content: string, needle: string): { ranges: MatchRange[]; loose: boolean } {
  const exact = occurrences(content, needle);
  if (exact.length > 0 || needle === '') return { ranges: exact.map((at) => ({ start: at, end: at + needle.length })), loose: false };
  const hay = normalize(content);
  const want = normalize(needle).text;
  if (want === '') return { ranges: [], loose: true };
  const ranges = occurrences(hay.text, want).map((at) => ({ start: hay.map[at], end: hay.map[at + want.length - 1] + 1 }));
  return { ranges, loose: true };
}

/** Start offsets of the non-overlapping occurrences of `needle`, in order. */
function occurrences(text: string, needle: string): number[] {
  const found: number[] = [];
  if (needle === '') return found;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) found.push(at);
  return found;
}

const SAME_AS: Record<string, string> = {
  '\u2018': "'", '\u2019': "'", '\u201a': "'", '\u201b': "'", '\u2032': "'",
  '\u201c': '"', '\u201d': '"', '\u201e': '"', '\u201f': '"', '\u2033': '"',
  '\u2010': '-', '\u2011': '-', '\u2012': '-', '\u2013': '-', '\u2014': '-', '\u2015': '-', '\u2212': '-',
  '\u00a0': ' ', '\u2007': ' ', '\u2009': ' ', '\u202f': ' ',
};
const isBlank = (c: string) => c === ' ' || c === '\t' || c === '\r' || SAME_AS[c] === ' ';

/** The text with look-alike characters unified and blanks before a line end dropped; `map[i]` is the original offset of `text[i]`. */
function normalize(source: string): { text: string; map: number[] } {
  let text = '';
  const map: number[] = [];
  for (let i = 0; i < source.length; i++) {
    let c = source[i];
    if (isBlank(c)) {
      let j = i;
      while (j < source.length && isBlank(source[j])) j++;
      if (j === source.length || source[j] === '\n') { i = j - 1; continue; } // trailing: dropped
      for (; i < j - 1; i++) { text += SAME_AS[source[i]] ?? source[i]; map.push(i); }
      c = source[i];
    }
    text += SAME_AS[c] ?? c;
    map.push(i);
  }
  return { text, map };
}
