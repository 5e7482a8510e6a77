import { z } from 'zod';
import { HttpChannelConfig } from '../channels/http/config.ts';
import { TerminalChannelConfig } from '../channels/terminal/config.ts';
import { TelegramChannelConfig } from '../channels/telegram/config.ts';
import { SlackChannelConfig } from '../channels/slack/config.ts';
import { DiscordChannelConfig } from '../channels/discord/config.ts';
import { WhatsappChannelConfig } from '../channels/whatsapp/config.ts';
import { EmailChannelConfig } from '../channels/email/config.ts';
import { GmailChannelConfig } from '../channels/gmail/config.ts';
import { ChannelPluginsConfig } from '../channels/plugins-config.ts';
import { TranscriptionConfig } from '../transcription/config.ts';
import { EngineChoiceFields, McpConfig, ProvidersConfig } from './engines.ts';

/**
 * The one place NanoClaw's options are defined. Every field has a default and
 * a description; `nanoclaw config` prints them. Values come from
 * `$NANOCLAW_HOME/config.json`, then `NANOCLAW_<SECTION>_<FIELD>` environment
 * variables (for example `NANOCLAW_CONTAINER_MAX_RUNNING=2`).
 *
 * Secrets never live here: the model key is read from `ANTHROPIC_API_KEY` and
 * stays in the host process.
 */
/** USD per million tokens of each kind a model call is billed for. */
const ModelPriceSchema = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
  cacheWrite: z.number().min(0),
  cacheRead: z.number().min(0),
});

/** Object-valued options arrive from the environment as JSON text. */
function jsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try { return JSON.parse(value); } catch { return value; }
}

/** True for a time zone name the runtime knows (IANA, e.g. "Europe/Berlin"). */
export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const ConfigSchema = z.strictObject({
  security: z.strictObject({
    profile: z.enum(['strict', 'standard']).default('strict').describe('Security preset: "strict" lets limits only be tightened; "standard" lets the operator loosen limits, grant read-write extra mounts and open private egress ranges. The isolation itself (no network, no capabilities, read-only root, no secrets) is the same in both.'),
  }).prefault({}),
  model: z.strictObject({
    baseUrl: z.url().default('https://api.anthropic.com')
      .describe('Endpoint of the "anthropic" provider (unless providers.anthropic redefines it), with the key from ANTHROPIC_API_KEY; env ANTHROPIC_BASE_URL also sets it. Other providers: see providers.'),
    maxCallsInFlight: z.number().int().min(1).max(8).default(2)
      .describe('Most model calls one container may have in flight at once; up to 16 more wait for a slot, further ones get 429 (the engine retries). Budgets are checked as a call leaves, so parallel calls cannot overspend together.'),
    maxRequestBytes: z.number().int().min(64 * 1024).default(32 * 1024 * 1024)
      .describe('Largest model request body a container may send, in bytes; larger ones get 413. The default is the Messages API\'s own limit.'),
    timeoutSec: z.number().int().min(1).default(600)
      .describe('A model call during which the endpoint sends nothing for this long is cut (504 if no answer had started).'),
  }).prefault({}),
  providers: ProvidersConfig,
  mcp: McpConfig,
  channels: z.strictObject({
    api: HttpChannelConfig,
    terminal: TerminalChannelConfig,
    telegram: TelegramChannelConfig,
    slack: SlackChannelConfig,
    discord: DiscordChannelConfig,
    whatsapp: WhatsappChannelConfig,
    email: EmailChannelConfig,
    gmail: GmailChannelConfig,
    plugins: ChannelPluginsConfig,
  }).prefault({}),
  transcription: TranscriptionConfig,
  attachments: z.strictObject({
    maxBytes: z.number().int().min(1024).default(25 * 1024 * 1024)
      .describe('Largest file one inbound message may carry, in bytes; a larger one is refused before anything is stored, with a message that says so. The HTTP API accepts a message body big enough for one such file (base64).'),
    maxBytesByChannel: z.preprocess(jsonText, z.record(z.string().regex(/^[a-z0-9-]+$/), z.number().int().min(1024))).default({})
      .describe('Per-channel overrides of attachments.maxBytes, e.g. {"telegram": 20971520, "api": 104857600}.'),
    retentionDays: z.number().int().min(0).default(30)
      .describe('Stored attachment files are deleted this many days after their message arrived (checked at start and daily; also with the conversation\'s workspace on /end); the message keeps the name, size and checksum. 0 keeps them until /end.'),
  }).prefault({}),
  container: z.strictObject({
    engine: z.enum(['docker', 'podman', 'apple']).default('docker')
      .describe('Container engine: docker (Docker Engine API), podman (Podman\'s Docker-compatible API) or apple (Apple\'s `container` CLI, macOS). See docs/runtimes.md.'),
    podmanSocket: z.string().default('')
      .describe('Podman API socket; empty means /run/podman/podman.sock as root, else $XDG_RUNTIME_DIR/podman/podman.sock.'),
    image: z.string().min(1).default('nanoclaw-agent:latest').describe('Agent image (built by scripts/setup.sh).'),
    runtime: z.enum(['runc', 'runsc']).default('runc').describe('OCI runtime: runc, or runsc for gVisor (a user-space kernel).'),
    runnerRuntime: z.enum(['node', 'bun']).default('bun').describe('JavaScript runtime of the agent runner inside the container: bun (the default: the built-in engine\'s container holds about 17 MiB on Bun against 37 on Node, and starts cold faster; docs/benchmarks.md) or node (Node 24). Both are in the image.'),
    memoryMb: z.number().int().min(64).default(1024).describe('Memory limit per container, MiB (swap is not allowed on top).'),
    cpus: z.number().positive().max(64).default(1).describe('CPU limit per container, in cores.'),
    pidsLimit: z.number().int().min(16).default(256).describe('Most processes and threads one container may run.'),
    tmpfsMb: z.number().int().min(8).default(256).describe('Size of each scratch tmpfs (/tmp and the home folder), MiB.'),
    maxRunning: z.number().int().min(1).default(4).describe('Most conversation containers alive at once; further conversations wait in a queue.'),
    prestart: z.number().int().min(0).max(8).default(1).describe('Pristine containers kept started ahead of need, so a new conversation does not wait for one. Each serves exactly one conversation.'),
    idleTimeoutSec: z.number().int().min(1).default(900).describe('A conversation idle this long has its container destroyed (and its workspace deleted unless memory is on).'),
    turnTimeoutSec: z.number().int().min(1).default(600).describe('A turn running longer than this is stopped and the user told.'),
    turnAttempts: z.number().int().min(1).max(20).default(3).describe('How often a message\'s turn is started (a crash or an internal error mid-turn counts) before the message is answered with an error and set aside, so it cannot block the conversation.'),
    extraMounts: z.array(z.union([
      z.string().min(1).transform((hostPath) => ({ hostPath, readOnly: true })),
      z.strictObject({
        hostPath: z.string().min(1),
        containerPath: z.string().optional(),
        readOnly: z.boolean().default(true),
      }),
    ])).default([]).describe('Extra host folders mounted into agent containers (under /mnt/), each checked against the mount allowlist ($NANOCLAW_MOUNT_ALLOWLIST, default ~/.config/nanoclaw/mount-allowlist.json, outside NANOCLAW_HOME). Read-only unless both this entry and the allowlist say "readOnly": false. Refused ones are audited and left out.'),
  }).prefault({}),
  memory: z.strictObject({
    enabledByDefault: z.boolean().default(false).describe('Give new conversations persistent memory without `/memory on`.'),
  }).prefault({}),
  egress: z.strictObject({
    allow: z.array(z.string()).default([]).describe('Domains every conversation may reach over HTTP(S) through the egress proxy: "example.com", "*.example.com", "example.com:8443". Empty by default: no egress.'),
    allowPrivate: z.array(z.string()).default([]).describe('Address ranges (CIDR) the egress proxy may connect to although they are loopback, private or link-local, e.g. "192.168.1.10/32". Empty by default.'),
    maxConnections: z.number().int().min(1).default(32).describe('Most simultaneous egress connections per container.'),
    maxBytesPerContainer: z.number().int().min(1024).default(1024 * 1024 * 1024).describe('Most bytes one container may move through the egress proxy, each direction.'),
    idleTimeoutSec: z.number().int().min(1).default(300).describe('An egress request or tunnel with no traffic either way for this long is closed.'),
  }).prefault({}),
  access: z.strictObject({
    owners: z.array(z.string().regex(/^[a-z0-9-]+:.+$/, 'expected "channel:sender", e.g. "telegram:12345"')).default([])
      .describe('Senders who own this agent ("channel:sender"); they may use owner commands (/allow, /memory, /pair, /end of other conversations). Senders on the terminal and the HTTP API are always owners.'),
    groups: z.array(z.string().regex(/^[a-z0-9-]+:.+$/, 'expected "channel:chat"')).default([])
      .describe('Group chats ("channel:chat") the agent may answer in, and then only when mentioned or addressed by the trigger word.'),
    triggerWord: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('nanoclaw').describe('Word that addresses the agent in a group chat (as "@word" or "word").'),
  }).prefault({}),
  budget: z.strictObject({
    conversationTokensPerDay: z.number().int().min(0).default(0).describe('Most model tokens (input, output, cache writes and cache reads) one conversation may use per UTC day; 0 means no limit.'),
    globalTokensPerDay: z.number().int().min(0).default(0).describe('Most model tokens (all kinds, as above) all conversations together may use per UTC day; 0 means no limit.'),
    conversationCostPerDayUsd: z.number().min(0).default(0).describe('Most estimated spend (USD, every token kind priced per model, see budget.prices) per conversation per UTC day; 0 means no limit.'),
    globalCostPerDayUsd: z.number().min(0).default(0).describe('Most estimated spend (USD) for all conversations per UTC day; 0 means no limit.'),
    prices: z.preprocess(jsonText, z.record(z.string().min(1), ModelPriceSchema)).default({})
      .describe('Prices that estimate spend, USD per million tokens, by model id prefix (longest match wins), e.g. {"claude-sonnet-4-5": {"input": 3, "output": 15, "cacheWrite": 3.75, "cacheRead": 0.3}}; "*" prices models nothing matches. Laid over the built-in table of current Claude models (docs/configuration.md).'),
  }).prefault({}),
  agent: z.strictObject({
    systemPrompt: z.string().default('').describe('Extra instructions appended to the agent\'s system prompt.'),
    ...EngineChoiceFields,
  }).prefault({}),
  tools: z.strictObject({
    askTimeoutSec: z.number().int().min(10).default(1800).describe('How long the agent\'s question to the user (ask_user), or a mail draft waiting for the owner\'s confirmation (compose_mail), waits for an answer before the agent is told nobody answered. The turn\'s own time limit does not run meanwhile.'),
    outboxMaxFiles: z.number().int().min(0).max(50).default(10).describe('Most files sent from the agent\'s /workspace/outbox after one turn (each within the channel\'s file size limit); the rest wait for the next turn. 0 turns the outbox off.'),
  }).prefault({}),
  tasks: z.strictObject({
    timezone: z.string().default('').refine((tz) => !tz || validTimeZone(tz), { message: 'expected an IANA time zone such as "Europe/Berlin" or "America/New_York"' })
      .describe('Time zone (IANA, e.g. "Europe/Berlin") of scheduled tasks that name none; empty: the host\'s own zone.'),
    maxPerConversation: z.number().int().min(1).max(1000).default(50).describe('Most scheduled tasks (active or paused) one conversation may have.'),
    minIntervalSec: z.number().int().min(1).default(300).describe('Shortest interval a recurring task may have (`every`, or a cron expression\'s shortest gap): a task is a whole agent turn, paid for each time.'),
  }).prefault({}),
  dashboard: z.strictObject({
    enabled: z.boolean().default(true).describe('The web dashboard (`nanoclaw dashboard`), served under /dash on the HTTP API\'s listener; only while channels.api.host is a loopback address.'),
    idleHours: z.number().min(0.05).max(24 * 30).default(12).describe('A dashboard session ends after this many hours without a request from its browser.'),
    maxAgeDays: z.number().min(0.01).max(90).default(7).describe('A dashboard session ends this many days after its login, however active; `nanoclaw dashboard --revoke-all` ends every session at once.'),
  }).prefault({}),
  delivery: z.strictObject({
    maxAttempts: z.number().int().min(1).max(50).default(8).describe('How often an outbound message is handed to its channel before it is given up as failed (the owner sees it in `nanoclaw status` and the agent is told on its next turn). A permanent error (a blocked bot, a deleted chat) fails it at once.'),
    backoffMs: z.number().int().min(10).default(1000).describe('Wait before the first retry of a failed send; it doubles with each further attempt, up to delivery.maxBackoffMs. A channel\'s own retry-after (HTTP 429) is honoured when longer.'),
    maxBackoffMs: z.number().int().min(10).default(5 * 60 * 1000).describe('Longest wait between two attempts to send one message.'),
  }).prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;
