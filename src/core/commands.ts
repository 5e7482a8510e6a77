import { parseAllowEntry } from '../sandbox/egress-policy.ts';

/**
 * Commands a user can type in any conversation. They are handled by the
 * gateway and never reach the agent.
 *
 *   parseCommand('/memory on')  // { name: 'memory', arg: 'on' }
 *   parseCommand('hello')       // undefined
 */
export function parseCommand(text: string): { name: string; arg: string } | undefined {
  const m = /^\/([a-z]+)(?:\s+(.*))?$/i.exec(text.trim());
  if (!m) return undefined;
  return { name: m[1].toLowerCase(), arg: (m[2] ?? '').trim().toLowerCase() };
}

/**
 * Normalizes an egress allowlist entry typed in a chat (`example.com`,
 * `*.example.com`, `example.com:8443`, IP literals) the way the egress
 * proxy reads it. Returns undefined for anything else.
 */
export function normalizeEgressEntry(raw: string): string | undefined {
  const e = parseAllowEntry(raw);
  if (!e) return undefined;
  const host = e.kind === 'wildcard' ? `*.${e.host}` : e.host.includes(':') ? `[${e.host}]` : e.host;
  return e.port ? `${host}:${e.port}` : host;
}
