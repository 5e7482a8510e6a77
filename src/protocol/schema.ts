/**
 * The host protocol's messages as one zod schema per direction, and the
 * TypeScript types inferred from them. Both ends check every line they
 * receive against these: the runner is untrusted (an agent may have taken it
 * over), so nothing it sends is believed before it has the right shape and
 * size. Objects are strict (an unknown key is refused) and every string and
 * array is bounded, so a message the host accepts can be stored, shown and
 * audited without further checks.
 *
 * The runner imports this file, and only runner/src and src/protocol go into
 * the agent image: import nothing here but zod.
 *
 *   const r = RunnerToHost.safeParse(JSON.parse(line));
 *   if (!r.success) throw new Error(describeIssues(r.error));
 */
import { z } from 'zod';

/**
 * The protocol's version, sent by the runner in `hello` and checked by the
 * host: a runner from another build is stopped with a clear reason instead of
 * half-understanding the stream. Bump it with any change to a message's shape.
 */
export const PROTOCOL_VERSION = 6;

/**
 * Bounds on every field, in characters (UTF-16 code units, what
 * `string.length` counts). The runner clips what it sends to these, so only a
 * runner gone wrong ever meets them.
 */
export const LIMITS = {
  /** One line of NDJSON, either direction. */
  line: 4 * 1024 * 1024,
  /** Message ids (the host's inbound id) and the engine's session id. */
  id: 256,
  /** Names: runner version, engine, tool. */
  name: 128,
  /** Progress, log and error texts. */
  text: 8 * 1024,
  /** Replies in one `turn_end`. */
  replies: 32,
  /**
   * All replies of one turn together. Far below `line`, so that even a reply
   * made of characters JSON escapes six-fold (control characters) fits a line.
   */
  repliesTotal: 512 * 1024,
  /** A user message with its attachment notes (host to runner). */
  messageText: 512 * 1024,
  /** The operator's extra system prompt (host to runner). */
  systemPrompt: 256 * 1024,
  /** Conversation ids and sender ids (host to runner). */
  key: 1024,
  /** Host tool calls in one turn: `call` numbers run from 1 to this. */
  callsPerTurn: 500,
  /** Host tool calls of one turn that may be open (sent, not yet answered) at once. */
  callsOpen: 4,
  /** A message the agent sends mid-turn, and the text or error a host tool answers with. */
  callText: 64 * 1024,
  /** A file path the agent names (send_file). */
  path: 4096,
  /** A question to the user, a file's caption. */
  question: 4 * 1024,
  /** Choices offered with a question, and the length of each. */
  choices: 10,
  choice: 100,
  /** Attachments of one user message (paths in /workspace/inbox). */
  attachments: 20,
  /** Recipients of one composed mail, and the length of an address (RFC 5321's path limit). */
  recipients: 10,
  address: 254,
  /** A composed mail's subject. */
  subject: 300,
  /** Providers in a conversation's chain, and MCP servers offered to it. */
  providers: 8,
  mcpServers: 16,
  /** An MCP server's command line: arguments, and the length of each (and of a URL). */
  args: 64,
  arg: 4096,
  /** A scheduled task's schedule (`every 2h`, `cron 0 7 * * 1-5`), prompt and name. */
  schedule: 200,
  taskPrompt: 8 * 1024,
  taskName: 100,
} as const;

const id = z.string().min(1).max(LIMITS.id);
const name = z.string().min(1).max(LIMITS.name);
const text = z.string().max(LIMITS.text);
/** A host tool call's number within its turn. */
const callNumber = z.number().int().min(1).max(LIMITS.callsPerTurn);

/**
 * The agent engines a runner can host. `start` names the conversation's, and
 * a runner refuses a start for an engine it does not host; the host keeps its
 * pre-started containers per engine.
 */
export const ENGINES = ['claude', 'builtin'] as const;
export type EngineName = typeof ENGINES[number];

// --- host to runner --------------------------------------------------------------

/**
 * A model the built-in engine may call: the provider's name (the engine
 * reaches it at `<model bridge>/p/<name>`, where the host's credential proxy
 * adds the key), its wire format, the model id and its limits. No key and no
 * upstream address: those stay on the host.
 */
const ProviderSpec = z.strictObject({
  name,
  kind: z.enum(['anthropic', 'openai']),
  model: name,
  contextTokens: z.number().int().min(1024).max(10_000_000),
  maxOutputTokens: z.number().int().min(1).max(1_000_000),
});
export type ProviderSpec = z.infer<typeof ProviderSpec>;

/**
 * An MCP server the conversation's engines may use: a stdio server the runner
 * starts inside the container, or a Streamable HTTP server reached through
 * the egress proxy (its host must be on the allowlist).
 */
const McpServerSpec = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('stdio'), name,
    command: z.string().min(1).max(LIMITS.path),
    args: z.array(z.string().max(LIMITS.arg)).max(LIMITS.args),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).max(LIMITS.name), z.string().max(LIMITS.arg)),
  }),
  z.strictObject({ type: z.literal('http'), name, url: z.url().max(LIMITS.arg) }),
]);
export type McpServerSpec = z.infer<typeof McpServerSpec>;

/**
 * Binds a pristine container to its conversation; sent once, before any
 * message. `providers` is the built-in engine's chain, first choice first
 * (the Claude engine uses the first Anthropic one); `mcpServers` the
 * conversation's MCP servers.
 */
const Start = z.strictObject({
  type: z.literal('start'),
  conversation: z.string().min(1).max(LIMITS.key),
  engine: z.enum(ENGINES),
  resumeSession: id.optional(),
  memory: z.boolean(),
  systemPrompt: z.string().max(LIMITS.systemPrompt).optional(),
  providers: z.array(ProviderSpec).max(LIMITS.providers).optional(),
  mcpServers: z.array(McpServerSpec).max(LIMITS.mcpServers).optional(),
});
/**
 * One user message; the runner answers with events and exactly one
 * `turn_end`. The sender is the channel's id for the person (and their
 * display name where the channel has one), so the engine can tell the people
 * of a group chat apart; both are theirs to choose, so the runner shows them
 * to the engine as data, never as instructions. `attachments` are the files
 * that came with the message, already in the inbox: their paths in the
 * container (names sanitised by the host) and sizes.
 */
const Message = z.strictObject({
  type: z.literal('message'),
  id,
  text: z.string().max(LIMITS.messageText),
  sender: z.strictObject({ id: z.string().max(LIMITS.key), name: name.optional() }),
  attachments: z.array(z.strictObject({ path: z.string().min(1).max(LIMITS.path), bytes: z.number().int().min(0) })).max(LIMITS.attachments).optional(),
});
/**
 * Asks the runner to abort the running turn for message `id`: it answers with
 * that turn's `turn_end` (`ok: false, code: 'interrupted'`) and stays ready
 * for the next message. An `interrupt` for a turn that already ended is ignored.
 */
const Interrupt = z.strictObject({ type: z.literal('interrupt'), id });
/** Asks the runner to finish and exit. */
const Stop = z.strictObject({ type: z.literal('stop') });

/**
 * The host's answer to the runner's `call` with the same (id, call): the
 * tool's text for the agent, or why it failed (also for the agent to read).
 */
const CallResult = z.discriminatedUnion('ok', [
  z.strictObject({ type: z.literal('call_result'), id, call: callNumber, ok: z.literal(true), text: z.string().max(LIMITS.callText) }),
  z.strictObject({ type: z.literal('call_result'), id, call: callNumber, ok: z.literal(false), error: z.string().max(LIMITS.callText) }),
]);

export const HostToRunner = z.discriminatedUnion('type', [Start, Message, Interrupt, Stop, CallResult]);
export type HostToRunner = z.infer<typeof HostToRunner>;

// --- runner to host --------------------------------------------------------------

/** First line after connecting: the runner is up and waiting for `start`. */
const Hello = z.strictObject({
  type: z.literal('hello'),
  protocol: z.number().int(),
  runner: name,
  engine: name,
});
/** The engine's session id, so a fresh container can resume it after a crash. */
const Session = z.strictObject({ type: z.literal('session'), sessionId: id });
/** Progress during a turn (tool calls, interim text), for live views. */
const Progress = z.strictObject({
  type: z.literal('progress'),
  id,
  kind: z.enum(['tool_use', 'text', 'tool_result']),
  tool: name.optional(),
  text,
});
/**
 * Why a turn failed, so the host acts on a code instead of on an engine's
 * wording. The runner sends `session_lost` (the session to resume is gone),
 * `oom` (the engine process was killed, most likely by the memory limit),
 * `engine` (any other engine failure) and `interrupted` (after `interrupt`);
 * the host sets `timeout`, `oom` and `engine` itself when the container ends,
 * and `refused` when a message could not be passed to the agent.
 */
export const FAILURE_CODES = ['session_lost', 'oom', 'timeout', 'engine', 'refused', 'interrupted'] as const;
export type FailureCode = typeof FAILURE_CODES[number];

/** The end of the turn for message `id`: the replies to deliver, or an error. */
const TurnEnd = z.discriminatedUnion('ok', [
  z.strictObject({
    type: z.literal('turn_end'),
    id,
    ok: z.literal(true),
    replies: z.array(z.string().max(LIMITS.repliesTotal)).max(LIMITS.replies)
      .refine((r) => r.reduce((n, s) => n + s.length, 0) <= LIMITS.repliesTotal,
        { message: `replies over ${LIMITS.repliesTotal} characters in all` }),
  }),
  z.strictObject({ type: z.literal('turn_end'), id, ok: z.literal(false), code: z.enum(FAILURE_CODES), error: text }),
]);
/**
 * The tools the agent may ask the host to run during a turn: things only the
 * host can do, since only it holds the channel to the person. Each has a
 * strict, bounded input; the engine offers them to the model under these
 * names (the Claude engine as `mcp__nanoclaw__<name>`).
 *
 * - `send_message`: a message to the user now, before the turn ends.
 * - `send_file`: a file in the container's /workspace (a path absolute or
 *   relative to it), with an optional caption.
 * - `ask_user`: a question, with optional choices; answered with the
 *   person's reply, however long they take (the host pauses the turn's
 *   timeout while it waits).
 * - `compose_mail`: a new mail (not a reply) to addresses the agent names,
 *   through the email or Gmail channel (`via`, else the only one running).
 *   Only in the owner's own conversations, and sent only after the owner
 *   answered "Send" to the draft shown to them: an agent that mails
 *   addresses of its choosing could carry data anywhere.
 * - `schedule_task`: a task in this conversation: a prompt run as a turn of
 *   its own at a time (`at 2026-12-24 18:00`, `in 20m`), on a cron
 *   expression (`cron 0 7 * * 1-5`) in an IANA zone, or at an interval
 *   (`every 2h`); `missed` says what a run due while the gateway was down
 *   does (run once when it is back, or skip).
 * - `list_tasks`, `change_task`: this conversation's tasks; pause, resume,
 *   cancel or edit one.
 * - `propose_skill`: a skill folder the agent drafted in /workspace, put to
 *   the owner, who approves or rejects it (/skills approve <n>); only in the
 *   owner's conversations, and never active before the owner said yes.
 */
export const HOST_TOOLS = ['send_message', 'send_file', 'ask_user', 'compose_mail', 'schedule_task', 'list_tasks', 'change_task', 'propose_skill'] as const;
export type HostToolName = typeof HOST_TOOLS[number];

export const HostToolInputs = {
  send_message: z.strictObject({ text: z.string().min(1).max(LIMITS.callText) }),
  send_file: z.strictObject({
    path: z.string().min(1).max(LIMITS.path),
    caption: z.string().max(LIMITS.question).optional(),
  }),
  ask_user: z.strictObject({
    question: z.string().min(1).max(LIMITS.question),
    choices: z.array(z.string().min(1).max(LIMITS.choice)).max(LIMITS.choices).optional(),
  }),
  compose_mail: z.strictObject({
    to: z.array(z.string().min(3).max(LIMITS.address)).min(1).max(LIMITS.recipients),
    subject: z.string().max(LIMITS.subject),
    text: z.string().max(LIMITS.callText),
    via: z.enum(['email', 'gmail']).optional(),
  }),
  schedule_task: z.strictObject({
    schedule: z.string().min(1).max(LIMITS.schedule),
    prompt: z.string().min(1).max(LIMITS.taskPrompt),
    name: z.string().min(1).max(LIMITS.taskName).optional(),
    timezone: z.string().min(1).max(LIMITS.name).optional(),
    missed: z.enum(['run', 'skip']).optional(),
  }),
  list_tasks: z.strictObject({}),
  change_task: z.strictObject({
    id: z.number().int().min(1),
    action: z.enum(['pause', 'resume', 'cancel', 'edit']),
    schedule: z.string().min(1).max(LIMITS.schedule).optional(),
    prompt: z.string().min(1).max(LIMITS.taskPrompt).optional(),
    name: z.string().min(1).max(LIMITS.taskName).optional(),
    timezone: z.string().min(1).max(LIMITS.name).optional(),
    missed: z.enum(['run', 'skip']).optional(),
  }),
  propose_skill: z.strictObject({
    path: z.string().min(1).max(LIMITS.path),
    note: z.string().max(LIMITS.question).optional(),
  }),
} as const;
export type HostToolInput<T extends HostToolName> = z.infer<typeof HostToolInputs[T]>;

/**
 * A host tool call during the running turn for message `id`. `call` numbers
 * the turn's calls from 1 in the order the engine issues them; the host
 * answers each with a `call_result` and refuses (as a protocol violation) a
 * call for a turn that is not running, a number it has already seen in this
 * turn or out of order, more than LIMITS.callsOpen calls open at once, and
 * more than LIMITS.callsPerTurn in a turn (the schema's bound on `call`).
 *
 * (id, call) is the call's idempotency key. A turn re-run after a crash (in a
 * new container, for the same message id) numbers its calls from 1 again, so
 * its call 1 is the crashed run's call 1: the host answers a key it has
 * already acted on from what it stored, instead of sending the message or
 * asking the question twice.
 */
const callOf = <T extends HostToolName>(tool: T) => z.strictObject({
  type: z.literal('call'), id, call: callNumber, tool: z.literal(tool), input: HostToolInputs[tool],
});
const Call = z.discriminatedUnion('tool', [
  callOf('send_message'), callOf('send_file'), callOf('ask_user'), callOf('compose_mail'),
  callOf('schedule_task'), callOf('list_tasks'), callOf('change_task'), callOf('propose_skill'),
]);

/**
 * Which model answered turn `id`, sent before its `turn_end` when that is not
 * the chain's first choice: the providers tried before it and why each was
 * passed over. The host tells the user and audits it.
 */
const ModelUsed = z.strictObject({
  type: z.literal('model'),
  id,
  provider: name,
  model: name,
  passedOver: z.array(z.strictObject({ provider: name, error: text })).max(LIMITS.providers),
});

/** A log line worth keeping on the host. */
const Log = z.strictObject({ type: z.literal('log'), level: z.enum(['info', 'warn', 'error']), text });

export const RunnerToHost = z.discriminatedUnion('type', [Hello, Session, Progress, TurnEnd, Call, ModelUsed, Log]);
export type RunnerToHost = z.infer<typeof RunnerToHost>;

/**
 * One host tool call as the host's handler sees it: the `call` message
 * without its framing, discriminated on `tool`.
 *
 *   const c: HostToolCall = { id: 'm1', call: 1, tool: 'send_message', input: { text: 'On it.' } };
 *   if (c.tool === 'ask_user') console.log(c.input.question);
 */
export type HostToolCall = { [T in HostToolName]: { id: string; call: number; tool: T; input: HostToolInput<T> } }[HostToolName];

/**
 * What a host tool answers: text for the agent, or an error the agent reads
 * (a failed tool is not a failed turn).
 *
 *   const ok: HostToolResult = { ok: true, text: 'sent' };
 *   const failed: HostToolResult = { ok: false, error: 'no such file: report.pdf' };
 */
export type HostToolResult = { ok: true; text: string } | { ok: false; error: string };

/** The progress kinds, for the engine interface and live views. */
export type ProgressKind = z.infer<typeof Progress>['kind'];
/** How a turn ended, as the runner reports it (without the message framing). */
export type TurnOutcome = { ok: true; replies: string[] } | { ok: false; code: FailureCode; error: string };

/**
 * A short, bounded account of why a message was refused, safe to log and
 * audit: the first issues' paths and zod's messages, never the offending
 * values (they are the untrusted party's text, and may be huge).
 *
 *   describeIssues(r.error) // "progress.text: expected string, received number"
 */
export function describeIssues(error: z.ZodError, type?: unknown): string {
  const where = typeof type === 'string' && /^[a-z_]{1,32}$/.test(type) ? `${type}.` : '';
  const parts = error.issues.slice(0, 3).map((i) => {
    const path = i.path.map(String).join('.').slice(0, 60);
    return `${path ? `${where}${path}` : where.slice(0, -1) || 'message'}: ${i.message.slice(0, 120)}`;
  });
  if (error.issues.length > 3) parts.push(`and ${error.issues.length - 3} more`);
  return parts.join('; ');
}
