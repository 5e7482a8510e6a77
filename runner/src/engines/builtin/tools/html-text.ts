/**
 * Readable text from an HTML page, for web_fetch: scripts, styles and
 * comments dropped, block elements turned into line breaks, headings and
 * list items marked as in Markdown, links kept as `[text](href)`, and the
 * common entities decoded. Not a full HTML parser: enough for a model to
 * read an article or documentation page at a fraction of the tokens.
 *
 *   htmlToText('<h1>Hi</h1><p>a &amp; <a href="/b">b</a></p>');   // '# Hi\n\na & [b](/b)'
 */
export function htmlToText(html: string): string {
  const title = /<title[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html)?.[1]?.trim();
  let text = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(script|style|noscript|template|svg|head|iframe)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>([\s\S]*?)<\/a\s*>/gi, (_m, d, s, u, inner: string) => {
      const href = (d ?? s ?? u ?? '').trim();
      const label = inner.replace(/<[^>]+>/g, '').trim();
      if (label === '') return '';
      if (href === '' || href.startsWith('#') || /^javascript:/i.test(href)) return label;
      return `[${label}](${href})`;
    })
    .replace(/<h([1-6])\b[^>]*>/gi, (_m, n: string) => `\n\n${'#'.repeat(Number(n))} `)
    .replace(/<li\b[^>]*>/gi, '\n- ')
    .replace(/<(br|hr)\b[^>]*>/gi, '\n')
    .replace(/<\/?(p|div|section|article|header|footer|nav|main|aside|ul|ol|table|thead|tbody|tr|blockquote|pre|h[1-6]|form|figure|figcaption|dl|dt|dd|details|summary)\b[^>]*>/gi, '\n\n')
    .replace(/<\/?(td|th)\b[^>]*>/gi, ' ')
    .replace(/<[^>]*>/g, '');
  text = decodeEntities(text)
    .split('\n')
    .map((line) => line.replace(/[ \t\f\v\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return title && !text.startsWith(`# ${title}`) ? `${decodeEntities(title)}\n\n${text}` : text;
}

const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', copy: '©', reg: '®', trade: '™',
  mdash: '—', ndash: '–', hellip: '…', lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', laquo: '«', raquo: '»',
  bull: '•', middot: '·', deg: '°', euro: '€', pound: '£', times: '×', shy: '',
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[name.toLowerCase()] ?? whole;
  });
}
