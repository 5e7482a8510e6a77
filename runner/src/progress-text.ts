/** Longest progress text sent to the host for one tool call or result. */
const PROGRESS_LIMIT = 2000;

/**
 * A tool call's input as one line for live views and the audit log: the
 * field that says what it does (a command, a path, a URL), else its JSON.
 *
 *   summarizeInput({ command: 'ls -la' })   // 'ls -la'
 */
export function summarizeInput(input: unknown): string {
  if (input && typeof input === 'object') {
    const o = input as Record<string, unknown>;
    // A composed mail (compose_mail): recipients and subject; its text stays out of live views and the audit log.
    if (Array.isArray(o.to) && typeof o.subject === 'string') return `to ${o.to.join(', ')}: ${o.subject}`;
    for (const key of ['command', 'file_path', 'path', 'pattern', 'url', 'query']) {
      if (typeof o[key] === 'string') return o[key] as string;
    }
  }
  return JSON.stringify(input);
}

/** Progress text within PROGRESS_LIMIT, saying how much was cut. */
export function truncate(s: string): string {
  return s.length > PROGRESS_LIMIT ? `${s.slice(0, PROGRESS_LIMIT)}… (${s.length - PROGRESS_LIMIT} more characters)` : s;
}
