/**
 * The agent's Markdown in each platform's dialect. The text goes through `marked`'s lexer, not
 * regexes, so code spans and blocks are known for what they are and never reformatted inside,
 * and every piece of text is escaped for the dialect it lands in: the agent is hostile, and a
 * stray `<` in Telegram HTML (or `<!everyone>` in Slack) either drops the whole message or pings
 * a whole workspace. Links keep only http(s) and mailto URLs; any other (javascript:, data:,
 * tg:) is dropped and its text kept.
 */
import { Lexer, type Token, type Tokens } from 'marked';

export type Dialect = 'telegram-html' | 'plain' | 'slack-mrkdwn' | 'whatsapp' | 'discord';

/** How one dialect writes each construct; `text` escapes what the dialect needs escaped. */
interface Style {
  text(s: string): string;
  strong(s: string): string;
  em(s: string): string;
  del(s: string): string;
  code(s: string): string;
  block(code: string, lang: string): string;
  link(text: string, url: string | null): string;
  heading(s: string): string;
  quote(s: string): string;
}

const escHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const escSlack = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const plainLink = (text: string, url: string | null) => (url === null || text === url ? text : `${text} (${url})`);
const quoteLines = (p: string) => (s: string) => s.split('\n').map((l) => p + l).join('\n');

const styles: Record<Exclude<Dialect, 'discord'>, Style> = {
  'telegram-html': {
    text: escHtml, strong: (s) => `<b>${s}</b>`, em: (s) => `<i>${s}</i>`, del: (s) => `<s>${s}</s>`,
    code: (s) => `<code>${escHtml(s)}</code>`,
    block: (c, l) => (l ? `<pre><code class="language-${l}">${escHtml(c)}</code></pre>` : `<pre>${escHtml(c)}</pre>`),
    link: (t, u) => (u === null ? t : `<a href="${escHtml(u)}">${t}</a>`),
    heading: (s) => `<b>${s}</b>`, quote: (s) => `<blockquote>${s}</blockquote>`,
  },
  plain: {
    text: (s) => s, strong: (s) => s, em: (s) => s, del: (s) => s, code: (s) => s, block: (c) => c,
    link: plainLink, heading: (s) => s, quote: quoteLines('> '),
  },
  'slack-mrkdwn': {
    text: escSlack, strong: (s) => `*${s}*`, em: (s) => `_${s}_`, del: (s) => `~${s}~`,
    code: (s) => `\`${escSlack(s)}\``, block: (c) => `\`\`\`\n${escSlack(c)}\n\`\`\``,
    // `|` and `>` end a Slack link, so the label may hold neither; the URL has them percent-encoded.
    link: (t, u) => (u === null ? t : `<${escSlack(u.replace(/\|/g, '%7C'))}|${t.replace(/\|/g, '¦')}>`),
    heading: (s) => `*${s}*`, quote: quoteLines('> '),
  },
  whatsapp: {
    text: (s) => s, strong: (s) => `*${s}*`, em: (s) => `_${s}_`, del: (s) => `~${s}~`,
    code: (s) => `\`${s}\``, block: (c) => `\`\`\`${c}\`\`\``,
    link: plainLink, heading: (s) => `*${s}*`, quote: quoteLines('> '),
  },
};

/** The URL if it is one a chat app may safely turn into a link, else null. */
export function safeUrl(href: string): string | null {
  try {
    const url = new URL(href);
    return ['http:', 'https:', 'mailto:'].includes(url.protocol) ? href : null;
  } catch { return null; }
}

function inline(tokens: Token[] | undefined, st: Style): string {
  return (tokens ?? []).map((t) => inlineOne(t, st)).join('');
}

function inlineOne(t: Token, st: Style): string {
  switch (t.type) {
    case 'strong': return st.strong(inline(t.tokens, st));
    case 'em': return st.em(inline(t.tokens, st));
    case 'del': return st.del(inline(t.tokens, st));
    case 'codespan': return st.code(t.text); // marked leaves it raw: the dialect escapes it
    case 'br': return '\n';
    case 'link': return st.link(inline(t.tokens, st), safeUrl(t.href));
    case 'image': return st.link(st.text(t.text || 'image'), safeUrl(t.href));
    case 'text': return t.tokens ? inline(t.tokens, st) : st.text(t.text);
    case 'escape': return st.text(t.text);
    default: return st.text(t.raw); // raw HTML and anything unknown shows as the text it is
  }
}

function blocks(tokens: Token[], st: Style): string {
  const out: string[] = [];
  for (const t of tokens) {
    switch (t.type) {
      case 'space': case 'def': break;
      case 'code': out.push(st.block(t.text, /^[\w+#-]{1,32}$/.test(t.lang ?? '') ? t.lang : '')); break;
      case 'heading': out.push(st.heading(inline(t.tokens, st))); break;
      case 'paragraph': out.push(inline(t.tokens, st)); break;
      case 'text': out.push(t.tokens ? inline(t.tokens, st) : st.text(t.text)); break;
      case 'blockquote': out.push(st.quote(blocks(t.tokens ?? [], st))); break;
      case 'hr': out.push('———'); break;
      case 'list': out.push(list(t as Tokens.List, st)); break;
      case 'table': out.push(st.text(t.raw.trimEnd())); break;
      default: out.push(st.text(t.raw.trimEnd()));
    }
  }
  return out.join('\n\n');
}

function list(l: Tokens.List, st: Style): string {
  const start = typeof l.start === 'number' ? l.start : 1;
  return l.items.map((item, n) => {
    const mark = l.ordered ? `${start + n}. ` : '• ';
    const body = blocks(item.tokens, st).replace(/\n\n/g, '\n');
    return mark + body.split('\n').join('\n   ');
  }).join('\n');
}

/**
 * Discord reads Markdown itself, so the text passes through; only `@everyone` and `@here` are
 * broken with a zero-width space (outside code, where they would ping). Send with
 * `allowed_mentions: { parse: [] }` as well: that is the platform's own guard.
 */
function discord(md: string): string {
  const walk = (t: Token): string => {
    if (t.type === 'code' || t.type === 'codespan') return t.raw;
    // Discord links only http(s) itself, but an unsafe link is shown as its text, as everywhere.
    if (t.type === 'link' && safeUrl(t.href) === null) return (t.tokens ?? []).map(walk).join('');
    const kids = (t as { tokens?: Token[] }).tokens ?? (t.type === 'list' ? (t as Tokens.List).items : undefined);
    if (!kids) return neutralise(t.raw);
    let out = '', at = 0;
    for (const k of kids) {
      const i = t.raw.indexOf(k.raw, at);
      if (i < 0) return neutralise(t.raw);
      out += neutralise(t.raw.slice(at, i)) + walk(k);
      at = i + k.raw.length;
    }
    return out + neutralise(t.raw.slice(at));
  };
  return new Lexer().lex(md).map(walk).join('');
}
const neutralise = (s: string) => s.replace(/@(everyone|here)/gi, '@\u200b$1');

/**
 * The agent's Markdown written in `dialect`, ready to send (then split with `formatForChannel`).
 *
 *   toDialect('**hi** <b>', 'telegram-html');  // '<b>hi</b> &lt;b&gt;'
 *   toDialect('[docs](https://x.dev)', 'plain'); // 'docs (https://x.dev)'
 */
export function toDialect(markdown: string, dialect: Dialect): string {
  const md = markdown.replace(/\r\n?/g, '\n');
  if (dialect === 'discord') return discord(md).trim();
  return blocks(new Lexer().lex(md), styles[dialect]).trim();
}
