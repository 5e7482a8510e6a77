/**
 * The answer of one management operation (tasks, skills), the same whether
 * it came from a chat command, the CLI, the HTTP API or a host tool: a text
 * a person reads, and data for `--json` and API clients.
 *
 *   return { ok: false, text: 'No task 7 in this conversation; /tasks lists them.' };
 */
export interface OpResult {
  ok: boolean;
  text: string;
  data?: unknown;
}

/** Who asked for an operation, for the audit log and for permission checks. */
export interface OpActor {
  /** `cli`, `api`, `bundled` (bundled skills at start), `<channel>:<sender>`, or `task:<id>` (a scheduled task's run, never an owner). */
  actor: string;
  /** The owner (config access.owners, the terminal, the API, the CLI) may do everything; others only what the operation allows. */
  owner: boolean;
}
