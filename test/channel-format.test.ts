import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatForChannel, safeUrl, splitHtml, splitMessage, toDialect } from '../src/channels/format/index.ts';

const TELEGRAM_TAGS = new Set(['b', 'i', 'u', 's', 'code', 'pre', 'a', 'blockquote', 'tg-spoiler']);

/** Throws unless `html` is what Telegram's HTML parse mode accepts: known tags, balanced, text escaped. */
function assertTelegramHtml(html: string): void {
  const stack: string[] = [];
  for (const m of html.matchAll(/<(\/?)([^\s>]*)[^>]*>|&([#a-z0-9]+);|[<>&]/gi)) {
    if (m[0] === '<' || m[0] === '>' || m[0] === '&') assert.fail(`unescaped ${m[0]} in ${html}`);
    if (m[3] !== undefined) { assert.ok(['amp', 'lt', 'gt', 'quot'].includes(m[3]), `entity &${m[3]};`); continue; }
    assert.ok(TELEGRAM_TAGS.has(m[2]), `tag <${m[2]}> is not one Telegram allows: ${html}`);
    if (m[1]) assert.equal(stack.pop(), m[2], `unbalanced </${m[2]}> in ${html}`);
    else stack.push(m[2]);
  }
  assert.deepEqual(stack, [], `unclosed tags in ${html}`);
}

const isLoneSurrogate = (s: string) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

describe('splitMessage', () => {
  it('returns text at exactly the limit as one part, and one more character as two', () => {
    const text = 'a'.repeat(2000);
    assert.deepEqual(splitMessage(text, { maxLength: 2000 }), [text]);
    const parts = splitMessage(text + 'b', { maxLength: 2000 });
    assert.equal(parts.length, 2);
    assert.equal(parts.join(''), text + 'b');
  });

  it('cuts at a paragraph break before a line break, and at a line break before a space', () => {
    const para = `${'x '.repeat(30)}\n\n${'y '.repeat(30)}\nz z z`;
    assert.equal(splitMessage(para, { maxLength: 100 })[0], 'x '.repeat(30).trim());
    const lines = `${'x '.repeat(30)}\n${'y '.repeat(30)}`;
    assert.equal(splitMessage(lines, { maxLength: 100 })[0], 'x '.repeat(30).trim());
    const words = 'word '.repeat(30);
    for (const part of splitMessage(words, { maxLength: 32 })) assert.match(part, /^(word ?)+$/);
  });

  it('never cuts an emoji, a flag or a family at the limit, and never leaves a lone surrogate', () => {
    const hostile = ['😀', '🇫🇷', '👨‍👩‍👧‍👦', 'é'].map((g) => 'a'.repeat(97) + g.repeat(40)).join('');
    const parts = splitMessage(hostile, { maxLength: 100 });
    assert.equal(parts.join(''), hostile);
    for (const p of parts) {
      assert.ok(p.length <= 100);
      assert.ok(!isLoneSurrogate(p), `lone surrogate in ${JSON.stringify(p)}`);
      assert.ok(!p.startsWith('\u200d') && !p.endsWith('\u200d'), 'a ZWJ family was cut');
    }
  });

  it('breaks one grapheme with thousands of combining marks at code points, within the limit', () => {
    const zalgo = 'Z' + '\u0301'.repeat(5000);
    const parts = splitMessage(zalgo, { maxLength: 100 });
    assert.equal(parts.join(''), zalgo);
    for (const p of parts) assert.ok(p.length <= 100);
  });

  it('keeps a long grapheme whole when the measure counts it as one', () => {
    const zalgo = ('Z' + '\u0301'.repeat(300)).repeat(30);
    const parts = splitMessage(zalgo, { maxLength: 20, measure: (s) => [...new Intl.Segmenter().segment(s)].length });
    assert.deepEqual(parts.map((p) => p.length), [6020, 3010]);
    assert.equal(parts.join(''), zalgo);
  });

  it('closes a 10,000-character code block at each cut and reopens it with its language', () => {
    const code = Array.from({ length: 700 }, (_, i) => `  let v${i} = ${i};`).join('\n');
    assert.ok(code.length > 10_000);
    const parts = splitMessage(`Here:\n\n\`\`\`ts\n${code}\n\`\`\`\n\nDone.`, { maxLength: 2000 });
    assert.ok(parts.length >= 6);
    const inner = parts.filter((p) => p.includes('let v'));
    for (const p of parts) assert.ok(p.length <= 2000 && p.trim() !== '');
    for (const p of inner.slice(1)) assert.ok(p.startsWith('```ts\n'), `part does not reopen the fence: ${p.slice(0, 30)}`);
    for (const p of inner) assert.ok(p.endsWith('\n```') || p.endsWith('```\n\nDone.'), `part does not close the fence: ${p.slice(-30)}`);
    // The code itself survives whole: every line once, in order, indentation kept.
    const lines = inner.join('\n').split('\n').filter((l) => l.includes('let v'));
    assert.deepEqual(lines, code.split('\n'));
  });

  it('honours a custom measure (code points) and produces no empty part from blank input', () => {
    const parts = splitMessage('😀'.repeat(150), { maxLength: 100, measure: (s) => [...s].length });
    assert.deepEqual(parts.map((p) => [...p].length), [100, 50]);
    assert.deepEqual(splitMessage(' \n\n \n', { maxLength: 100 }), []);
  });

  it('refuses a limit too small to hold a part, saying what to do', () => {
    assert.throws(() => splitMessage('abc', { maxLength: 3 }), /use at least 16/);
  });
});

describe('Markdown to each dialect', () => {
  const hostile = '**bold** <script>alert(1)</script> & *it* `<b>&amp;` [x](javascript:alert(1)) [ok](https://a.dev/?q=1&r=<2>)';

  it('telegram-html: only allowed tags, all text escaped, code never reformatted, javascript: link shown as text', () => {
    const html = toDialect(hostile, 'telegram-html');
    assertTelegramHtml(html);
    assert.match(html, /<b>bold<\/b> &lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; <i>it<\/i> <code>&lt;b&gt;&amp;amp;<\/code> x /);
    assert.ok(!html.includes('javascript'), html);
    assert.match(html, /<a href="https:\/\/a\.dev\/\?q=1&amp;r=&lt;2&gt;">ok<\/a>/);
  });

  it('telegram-html: a link URL cannot break out of its attribute', () => {
    const html = toDialect('[x](https://a.dev/"><b>onclick=)', 'telegram-html');
    assertTelegramHtml(html);
    assert.ok(!html.includes('"><'), html);
  });

  it('telegram-html: a fenced block keeps its language and its text, * and _ included', () => {
    const html = toDialect('```python\nx = a * b_c  # <tag>\n```', 'telegram-html');
    assert.equal(html, '<pre><code class="language-python">x = a * b_c  # &lt;tag&gt;</code></pre>');
    assert.equal(toDialect('```"><script>\nx\n```', 'telegram-html'), '<pre>x</pre>');
  });

  it('plain: markup removed, links as "text (url)", unsafe links as their text', () => {
    assert.equal(toDialect('# Hi\n\n**a** _b_ `c*d*` [docs](https://x.dev) [bad](javascript:void(0))', 'plain'),
      'Hi\n\na b c*d* docs (https://x.dev) bad');
  });

  it('slack-mrkdwn: & < > escaped, *bold* _italic_ ~strike~ `code`, <url|text> links, no workspace pings', () => {
    const out = toDialect('**b** *i* ~~s~~ `a<b` <!everyone> [t|x](https://a.dev/a|b) [j](javascript:x)\n\n```\n1 < 2\n```', 'slack-mrkdwn');
    assert.equal(out, '*b* _i_ ~s~ `a&lt;b` &lt;!everyone&gt; <https://a.dev/a%7Cb|t¦x> j\n\n```\n1 &lt; 2\n```');
  });

  it('whatsapp: its own markers, links spelled out', () => {
    assert.equal(toDialect('# T\n\n**b** *i* ~~s~~ `c` [l](https://a.dev)\n\n```\nx\n```', 'whatsapp'),
      '*T*\n\n*b* _i_ ~s~ `c` l (https://a.dev)\n\n```x```');
  });

  it('discord: Markdown passes through, @everyone and @here neutralised outside code, unsafe links as text', () => {
    const out = toDialect('**hi** @everyone and @here `@everyone`\n\n```\n@here\n```\n\n[x](javascript:alert(1))', 'discord');
    assert.equal(out, '**hi** @\u200beveryone and @\u200bhere `@everyone`\n\n```\n@here\n```\n\nx');
  });

  it('survives unbalanced Markdown without dropping text', () => {
    for (const dialect of ['telegram-html', 'plain', 'slack-mrkdwn', 'whatsapp', 'discord'] as const) {
      const out = toDialect('**open *nested `tick\n\n```js\nnever closed <i>', dialect);
      assert.ok(out.includes('open') && out.includes('never closed'), `${dialect}: ${out}`);
      if (dialect === 'telegram-html') assertTelegramHtml(out);
    }
  });

  it('safeUrl keeps http(s) and mailto only', () => {
    assert.equal(safeUrl('https://a.dev'), 'https://a.dev');
    assert.equal(safeUrl('mailto:a@b.c'), 'mailto:a@b.c');
    for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:x', 'data:text/html,x', 'tg://resolve', 'relative/path']) assert.equal(safeUrl(bad), null);
  });
});

describe('splitting converted text', () => {
  it('telegram-html: every part is valid on its own; tags cut across parts are closed and reopened', () => {
    const md = `**${'bold words '.repeat(300)}end** and [a link ${'x '.repeat(50)}](https://a.dev) <&> ${'😀'.repeat(300)}`;
    const parts = formatForChannel(md, 'telegram-html', { maxLength: 500 });
    assert.ok(parts.length > 6);
    for (const p of parts) { assert.ok(p.length <= 500); assertTelegramHtml(p); assert.ok(!isLoneSurrogate(p)); }
    assert.ok(parts[1].startsWith('<b>') && parts[1].endsWith('</b>'));
  });

  it('telegram-html: a 10,000-character code block becomes parts that each reopen <pre><code class>', () => {
    const code = Array.from({ length: 800 }, (_, i) => `x${i} = a < b && c`).join('\n');
    const parts = formatForChannel('```js\n' + code + '\n```', 'telegram-html', { maxLength: 4096 });
    assert.ok(parts.length >= 4);
    for (const p of parts) { assertTelegramHtml(p); assert.ok(p.length <= 4096); assert.ok(p.startsWith('<pre><code class="language-js">')); }
  });

  it('telegram-html: never cuts an entity', () => {
    const parts = splitHtml('&amp;'.repeat(100), { maxLength: 32 });
    for (const p of parts) assert.match(p, /^(&amp;)+$/);
    assert.equal(parts.join(''), '&amp;'.repeat(100));
  });

  it('discord: long Markdown splits within 2000 with fences balanced', () => {
    const parts = formatForChannel('```\n' + 'y'.repeat(5000) + '\n```', 'discord', { maxLength: 2000 });
    for (const p of parts) { assert.ok(p.length <= 2000); assert.equal((p.match(/```/g) ?? []).length % 2, 0); }
  });
});
