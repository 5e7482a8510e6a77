// The `core` entry: the same API without the root bundle's own copies of zod
// and the MCP SDK (the runner has both), about 10 MiB less in the runner.
import { query, type Query, type SDKMessage, type SDKUserMessage } from '@anthropic-ai/claude-agent-sdk/core';
import type { FailureCode, ProviderSpec } from '../../../src/protocol/messages.ts';
import { describeAttachments, describeSender } from '../sender.ts';
import { summarizeInput, truncate } from '../progress-text.ts';
import { SkillIndexReader, skillSetKey, type Skill } from '../skills.ts';
import type { Attachment, Engine, EngineEvents, EngineOptions, HostToolCaller, Sender } from './engine.ts';
import { HOST_TOOLS_SERVER, hostToolsServer } from './claude-host-tools.ts';
import { claudeMcpServers } from '../mcp/index.ts';

/**
 * The Claude Code CLI (a Bun-compiled program) holds most of this engine's
 * container memory. These make it give memory back when idle instead of
 * keeping it for later: a frequent GC timer and a GC soon after it goes
 * idle, mimalloc returning freed pages at once, and JavaScriptCore dropping
 * compiled code it no longer runs sooner. Measured: the idle container went
 * from about 161 to about 120 MiB, with no measurable cost in latency
 * (docs/benchmarks.md).
 */
const CLI_MEMORY_TUNING = {
  BUN_GC_TIMER_INTERVAL: '100',
  BUN_IDLE_GC_SECONDS: '1',
  MIMALLOC_PURGE_DELAY: '0',
  MIMALLOC_PURGE_HOLES: '1',
  MIMALLOC_PURGE_HOLES_MIN_INTERVAL: '0',
  BUN_JSC_useEagerCodeBlockJettisonTiming: '1',
};

/** Claude Code's session-scoped schedulers (and their views), which NanoClaw's own tasks replace. */
const CLI_SCHEDULERS = ['CronCreate', 'CronDelete', 'CronList', 'ScheduleWakeup', 'RemoteTrigger'];

/**
 * The Claude Agent SDK in streaming-input mode: one live session per
 * container, each user message pushed into it as it arrives (no polling).
 * Permission prompts are skipped on purpose: the container is the boundary,
 * and nobody is there to answer a prompt. The host's tools are offered as the
 * in-process MCP server `nanoclaw` (see claude-host-tools.ts).
 *
 * Approved skills reach the CLI as one read-only plugin folder (`ncskills`,
 * see skills.ts), narrowed to the names the index lists. The CLI reads
 * skills when its session opens, so a session opened with other skills is
 * reopened (resuming it) before the next turn.
 */
export class ClaudeEngine implements Engine {
  readonly id = 'claude' as const;
  readonly name = 'claude-agent-sdk';
  private inbox?: MessageQueue;
  private q?: Query;
  private turns: string[] = [];
  /** Turns the host asked to abort: whatever ends them is reported as `interrupted`. */
  private interrupted = new Set<string>();
  private sessionId?: string;
  private opts?: EngineOptions;
  private skills?: SkillIndexReader;
  /** The skills the open session was started with (skillSetKey). */
  private skillsKey = '';

  constructor(private readonly events: EngineEvents, private readonly host: HostToolCaller) {}

  open(opts: EngineOptions): void {
    this.opts = opts;
    const provider = anthropicProvider(opts);
    const skills = this.readSkills(opts);
    this.skillsKey = skillSetKey(skills);
    this.inbox?.end();
    const inbox = new MessageQueue();
    this.inbox = inbox;
    this.q = query({
      prompt: inbox,
      options: {
        cwd: opts.cwd,
        resume: opts.resumeSession,
        permissionMode: 'bypassPermissions',
        allowDangerouslySkipPermissions: true,
        settingSources: [],
        // The CLI's own schedulers wake this session later by themselves: a
        // turn no message asked for, lost with the container. Scheduling is
        // the host's (schedule_task: durable, claimed once, audited).
        disallowedTools: CLI_SCHEDULERS,
        systemPrompt: { type: 'preset', preset: 'claude_code', append: opts.systemPrompt || undefined },
        // The first Anthropic provider of the chain, through the model bridge
        // (the host adds its key); none named: the bridge's default route.
        env: { ...opts.env, ...CLI_MEMORY_TUNING, ANTHROPIC_BASE_URL: provider ? `${opts.modelBridge}/p/${provider.name}` : opts.modelBridge },
        ...(provider ? { model: provider.model } : {}),
        // A server per session: an MCP server instance serves one connection.
        // The conversation's MCP servers, then the host's own (last, so a
        // configured server cannot take its name).
        mcpServers: { ...claudeMcpServers(opts.mcpServers, opts.env), [HOST_TOOLS_SERVER]: hostToolsServer((tool, input) => this.callHost(tool, input)) },
        ...skillOptions(opts.skillsDir, skills),
        stderr: (data: string) => this.events.log('warn', `engine: ${data.trim().slice(0, 500)}`),
      },
    });
    void this.consume(this.q, inbox);
  }

  canKeep(opened: EngineOptions, wanted: EngineOptions): boolean {
    return !wanted.resumeSession && !wanted.systemPrompt && !wanted.mcpServers.length
      && anthropicProvider(opened)?.name === anthropicProvider(wanted)?.name && anthropicProvider(wanted)?.model === anthropicProvider(opened)?.model
      // A warmed-up session offers the skills of when it opened; the owner may have approved one since.
      && opened.skillsDir === wanted.skillsDir && this.skillsKey === skillSetKey(this.readSkills(wanted));
  }

  send(id: string, text: string, sender: Sender, attachments: Attachment[] = []): void {
    if (!this.inbox || this.inbox.ended) {
      // The previous session ended (crash of the engine process); carry on in a new one, resuming if we can.
      this.open({ ...this.opts!, resumeSession: this.sessionId ?? this.opts!.resumeSession });
    } else if (!this.turns.length && skillSetKey(this.readSkills(this.opts!)) !== this.skillsKey) {
      // Skills were approved, changed or withdrawn since the session opened:
      // reopen it, resumed, so this turn has them. Only between turns: a
      // reopen would cut a running turn off, so a message queued behind one
      // sees the new skills from the turn after.
      this.open({ ...this.opts!, resumeSession: this.sessionId ?? this.opts!.resumeSession });
    }
    this.turns.push(id);
    // The sender and the attached files go in a block of their own, in the
    // system-reminder form Claude Code uses for context it adds to a user's
    // turn: the model sees who is speaking and what came with the message,
    // and the user's text stays exactly as they wrote it.
    const context = [describeSender(sender), describeAttachments(attachments)].filter(Boolean).join('\n');
    const content = [
      { type: 'text' as const, text: `<system-reminder>${context}</system-reminder>` },
      { type: 'text' as const, text },
    ];
    this.inbox!.push({ type: 'user', message: { role: 'user', content }, parent_tool_use_id: null });
  }

  interrupt(id: string): void {
    if (this.turns[0] !== id || this.interrupted.has(id)) return;
    this.interrupted.add(id);
    // The SDK ends the running turn with an error result (handled below as
    // `interrupted`); if the session dies instead, failAll reports it the same way.
    this.q?.interrupt().catch((err: Error) => this.events.log('warn', `interrupting the engine failed: ${err.message}`));
  }

  /** A host tool call from the model, for the turn running now (the SDK runs one turn at a time). */
  private callHost: Parameters<typeof hostToolsServer>[0] = (tool, input) => {
    const id = this.turns[0];
    if (!id) return Promise.resolve({ ok: false, error: 'no turn is running, so the host cannot be reached' });
    return this.host.call(id, tool, input);
  };

  private async consume(q: Query, inbox: MessageQueue): Promise<void> {
    try {
      for await (const m of q) this.handle(m);
      if (this.inbox === inbox) this.failAll('the agent engine ended its session unexpectedly');
    } catch (err) {
      if (this.inbox === inbox) this.failAll(`the agent engine failed: ${(err as Error).message}`);
    } finally {
      inbox.end();
    }
  }

  private handle(m: SDKMessage): void {
    if (m.type === 'system' && m.subtype === 'init') {
      if (m.session_id !== this.sessionId) {
        this.sessionId = m.session_id;
        this.events.session(m.session_id);
      }
      return;
    }
    const id = this.turns[0];
    if (!id) return;
    if (m.type === 'assistant') {
      for (const block of m.message.content) {
        if (block.type === 'tool_use') {
          this.events.progress(id, 'tool_use', truncate(summarizeInput(block.input)), block.name);
        } else if (block.type === 'text' && block.text.trim()) {
          this.events.progress(id, 'text', truncate(block.text));
        }
      }
    } else if (m.type === 'user' && Array.isArray(m.message.content)) {
      for (const block of m.message.content) {
        if (typeof block === 'object' && block.type === 'tool_result') {
          const content = typeof block.content === 'string' ? block.content
            : Array.isArray(block.content) ? block.content.map((c: any) => c.type === 'text' ? c.text : `[${c.type}]`).join('\n') : '';
          this.events.progress(id, 'tool_result', truncate(content));
        }
      }
    } else if (m.type === 'result') {
      this.turns.shift();
      if (m.subtype === 'success' && !m.is_error && !this.interrupted.has(id)) {
        this.events.turnEnd(id, { ok: true, replies: m.result.trim() ? [m.result] : [] });
      } else {
        const detail = 'errors' in m && m.errors?.length ? m.errors.join('; ') : (m as any).result || m.subtype;
        this.fail(id, `the agent could not finish this turn: ${detail}`);
      }
      this.interrupted.delete(id);
    }
  }

  private failAll(error: string): void {
    for (const id of this.turns.splice(0)) this.fail(id, error);
    this.interrupted.clear();
  }

  /** Ends a turn with an error, and the code the host acts on: the engine's wording is known here only. */
  private fail(id: string, error: string): void {
    const code: FailureCode = this.interrupted.has(id) ? 'interrupted'
      : /No conversation found with session ID/.test(error) ? 'session_lost'
      // The engine process killed outright: in a container with a memory limit, almost always the OOM killer.
      : /SIGKILL/.test(error) ? 'oom'
      : 'engine';
    this.events.turnEnd(id, { ok: false, code, error: code === 'interrupted' ? 'the turn was interrupted' : error });
  }

  /** The index as it is now; a broken one is logged once (see skills.ts). */
  private readSkills(opts: EngineOptions): Skill[] {
    if (this.skills?.dir !== opts.skillsDir) this.skills = new SkillIndexReader(opts.skillsDir, (text) => this.events.log('warn', text));
    return this.skills.read();
  }

  async close(): Promise<void> {
    this.inbox?.end();
    try { this.q?.interrupt?.(); } catch { /* already finished */ }
  }
}

/** An async iterable of user messages that the SDK reads as they are pushed. */
class MessageQueue implements AsyncIterable<SDKUserMessage> {
  private items: SDKUserMessage[] = [];
  private waiting?: (r: IteratorResult<SDKUserMessage>) => void;
  ended = false;

  push(m: SDKUserMessage): void {
    if (this.waiting) { const w = this.waiting; this.waiting = undefined; w({ value: m, done: false }); }
    else this.items.push(m);
  }

  end(): void {
    this.ended = true;
    if (this.waiting) { const w = this.waiting; this.waiting = undefined; w({ value: undefined, done: true }); }
  }

  [Symbol.asyncIterator](): AsyncIterator<SDKUserMessage> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item) return Promise.resolve({ value: item, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => { this.waiting = resolve; });
      },
    };
  }
}

/**
 * How the CLI is offered the approved skills: the skills folder as a local
 * plugin (its own MCP configuration, if any, ignored: MCP servers are the
 * host's to choose), and the list narrowed to those skills by their
 * plugin-qualified names. Without skills the list is narrowed to none: the
 * CLI would otherwise offer its own bundled skills (dataviz, update-config),
 * which nobody approved.
 */
function skillOptions(skillsDir: string, skills: Skill[]): { plugins?: Array<{ type: 'local'; path: string; skipMcpDiscovery: boolean }>; skills: string[] } {
  if (!skills.length) return { skills: [] };
  return {
    plugins: [{ type: 'local', path: skillsDir, skipMcpDiscovery: true }],
    skills: skills.map((s) => `${SKILLS_PLUGIN}:${s.name}`),
  };
}

/** The name the host gives the skills folder's plugin (.claude-plugin/plugin.json). */
const SKILLS_PLUGIN = 'ncskills';

/** The provider this engine talks to: the chain's first Anthropic one (the SDK speaks no other API). */
function anthropicProvider(opts: EngineOptions): ProviderSpec | undefined {
  return opts.providers.find((p) => p.kind === 'anthropic');
}
