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
