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
 * Normalizes an egress allowlist entry typed in a chat: `example.com`,
 * `*.example.com`, either with `:port`. Returns undefined for anything else.
 */
export function normalizeEgressEntry(raw: string): string | undefined {
  const entry = raw.trim().toLowerCase().replace(/\.$/, '').replace(/\.(:\d+)$/, '$1');
  const m = /^(\*\.)?((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?::(\d{1,5}))?$/.exec(entry);
  if (!m) return undefined;
  if (m[3] && (Number(m[3]) < 1 || Number(m[3]) > 65535)) return undefined;
  return entry;
}
