import type { Config } from '../config/schema.ts';
import type { HomeLayout } from '../config/home.ts';
import type { ChannelCapabilities } from '../channels/channel.ts';
import { writeInbox } from '../inbox/inbox.ts';
import { listOutbox, removeFromOutbox } from '../inbox/safe-fs.ts';
import { MemoryRepo } from '../memory/memory-repo.ts';
import { MemoryCommitRefused } from '../memory/work-tree-check.ts';
import type { AgentContainer, AuditEvent, TurnResult } from '../sandbox/agent-container.ts';
import { LIMITS, type RunnerToHost } from '../protocol/messages.ts';
import { inboxFiles } from '../store/attachments.ts';
import type { Conversation, Inbound, NewOutbound, Store } from '../store/store.ts';
import type { Transcriber } from '../transcription/client.ts';
import { voiceNotes } from '../transcription/voice-notes.ts';
import type { ConversationContainers } from './conversation-containers.ts';
import type { GatewayEvent } from './gateway.ts';
import type { HostTools } from './host-tools.ts';
import type { Logger } from './logger.ts';
import { TextDeltas } from './text-deltas.ts';

/** One message to the user that a turn produces, before it is stored (text, and files from the outbox). */
export type Reply = NewOutbound;

export interface TurnRunnerDeps {
  config: Config;
  layout: HomeLayout;
  store: Store;
  log: Logger;
  audit?: (event: AuditEvent) => void;
  containers: ConversationContainers;
  /** What the agent may call on the host during the turn (send a message or file, ask the user). */
  hostTools: HostTools;
  /** Turns voice notes into text when the turn starts; absent when transcription is off (transcription.baseUrl). */
  transcriber?: Transcriber;
  capabilities: (channel: string) => ChannelCapabilities | undefined;
  /** What the agent should know before this message (replies that could not be delivered: core/delivery.ts). */
  noteForAgent: (conversationId: string) => string;
  attachmentLimit: (channel: string) => number;
  emit: (ev: GatewayEvent) => void;
  /** Stores the replies with the message's done mark and has them delivered. */
  finish: (msg: Inbound, replies: Reply[], outcome?: 'answered' | 'failed') => Promise<void>;
  /** True once a graceful stop began: a turn cut short then stays pending. */
  stopped: () => boolean;
}

/**
 * One message's turn in its conversation's container: gets the container,
 * copies the attachments into the inbox, runs the turn with its progress
 * published and tool calls audited, commits memory, and turns the outcome
 * into replies by its failure code (interrupted, session lost, out of memory,
 * timeout...). The queue around it (order, attempts, the control lane) is the
 * gateway's.
 *
 *   const turns = new TurnRunner(deps); await turns.run(conversation, message);
 */
export class TurnRunner {
  /** Conversations whose turn is waiting for its container (a slot, a cold start). */
  private readonly starting = new Set<string>();
  /** Of those, the ones /stop stopped before the agent began. */
  private readonly stopped = new Set<string>();

  /** The message each conversation's running turn answers: the model's streamed text is shown as that turn's. */
  private readonly running = new Map<string, number>();
  /**
   * The model's answer text as it streams through the credential proxy,
   * gathered into a `text_delta` progress event about every 100 ms for live
   * views (the dashboard). Read on the host, so the container pays nothing
   * for it; the runner's `text` progress (the step's whole text) replaces it.
   */
  private readonly deltas = new TextDeltas((conversationId, text) => {
    const inboundId = this.running.get(conversationId);
    if (inboundId !== undefined) this.deps.emit({ type: 'progress', conversationId, inboundId, kind: 'text_delta', text: text.slice(0, 8192) });
  });

  constructor(private readonly deps: TurnRunnerDeps) {}

  /** Answer text the credential proxy saw stream for a conversation's container; dropped when no turn runs there. */
  streamed(conversationId: string, text: string): void {
    if (this.running.has(conversationId)) this.deltas.add(conversationId, text);
  }

  /** Stops a turn still waiting for its container; false when the conversation has none waiting. */
  stopStarting(conversationId: string): boolean {
    if (!this.starting.has(conversationId)) return false;
    this.stopped.add(conversationId);
    return true;
  }

  /** Runs the turn; returns with the message answered, or still pending when it is to run again. */
  async run(conv: Conversation, msg: Inbound): Promise<void> {
    let container: AgentContainer;
    this.starting.add(conv.id);
    try {
      container = await this.deps.containers.acquire(conv);
    } catch (err) {
      this.starting.delete(conv.id);
      this.stopped.delete(conv.id);
      if (this.deps.stopped()) return this.deps.store.releaseAttempt(msg.id);
      this.deps.log.error(`conversation ${conv.id}: ${(err as Error).message}`);
      await this.deps.finish(msg, [{ kind: 'error', text: `Sorry, I could not start a sandbox for this conversation: ${(err as Error).message}` }]);
      return;
    }
    this.starting.delete(conv.id);
    if (this.stopped.delete(conv.id)) {
      await this.deps.finish(msg, [{ kind: 'notice', text: '(Stopped by /stop before the agent began.)' }]);
      return;
    }
    this.deps.containers.turnStarted(conv.id);
    this.deps.emit({ type: 'turn_start', conversationId: conv.id, inboundId: msg.id, container: container.name });
    const rows = this.deps.store.attachmentsOf(msg.id);
    const inboxOpts = {
      maxBytes: this.deps.attachmentLimit(conv.channel),
      audit: (type: string, data: Record<string, unknown>) => this.deps.audit?.({ type, conversation: conv.id, data }),
    };
    const inbox = writeInbox(inboxFiles(rows.filter((r) => !r.voice), this.deps.layout.attachments), container.dirs.workspace, inboxOpts);
    // Voice notes are transcribed here, as the turn starts, never in receive (which must stay fast).
    const voice = await voiceNotes(rows.filter((r) => r.voice), {
      transcriber: this.deps.transcriber, settings: this.deps.config.transcription, attachmentRoot: this.deps.layout.attachments,
      workspace: container.dirs.workspace, inbox: inboxOpts, audit: inboxOpts.audit, log: this.deps.log,
      charge: (costUsd) => this.deps.store.addUsage(conv.id, { inputTokens: 0, outputTokens: 0, cacheWriteTokens: 0, cacheReadTokens: 0, provider: 'transcription', model: this.deps.config.transcription.model }, costUsd),
    });
    const saved = [...inbox.saved, ...voice.saved];
    const text = this.deps.noteForAgent(conv.id) + (msg.text ? msg.text + voice.text : voice.text.trimStart()) + inbox.notes;
    const callContext = { conversation: conv, message: msg, workspace: container.dirs.workspace };
    /** Set when a model other than the chain's first answered: the person is told which, and why. */
    let answeredBy: Extract<RunnerToHost, { type: 'model' }> | undefined;
    this.running.set(conv.id, msg.id);
    const result: TurnResult = await container.runTurn(
      {
        type: 'message', id: String(msg.id), text, sender: { id: msg.sender, ...(msg.senderName ? { name: msg.senderName } : {}) },
        ...(saved.length ? { attachments: saved.slice(0, LIMITS.attachments) } : {}),
      },
      this.deps.config.container.turnTimeoutSec * 1000,
      (p) => {
        if (p.type === 'model') {
          answeredBy = p;
          this.deps.audit?.({ type: 'model.fallback', conversation: conv.id, container: container.name, data: { provider: p.provider, model: p.model, passedOver: p.passedOver } });
          return;
        }
        if (p.type !== 'progress') return;
        // Streamed text goes out before what follows it, and the step's whole text replaces it.
        if (p.kind === 'text') this.deltas.drop(conv.id); else this.deltas.flush(conv.id);
        this.deps.emit({ type: 'progress', conversationId: conv.id, inboundId: msg.id, kind: p.kind, tool: p.tool, text: p.text });
        if (p.kind === 'tool_use') this.deps.audit?.({ type: 'tool.call', conversation: conv.id, container: container.name, data: { tool: p.tool, input: p.text.slice(0, 300) } });
      },
      (call, signal) => this.deps.hostTools.handle(callContext, call, signal),
    ).finally(() => {
      this.running.delete(conv.id);
      this.deltas.drop(conv.id);
    });
    if (this.deps.stopped()) {
      // A graceful stop ends turns as a crash would: the message stays
      // pending and runs again at the next start; it is never answered with
      // an error. A task's run keeps its attempt, so, as after a crash, it is
      // not run again (conversation-queue.ts).
      if (msg.taskId === null) this.deps.store.releaseAttempt(msg.id);
      return;
    }
    const notes: Reply[] = [...(conv.memory ? await this.commitMemory(conv, msg) : []), ...this.collectOutbox(conv, container.dirs.workspace)];
    if (answeredBy && result.ok) notes.push({ kind: 'notice', text: fallbackNote(answeredBy) });
    if (result.ok) {
      const said = result.replies.length || notes.some((n) => n.files?.length) || this.deps.store.outboundFor(msg.id).length;
      const replies = said ? result.replies : ['(The agent finished without a reply.)'];
      await this.deps.finish(msg, [...replies.map((text) => ({ kind: 'reply' as const, text })), ...notes]);
    } else if (result.code === 'interrupted') {
      // Stopped on purpose (/stop, /end): the message is answered with a note,
      // not retried, and the container, if still there, takes the next one.
      await this.deps.finish(msg, [{ kind: 'notice', text: `(${result.error})` }, ...notes]);
    } else if (result.code === 'session_lost' && this.deps.store.getConversation(conv.id)?.sessionId) {
      // The engine died before it wrote the session's transcript, so it cannot
      // be resumed: start a new session and run the message again (it is still
      // pending). Not the message's fault, so the attempt does not count; with
      // the session cleared this cannot happen twice in a row.
      this.deps.store.updateConversation(conv.id, { sessionId: null });
      this.deps.store.releaseAttempt(msg.id);
      await this.deps.containers.end(conv.id, container, 'its session could not be resumed', false);
      return;
    } else {
      const killed = result.code === 'oom' && !/memory/.test(result.error) ? ` (most likely it ran out of memory: the limit is ${this.deps.config.container.memoryMb} MiB)` : '';
      await this.deps.finish(msg, [{ kind: 'error', text: `Sorry, something went wrong: ${result.error}${killed}. Send your message again to continue; the conversation resumes where it can.` }, ...notes]);
      // A failed turn can leave tool processes behind (an allocator that
      // outlived the OOM-killed engine, a stuck child): the next message gets a
      // fresh container that resumes the session instead.
      if (container.alive) await this.deps.containers.end(conv.id, container, 'its turn failed', false);
    }
    this.deps.containers.turnEnded(conv.id, container);
  }


  /**
   * The files the agent left in /workspace/outbox, read without following
   * links and within the channel's limits, as one message to send after the
   * replies; what was taken is removed from the outbox, and what was refused
   * (a link, a FIFO, a file over the limit) is named in a notice and left.
   */
  private collectOutbox(conv: Conversation, workspace: string): Reply[] {
    const max = this.deps.config.tools.outboxMaxFiles;
    if (max === 0) return [];
    const caps = this.deps.capabilities(conv.channel);
    let entries;
    try {
      entries = listOutbox(workspace, { maxFiles: max, maxFileBytes: caps?.files.maxOutBytes ?? 0, maxTotalBytes: (caps?.files.maxOutBytes ?? 0) * 4 });
    } catch (err) {
      this.deps.audit?.({ type: 'outbox.refused', conversation: conv.id, data: { error: (err as Error).message } });
      return [{ kind: 'notice', text: `The files in /workspace/outbox were not sent: ${(err as Error).message.replaceAll(workspace, '/workspace')}` }];
    }
    if (!entries.length) return [];
    if (!caps?.files.out) return [{ kind: 'notice', text: `The ${conv.channel} channel cannot send files; ${entries.length} file(s) stay in /workspace/outbox.` }];
    const files = entries.flatMap((e) => (e.ok ? [{ name: e.name, data: e.data }] : []));
    const refused = entries.flatMap((e) => (e.ok ? [] : [`${e.original}: ${e.reason}`]));
    try {
      removeFromOutbox(workspace, entries.flatMap((e) => (e.ok ? [e.original] : [])));
    } catch (err) {
      this.deps.log.warn(`clearing the outbox of ${conv.id} failed: ${(err as Error).message}`);
    }
    if (refused.length) this.deps.audit?.({ type: 'outbox.refused', conversation: conv.id, data: { files: refused.slice(0, 20) } });
    return [
      ...(files.length ? [{ kind: 'reply' as const, text: '', files }] : []),
      ...(refused.length ? [{ kind: 'notice' as const, text: `Not sent from /workspace/outbox:\n${refused.slice(0, 10).map((r) => `- ${r}`).join('\n')}` }] : []),
    ];
  }

  /**
   * Records what the turn changed in the conversation's memory. A commit the
   * work tree check refuses (a FIFO, an oversized file) is audited and the
   * user told, in a notice that goes with the turn's replies.
   */
  private async commitMemory(conv: Conversation, msg: Inbound): Promise<Array<{ kind: 'notice'; text: string }>> {
    try {
      const commit = await new MemoryRepo(this.deps.layout, conv.id).commit(`turn ${msg.id}: ${msg.text.replace(/\s+/g, ' ').slice(0, 60)}`);
      if (commit) this.deps.audit?.({ type: 'memory.commit', conversation: conv.id, data: commit });
      return [];
    } catch (err) {
      const error = (err as Error).message;
      const refused = err instanceof MemoryCommitRefused;
      this.deps.audit?.({ type: refused ? 'memory.commit_refused' : 'memory.commit_failed', conversation: conv.id, data: { error } });
      this.deps.log.warn(`memory commit for ${conv.id} failed: ${error}`);
      return [{ kind: 'notice', text: `This turn's changes to /memory were not recorded: ${error}` }];
    }
  }
}

/**
 * What the person is told when another model answered than the one first in
 * line: which, and why each before it was passed over.
 *
 *   fallbackNote({ provider: 'groq', model: 'llama-3.3-70b', passedOver: [{ provider: 'anthropic', error: 'overloaded (HTTP 529)' }] })
 *   // '(Answered by llama-3.3-70b via groq; anthropic: overloaded (HTTP 529).)'
 */
export function fallbackNote(m: { provider: string; model: string; passedOver: Array<{ provider: string; error: string }> }): string {
  const why = m.passedOver.map((p) => `${p.provider}: ${p.error.split(':')[0]}`).join('; ');
  return `(Answered by ${m.model} via ${m.provider}${why ? `; ${why}` : ''}.)`;
}
