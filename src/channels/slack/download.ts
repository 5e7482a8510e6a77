/**
 * Downloads a file a user shared in Slack (`url_private`), which needs the bot token as a bearer
 * token. The URL comes from an event, so the token is only ever sent to Slack's own hosts (or to
 * the configured API host, a stand-in or GovSlack): an event naming another host must not make
 * the gateway hand its token to that host. The body is read up to `maxBytes` and no further,
 * whatever Content-Length claimed.
 */

/** A file too large for the message it came with; the message says so in words for the sender. */
export class FileTooLargeError extends Error {
  override name = 'FileTooLargeError';
}

/** True when `url` may receive the bot token: https on a Slack host, or the API's own origin. */
export function mayCarryToken(url: string, apiBaseUrl: string): boolean {
  let u: URL;
  let api: URL;
  try { u = new URL(url); api = new URL(apiBaseUrl); } catch { return false; }
  if (u.origin === api.origin) return true;
  if (u.protocol !== 'https:') return false;
  return ['slack.com', 'slack-gov.com', 'slack-edge.com'].some((d) => u.hostname === d || u.hostname.endsWith(`.${d}`));
}

/**
 * The file's bytes, at most `maxBytes` of them (else `FileTooLargeError`).
 *
 *   const data = await downloadSlackFile(file.url_private_download, { token, apiBaseUrl, maxBytes: 20e6 });
 */
export async function downloadSlackFile(url: string, opts: { token: string; apiBaseUrl: string; maxBytes: number; name: string; timeoutMs?: number }): Promise<Buffer> {
  if (!mayCarryToken(url, opts.apiBaseUrl)) throw new Error(`refusing to download "${opts.name}" from ${url.slice(0, 200)}: not a Slack file URL`);
  const res = await fetch(url, { headers: { authorization: `Bearer ${opts.token}` }, signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000) });
  if (!res.ok || !res.body) throw new Error(`downloading "${opts.name}" answered HTTP ${res.status}`);
  const declared = Number(res.headers.get('content-length'));
  const tooLarge = () => new FileTooLargeError(`"${opts.name}" is over the limit of ${opts.maxBytes} bytes for one message`);
  if (declared > opts.maxBytes) { await res.body.cancel(); throw tooLarge(); }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.length;
    if (total > opts.maxBytes) throw tooLarge();
    chunks.push(Buffer.from(chunk));
  }
  // Slack answers a login page (HTML, 200) instead of the file when the token lacks files:read.
  if ((res.headers.get('content-type') ?? '').startsWith('text/html') && /^\s*<!DOCTYPE html/i.test(Buffer.concat(chunks.slice(0, 1)).toString('utf8', 0, 100))) {
    throw new Error(`downloading "${opts.name}" returned a web page instead of the file: give the app the files:read scope and reinstall it`);
  }
  return Buffer.concat(chunks);
}
