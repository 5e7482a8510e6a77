import { z } from 'zod';
import { defineTool } from './define-tool.ts';
import { htmlToText } from './html-text.ts';
import { runProcess } from './run-process.ts';

const DEFAULT_MAX_CHARS = 30_000;
const MAX_MAX_CHARS = 100_000;
/** Body bytes read at most; the transfer is stopped beyond it. */
const MAX_BODY_BYTES = 3 * 1024 * 1024;
const TIMEOUT_SEC = 30;
const STATUS_MARK = '\n<<web_fetch status>>';

/**
 * `web_fetch`: one http(s) page as readable text. It runs curl, which goes
 * through the container's egress proxy from HTTPS_PROXY / HTTP_PROXY in the
 * tool environment (no other way out exists), follows a few redirects and is
 * bounded in time and size. When the proxy refuses a host (403: not on the
 * allowlist), the answer tells the model that the owner can allow it.
 *
 *   await webFetchTool.run({ url: 'https://example.com/docs', max_chars: 10_000 }, ctx);
 */
export const webFetchTool = defineTool({
  name: 'web_fetch',
  description:
    'Fetch an http(s) URL and get its content as text: HTML pages are turned into readable text (links as [text](url)), ' +
    `text and JSON come back as they are, binary content is described, not shown. Follows up to 5 redirects; gives up after ${TIMEOUT_SEC} s ` +
    `or ${MAX_BODY_BYTES / 1024 / 1024} MB; shows at most max_chars characters (default ${DEFAULT_MAX_CHARS}). ` +
    'Requests go through the egress proxy: hosts not on this conversation\'s allowlist are refused, and the owner can allow one with /allow <domain>. ' +
    'For downloads, APIs with headers or other methods, use shell with curl.',
  schema: z.object({
    url: z.string().min(1).describe('The http:// or https:// URL to fetch.'),
    max_chars: z.number().int().min(1000).max(MAX_MAX_CHARS).optional().describe(`Most characters of content to return; default ${DEFAULT_MAX_CHARS}.`),
  }),
  async run({ url, max_chars: maxChars }, ctx) {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { text: `${url} is not a valid URL; give a full http:// or https:// URL.`, isError: true };
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return { text: `web_fetch fetches http and https URLs only, not ${target.protocol}`, isError: true };

    const chunks: Buffer[] = [];
    let bytes = 0;
    let cutAtLimit = false;
    const r = await runProcess({
      file: 'curl',
      args: [
        '-q', '--silent', '--show-error', '--location', '--max-redirs', '5',
        '--proto', '=http,https', '--proto-redir', '=http,https',
        '--max-time', String(TIMEOUT_SEC), '--max-filesize', String(MAX_BODY_BYTES), '--compressed',
        '--user-agent', 'Mozilla/5.0 (compatible; NanoClaw web_fetch)',
        '--write-out', `%{stderr}${STATUS_MARK}%{http_code}|%{http_connect}|%{content_type}|%{url_effective}\n`,
        '--', target.href,
      ],
      cwd: ctx.cwd,
      env: curlEnv(ctx.env),
      signal: ctx.signal,
      timeoutMs: (TIMEOUT_SEC + 5) * 1000,
      maxChars: 8000,
      onData: (chunk) => {
        const room = MAX_BODY_BYTES - bytes;
        chunks.push(room < chunk.length ? chunk.subarray(0, room) : chunk);
        bytes += Math.min(room, chunk.length);
        if (bytes >= MAX_BODY_BYTES) { cutAtLimit = true; return false; }
      },
    });
    if (r.spawnError) return { text: r.spawnError.code === 'ENOENT' ? 'curl is not installed or not on PATH, so web_fetch cannot work here.' : `Could not start curl: ${r.spawnError.message}`, isError: true };
    if (r.stopped === 'aborted') return { text: 'Interrupted.', isError: true };

    const mark = r.stderr.lastIndexOf(STATUS_MARK);
    const curlMessage = (mark === -1 ? r.stderr : r.stderr.slice(0, mark)).trim();
    const [code = '000', connect = '000', contentType = '', finalUrl = target.href] = mark === -1 ? [] : splitStatus(r.stderr.slice(mark + STATUS_MARK.length).trim());
    const status = Number(code);
    const body = Buffer.concat(chunks);
    const proxyText = body.subarray(0, 2000).toString('utf8');

    // A CONNECT refused by the proxy (https), or its refusal of a forwarded request (http).
    if (connect === '403' || /CONNECT tunnel failed, response 403/.test(curlMessage) || (status === 403 && proxyText.startsWith('NanoClaw egress proxy:'))) {
      const detail = proxyText.startsWith('NanoClaw egress proxy:') ? `\n${proxyText.trim()}` : '';
      return { text: `The egress proxy refused ${target.host} (403). A host must be on this conversation's allowlist: the owner can allow this one with /allow ${target.hostname}.${detail}`, isError: true };
    }
    if (connect === '407' || status === 407) return { text: 'The egress proxy refused the proxy credentials (407): the container\'s proxy settings are wrong; tell the owner.', isError: true };
    if (r.stopped === 'timeout' || (r.exitCode !== 0 && !cutAtLimit)) {
      const why = r.stopped === 'timeout' ? `no answer within ${TIMEOUT_SEC} s` : curlMessage.replace(/^curl: \(\d+\) /, '') || `curl exit code ${r.exitCode}`;
      return { text: `Fetching ${target.href} failed: ${why}.`, isError: true };
    }

    const content = toText(body, contentType);
    const limit = maxChars ?? DEFAULT_MAX_CHARS;
    const shown = content.length > limit
      ? `${content.slice(0, limit)}\n\n[... ${content.length - limit} more characters not shown; call again with a larger max_chars (at most ${MAX_MAX_CHARS}) to see more.]`
      : content;
    const truncated = cutAtLimit ? ` (stopped at ${MAX_BODY_BYTES} bytes)` : '';
    const head = `URL: ${finalUrl}\nStatus: ${status}${contentType ? `, ${contentType}` : ''}, ${bytes} bytes${truncated}`;
    if (status >= 400) return { text: `${head}\nThe server answered HTTP ${status}.\n\n${shown.slice(0, 2000)}`, isError: true };
    return { text: `${head}\n\n${shown}` };
  },
});

/** `http_code|http_connect|content_type|url_effective`: the URL last, as the one field that may hold a `|`. */
function splitStatus(line: string): string[] {
  const parts = line.split('|');
  return [...parts.slice(0, 3), parts.slice(3).join('|')];
}

/**
 * curl reads the proxy for http:// only from lowercase http_proxy (the
 * uppercase name is ignored, as CGI servers set it from a request header),
 * so the lowercase name is filled in from the uppercase one when missing.
 */
function curlEnv(env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  for (const name of ['http_proxy', 'https_proxy', 'no_proxy']) {
    const upper = env[name.toUpperCase()];
    if (out[name] === undefined && upper !== undefined) out[name] = upper;
  }
  return out;
}

function toText(body: Buffer, contentType: string): string {
  const type = contentType.split(';')[0].trim().toLowerCase();
  const charset = /charset\s*=\s*"?([\w.:-]+)/i.exec(contentType)?.[1];
  const looksHtml = type === 'text/html' || type === 'application/xhtml+xml' || (type === '' && /^\s*<(!doctype html|html)/i.test(body.subarray(0, 512).toString('latin1')));
  const textual = looksHtml || type.startsWith('text/') || /[/+](json|xml|javascript|ecmascript|yaml|x-yaml|csv|markdown)$/.test(type) || type === '';
  if (!textual || body.subarray(0, 8192).includes(0)) {
    return `(binary content, ${type || 'unknown type'}, ${body.length} bytes: not shown. Download it with shell and curl -o if you need the file.)`;
  }
  let text: string;
  try {
    text = new TextDecoder(charset ?? 'utf-8').decode(body);
  } catch {
    text = body.toString('utf8'); // an encoding this runtime does not know
  }
  return looksHtml ? htmlToText(text) : text;
}
