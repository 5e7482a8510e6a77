import { join } from 'node:path';
import { CONTAINER_PATHS, HOST_TOOLS, type HostToolName, type ProviderSpec } from '../../../../src/protocol/messages.ts';
import { HOST_TOOL_DEFS } from '../../host-tool-defs.ts';
import { summarizeInput, truncate } from '../../progress-text.ts';
import { describeAttachments, describeSender } from '../../sender.ts';
import { SkillIndexReader } from '../../skills.ts';
import type { Attachment, Engine, EngineEvents, EngineOptions, HostToolCaller, Sender } from '../engine.ts';
import { compact, estimateTokens, overBudget, SUMMARY_SYSTEM } from './compaction.ts';
import { answerFromChain, ChainFailed, isBudgetRefusal, type ChainLink } from './fallback.ts';
import { ProviderError, type Block, type ToolDef, type TranscriptMessage } from './model.ts';
import { modelClient } from './providers/index.ts';
import { systemPrompt } from './system-prompt.ts';
import { coreTools, type Tool, type ToolOutput } from './tools/index.ts';
import { skillTool } from './tools/skill.ts';
import { TranscriptStore } from './transcript-store.ts';

/** Most model calls in one turn; a loop that long is stopped with a message. */
const MAX_STEPS = 200;

interface Job { id: string; text: string; sender: Sender; attachments: Attachment[] }

/**
 * The built-in engine: its own tool loop over the Anthropic Messages API or
 * any OpenAI-compatible Chat Completions API, in the runner's own process
 * (no child process, no SDK: the container stays small and a follow-up goes
 * straight to the model). Each turn: the user's message is added to the
 * transcript, then the model is asked, its tool calls run, their results
 * added, and so on until it answers without a tool call; that answer is the
 * reply. The transcript is saved to the state folder after every step.
 *
 * The chain's first provider is asked first; a failing one is passed over
 * (fallback.ts) and the host is told which model answered. The tools are the
 * core ones (tools/), `skill` when the owner approved skills (the index is
 * read at each turn, and the system prompt lists them), the host's (the same
 * as the Claude engine's, with the same descriptions) and the conversation's
 * MCP servers'.
 *
 *   const engine = new BuiltinEngine(events, hostTools);
 *   engine.open({ cwd: '/workspace', env, modelBridge, providers, mcpServers: [], skillsDir: '/skills' });
 *   engine.send('m1', 'hello', { id: 'tg:42' });
 */
export class BuiltinEngine implements Engine {
  readonly id = 'builtin' as const;
  readonly name = 'nanoclaw-builtin';
  private opts?: EngineOptions;
  private chain: ChainLink[] = [];
  /** The core tools, then the host's: the same for the session's life (the skill tool joins per turn). */
  private ownTools: Tool[] = [];
  private toolsOfHost: Tool[] = [];
  private mcp?: Promise<{ tools: Tool[]; close(): Promise<void> }>;
  private store = new TranscriptStore(join(CONTAINER_PATHS.state, 'builtin'));
  private skills?: SkillIndexReader;
  private sessionId = '';
  /** The session to resume could not be read: the next turn reports it lost. */
  private lost = false;
  private announced = false;
  private messages: TranscriptMessage[] = [];
  private readonly queue: Job[] = [];
  private running?: { id: string; abort: AbortController };
  private closed = false;

  constructor(private readonly events: EngineEvents, private readonly host: HostToolCaller) {}

  open(opts: EngineOptions): void {
    this.opts = opts;
    this.store = new TranscriptStore(join(opts.stateDir ?? CONTAINER_PATHS.state, 'builtin'));
    if (this.skills?.dir !== opts.skillsDir) this.skills = new SkillIndexReader(opts.skillsDir, (text) => this.events.log('warn', text));
    const token = opts.env.ANTHROPIC_API_KEY ?? '';
    this.chain = opts.providers.map((spec) => ({ spec, client: modelClient({ kind: spec.kind, baseUrl: `${opts.modelBridge}/p/${spec.name}`, apiKey: token, model: spec.model }) }));
    this.ownTools = coreTools();
    this.toolsOfHost = hostTools((tool, input) => this.callHost(tool, input));
    void this.mcp?.then((m) => m.close()).catch(() => {});
    this.mcp = opts.mcpServers.length ? this.connectMcp(opts) : undefined;
    this.lost = false;
    this.announced = false;
    if (opts.resumeSession) {
      const loaded = this.store.load(opts.resumeSession);
      this.sessionId = opts.resumeSession;
      this.messages = loaded ?? [];
      this.lost = !loaded;
      this.announced = !!loaded;
    } else {
      this.sessionId = this.store.newSession();
      this.messages = [];
    }
  }

  /** Opening costs nothing here (no process to start), so every start opens afresh. */
  canKeep(): boolean {
    return false;
  }

  send(id: string, text: string, sender: Sender, attachments: Attachment[] = []): void {
    this.queue.push({ id, text, sender, attachments });
    if (!this.running) void this.pump();
  }

  interrupt(id: string): void {
    if (this.running?.id === id) this.running.abort.abort();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.running?.abort.abort();
    await this.mcp?.then((m) => m.close()).catch(() => {});
  }

  private async pump(): Promise<void> {
    let job: Job | undefined;
    while (!this.closed && (job = this.queue.shift())) {
      const abort = new AbortController();
      this.running = { id: job.id, abort };
      try {
        await this.turn(job, abort.signal);
      } catch (err) {
        // A bug here must cost one turn, never the runner.
        this.events.turnEnd(job.id, { ok: false, code: 'engine', error: `the built-in engine failed: ${(err as Error).message}` });
      } finally {
        this.running = undefined;
      }
    }
  }

  private async turn(job: Job, signal: AbortSignal): Promise<void> {
    if (!this.opts) throw new Error('the engine was not opened');
    if (this.lost) {
      this.events.turnEnd(job.id, { ok: false, code: 'session_lost', error: `the conversation's transcript ${this.sessionId} could not be read` });
      return;
    }
    if (!this.chain.length) {
      this.events.turnEnd(job.id, { ok: false, code: 'engine', error: 'no model provider is configured for this conversation' });
      return;
    }
    const before = this.messages.length;
    const context = [describeSender(job.sender), describeAttachments(job.attachments)].filter(Boolean).join('\n');
    // Who wrote and what came with it, in a block of its own (the form the
    // Claude engine uses too), so the person's text stays as they wrote it.
    this.messages.push({ role: 'user', blocks: [{ type: 'text', text: `<system-reminder>${context}</system-reminder>` }, { type: 'text', text: job.text }] });
    // The skills as the index says now: the owner may have approved one since the last turn.
    const skills = this.skills!.read();
    const skill = skills.length ? [skillTool(this.opts.skillsDir, skills)] : [];
    const tools = [...this.ownTools, ...skill, ...this.toolsOfHost, ...(this.mcp ? (await this.mcp).tools : [])];
    const defs: ToolDef[] = tools.map((t) => t.def);
    const system = systemPrompt(this.opts, skills);
    let answeredBy: { provider: ProviderSpec; model: string } | undefined;
    const passedOver: Array<{ provider: string; error: string }> = [];
    try {
      for (let step = 0; ; step++) {
        if (step >= MAX_STEPS) throw new TurnError(`the agent made ${MAX_STEPS} model calls in this turn without finishing; it was stopped`);
        await this.compactIfNeeded(system, defs, signal);
        const answer = await this.ask(system, defs, signal);
        answeredBy = { provider: answer.provider, model: answer.model };
        for (const p of answer.passedOver) if (!passedOver.some((q) => q.provider === p.provider)) passedOver.push(p);
        const calls = answer.blocks.filter((b): b is Extract<Block, { type: 'tool_call' }> => b.type === 'tool_call');
        const text = answer.blocks.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n\n').trim();
        if (answer.blocks.length) this.messages.push({ role: 'assistant', blocks: answer.blocks });
        if (!calls.length) {
          // As the Claude engine does: the last step's whole text is progress too (live views replace its streamed text with it).
          if (text) this.events.progress(job.id, 'text', truncate(text));
          this.save();
          if (answeredBy.provider.name !== this.chain[0].spec.name) this.events.modelUsed(job.id, answeredBy.provider.name, answeredBy.model, passedOver);
          const cut = answer.stopReason === 'max_tokens' ? '\n\n(The answer was cut off at the model\'s output limit.)' : '';
          this.events.turnEnd(job.id, { ok: true, replies: text || cut ? [text + cut] : [] });
          return;
        }
        if (text) this.events.progress(job.id, 'text', truncate(text));
        const results: Block[] = [];
        for (const call of calls) {
          this.events.progress(job.id, 'tool_use', truncate(summarizeInput(call.input)), call.name);
          const out = signal.aborted ? { text: 'not run: the turn was stopped', isError: true } : await this.runTool(tools, call, signal);
          this.events.progress(job.id, 'tool_result', truncate(out.text));
          results.push({ type: 'tool_result', id: call.id, content: out.text, ...(out.isError ? { isError: true } : {}) });
        }
        this.messages.push({ role: 'user', blocks: results });
        this.save();
        if (signal.aborted) throw new ProviderError('aborted', 'the turn was interrupted');
      }
    } catch (err) {
      if (signal.aborted || (err instanceof ProviderError && err.kind === 'aborted')) {
        // Stopped on purpose: what was done stays in the transcript (the
        // person saw its progress); a tool call left without its result gets one.
        this.closeOpenCalls();
        this.save();
        this.events.turnEnd(job.id, { ok: false, code: 'interrupted', error: 'the turn was interrupted' });
        return;
      }
      // A failed turn leaves no trace: the host runs the message again, or the person resends it.
      this.messages.length = before;
      const error = err instanceof ChainFailed ? `no model could answer: ${err.message}`
        : err instanceof ProviderError && isBudgetRefusal(err) ? err.message
        : err instanceof ProviderError ? `the model call failed (${err.kind}): ${err.message}`
        : (err as Error).message;
      this.events.turnEnd(job.id, { ok: false, code: 'engine', error });
    }
  }

  /** One answer from the chain; a request too long for the model's context is compacted and asked once more. */
  private async ask(system: string, defs: ToolDef[], signal: AbortSignal) {
    const request = (link: ChainLink) => ({ system, messages: this.messages, tools: defs, maxTokens: link.spec.maxOutputTokens, signal });
    const onRetry = (provider: string, err: ProviderError, ms: number) => this.events.log('info', `${provider}: ${err.kind}, retrying in ${ms} ms`);
    try {
      return await answerFromChain(this.chain, request, onRetry);
    } catch (err) {
      if (!(err instanceof ProviderError) || err.kind !== 'context_overflow') throw err;
      await this.compactIfNeeded(system, defs, signal, true);
      return answerFromChain(this.chain, request, onRetry);
    }
  }

  private async compactIfNeeded(system: string, defs: ToolDef[], signal: AbortSignal, force = false): Promise<void> {
    const window = this.chain[0].spec;
    if (!force && !overBudget(estimateTokens(system, defs, this.messages), window)) return;
    const sizeBefore = this.messages.length;
    const fits = (messages: TranscriptMessage[]) => estimateTokens(system, defs, messages) <= (window.contextTokens - window.maxOutputTokens) * 0.5;
    this.messages = await compact(this.messages, fits, async (text) => {
      const answer = await answerFromChain(this.chain, (link) => ({
        system: SUMMARY_SYSTEM, tools: [], maxTokens: Math.min(4096, link.spec.maxOutputTokens), signal,
        messages: [{ role: 'user', blocks: [{ type: 'text', text: `Summarise this conversation:\n\n${text.slice(-(window.contextTokens * 2))}` }] }],
      }));
      return answer.blocks.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');
    });
    this.save();
    this.events.log('info', `compacted the conversation: ${sizeBefore} messages became ${this.messages.length}`);
  }

  private async runTool(tools: Tool[], call: Extract<Block, { type: 'tool_call' }>, signal: AbortSignal): Promise<ToolOutput> {
    const tool = tools.find((t) => t.def.name === call.name);
    if (!tool) return { text: `There is no tool named ${call.name}. Available: ${tools.map((t) => t.def.name).join(', ')}.`, isError: true };
    try {
      return await tool.run(call.input, { cwd: this.opts!.cwd, env: this.opts!.env, signal });
    } catch (err) {
      return { text: `${call.name} failed: ${(err as Error).message}`, isError: true };
    }
  }

  private callHost(tool: HostToolName, input: Record<string, unknown>) {
    const id = this.running?.id;
    if (!id) return Promise.resolve({ ok: false as const, error: 'no turn is running, so the host cannot be reached' });
    return this.host.call(id, tool, input as never);
  }

  /** Tool calls at the end of the transcript without results (a stopped turn) get one saying so. */
  private closeOpenCalls(): void {
    const last = this.messages[this.messages.length - 1];
    if (last?.role !== 'assistant') return;
    const open = last.blocks.filter((b) => b.type === 'tool_call');
    if (open.length) this.messages.push({ role: 'user', blocks: open.map((b) => ({ type: 'tool_result' as const, id: (b as { id: string }).id, content: 'not run: the turn was stopped', isError: true })) });
  }

  private save(): void {
    try {
      this.store.save(this.sessionId, this.messages);
      if (!this.announced) {
        this.announced = true;
        this.events.session(this.sessionId);
      }
    } catch (err) {
      this.events.log('warn', `could not save the transcript: ${(err as Error).message}`);
    }
  }

  private async connectMcp(opts: EngineOptions): Promise<{ tools: Tool[]; close(): Promise<void> }> {
    // Loaded only for a conversation that has MCP servers: the MCP client is a large part of the engine's memory.
    const { connectMcpTools } = await import('../../mcp/index.ts');
    return connectMcpTools(opts.mcpServers, { env: opts.env, log: (level: 'info' | 'warn' | 'error', text: string) => this.events.log(level, text) });
  }
}

class TurnError extends Error {}

/** The host's tools as tools of this engine: same names, descriptions and schemas as the Claude engine's. */
function hostTools(run: (tool: HostToolName, input: Record<string, unknown>) => Promise<{ ok: true; text: string } | { ok: false; error: string }>): Tool[] {
  return HOST_TOOL_DEFS.filter((t) => HOST_TOOLS.includes(t.name)).map((t) => ({
    def: { name: t.name, description: t.description, inputSchema: jsonSchemaOf(t.input) },
    async run(input: Record<string, unknown>): Promise<ToolOutput> {
      const r = await run(t.name, input);
      return r.ok ? { text: r.text } : { text: r.error, isError: true };
    },
  }));
}

function jsonSchemaOf(schema: { toJSONSchema?: () => unknown } & object): Record<string, unknown> {
  // zod 4 objects know their JSON Schema; the $schema key is noise to a model.
  const { $schema: _drop, ...rest } = (schema as any).toJSONSchema() as Record<string, unknown>;
  return rest;
}
