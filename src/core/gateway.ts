import { EventEmitter } from 'node:events';
import type { Config } from '../config/schema.ts';
import type { HomeLayout } from '../config/home.ts';
import type { AnswerResult, Channel, ChannelHost, ReceiveResult, TurnEvent } from '../channels/channel.ts';
import type { AuditEvent } from '../sandbox/agent-container.ts';
import { Budget } from '../sandbox/budget.ts';
import type { Providers } from '../config/providers.ts';
import type { ContainerRuntime } from '../sandbox/runtime.ts';
import type { Transcriber } from '../transcription/client.ts';
import type { Conversation, ConversationKey, Inbound, Outbound, Store } from '../store/store.ts';
import { EgressAllowlistStore } from '../store/egress-allowlist.ts';
import { SenderStore } from '../store/senders.ts';
import { AccessPolicy, type MessageContext } from './access.ts';
import { CONTROL_COMMANDS, parseCommand, runCommand, type Command, type CommandContext } from './commands.ts';
import { attachmentLimit, checkAttachmentSizes, startAttachmentRetention } from '../store/attachments.ts';
import { ConversationContainers } from './conversation-containers.ts';
import type { Logger } from './logger.ts';
import { Delivery } from './delivery.ts';
import { Outbox } from '../store/outbox.ts';
import { TurnRunner, type Reply } from './turn-runner.ts';
import { ConversationQueue } from './conversation-queue.ts';
import { HostTools } from './host-tools.ts';
import { channelHost } from './channel-host.ts';
import { TurnIndicators } from './turn-indicators.ts';
import { Management } from './management.ts';
import { OwnerActions } from './owner-actions.ts';
import type { OpResult } from './ops.ts';

/** What channels see of a turn as it runs (channels/channel.ts). */
export type GatewayEvent = TurnEvent;
export type { ReceiveResult } from '../channels/channel.ts';

export interface GatewayDeps {
  config: Config;
  layout: HomeLayout;
  store: Store;
  runtime: ContainerRuntime;
  /** The model providers, with their keys (only the credential proxies see those). */
  providers: Providers;
  log: Logger;
  /** Benchmarks observe when a container's first model request leaves. */
  onModelRequest?: (container: string) => void;
  /** Security-relevant events go here (the audit log). */
  audit?: (event: AuditEvent) => void;
  /** Transcribes voice notes as their turn starts (transcription.*); absent: the agent gets the audio with a note. */
  transcriber?: Transcriber;
  /** The scheduled tasks' clock (default Date.now); tests inject one. */
  clock?: () => number;
}

/**
 * The spine: stores each inbound message before anything else, runs each
 * conversation's messages in order in that conversation's own container, and
 * stores each reply before handing it to its channel.
 *
 *   const gw = new Gateway(deps); gw.addChannel(http); await gw.start();
 *   const { message } = gw.receive({ channel: 'api', chat: 'x', thread: '' }, { sender: 'me', text: 'hi' });
 */
export class Gateway extends EventEmitter {
  private readonly channels = new Map<string, Channel>();
  /** The order of work in each conversation: drains, the control lane, the turn ledger. */
  private readonly queue: ConversationQueue;
  private readonly containers: ConversationContainers;
  private readonly turns: TurnRunner;
  private stopped = false;
  private attachmentRetention?: { stop(): void };
  readonly senders: SenderStore;
  readonly egressAllowlist: EgressAllowlistStore;
  private readonly access: AccessPolicy;
  private readonly hostTools: HostTools;
  private readonly indicators: TurnIndicators;
  /** Scheduled tasks and skills: their operations and the scheduler. */
  readonly management: Management;
  /** What the owner may do from outside a chat (the dashboard): the chat commands' powers. */
  readonly owner: OwnerActions;

  constructor(private readonly deps: GatewayDeps) {
    super();
    this.setMaxListeners(0);
    const { config, layout, runtime, providers, store } = deps;
    const budget = new Budget(config.budget, store, providers.prices());
    this.senders = new SenderStore(store.db);
    this.egressAllowlist = new EgressAllowlistStore(store.db);
    this.access = new AccessPolicy(config.access, this.senders);
    const containerDeps = {
      runtime, config, layout, providers,
      onUsage: (id: string, u: Parameters<Budget['cost']>[0]) => store.addUsage(id, u, budget.cost(u)),
      onText: (id: string, text: string) => this.turns.streamed(id, text),
      onModelRequest: deps.onModelRequest,
      checkBudget: (id: string) => budget.check(id),
      audit: deps.audit,
      egressAllowlist: (id: string) => this.egressAllowlist.list(id),
    };
    this.containers = new ConversationContainers({
      config, layout, store, runtime, log: deps.log, audit: deps.audit, containerDeps,
      busy: (id) => this.queue.busy(id),
      emit: (ev) => this.emitEvent(ev),
    });
    this.queue = new ConversationQueue({
      config, store, log: deps.log, audit: deps.audit,
      handle: (msg) => this.handle(msg),
      finish: (msg, replies, outcome) => this.finish(msg, replies, outcome),
      drained: () => this.containers.wake(),
    });
    this.management = new Management({
      config, layout, store, log: deps.log, audit: deps.audit, clock: deps.clock ?? Date.now,
      queued: (id) => {
        this.queue.kick(id);
        void this.delivery.wake(id);
      },
    });
    this.owner = new OwnerActions({
      commands: () => this.commandContext, senders: this.senders, audit: deps.audit,
      containerNamed: (name) => {
        const found = this.containers.entries().find(([, c]) => c.name === name);
        return found && { conversationId: found[0], container: found[1] };
      },
    });
    this.hostTools = new HostTools({
      db: store.db, attachmentRoot: layout.attachments,
      capabilities: (name) => this.channels.get(name)?.capabilities,
      deliver: (id) => void this.delivery.wake(id),
      emit: (ev) => this.emitEvent(ev),
      channelOf: (id) => store.getConversation(id)?.channel,
      audit: deps.audit,
      askTimeoutMs: config.tools.askTimeoutSec * 1000,
      isOwner: (channel, sender) => this.access.isOwner(this.channelInfo(channel), sender),
      channel: (name) => this.channels.get(name),
      manage: (call, ctx, who) => this.management.hostTool(call, ctx, who),
    });
    this.indicators = new TurnIndicators({
      channel: (name) => this.channels.get(name),
      conversation: (id) => store.getConversation(id),
      log: deps.log,
    });
    this.turns = new TurnRunner({
      config, layout, store, log: deps.log, audit: deps.audit, containers: this.containers, hostTools: this.hostTools, transcriber: deps.transcriber,
      capabilities: (name) => this.channels.get(name)?.capabilities,
      noteForAgent: (id) => this.delivery.noteForAgent(id),
      attachmentLimit: (channel) => this.attachmentLimit(channel),
      emit: (ev) => this.emitEvent(ev),
      finish: (msg, replies, outcome) => this.finish(msg, replies, outcome),
      stopped: () => this.stopped,
    });
  }

  addChannel(channel: Channel): void {
    this.channels.set(channel.name, channel);
  }

  /** Adds a channel to a gateway that is already running, and starts it. */
  async startChannel(channel: Channel): Promise<void> {
    this.addChannel(channel);
    await channel.start(this.hostFor(channel));
    this.redeliver(channel.name);
  }

  /** Cleans up after a previous gateway, starts channels, and resumes unfinished work. */
  async start(): Promise<void> {
    this.attachmentRetention = startAttachmentRetention(this.deps.store.db, this.deps.layout.attachments, this.deps.config.attachments.retentionDays, this.deps.log);
    await this.containers.start();
    this.hostTools.questions.cancelStale();
    for (const ch of this.channels.values()) await ch.start(this.hostFor(ch));
    await this.delivery.start();
    const pending = new Set(this.deps.store.pendingInbound().map((m) => m.conversationId));
    if (pending.size) this.deps.log.info(`resuming ${pending.size} conversation(s) with unanswered messages`);
    for (const id of pending) this.queue.kick(id);
    this.management.start();
  }

  /** A task or skill operation from the HTTP API (and through it the CLI), as the owner (core/management.ts). */
  manage(area: string, op: string, args: unknown, actor: string): OpResult | undefined {
    return this.management.manage(area, op, args, { actor, owner: true });
  }

  /**
   * Accepts a message: durable once this returns, so the channel may
   * acknowledge it. A repeated `clientId` returns the first message and does
   * not run again. Messages the access policy turns away are either ignored
   * (a group chat not addressing the agent) or answered with a pairing code
   * (an unknown sender): in neither case does anything reach a container.
   * While the agent waits for an answer to its question, the next message
   * (not a command) is that answer: stored, and handed to the waiting turn
   * at once, beside it.
   */
  receive(key: ConversationKey, msg: { clientId?: string; sender: string; senderName?: string; text: string; attachments?: Array<{ name: string; data: Buffer }> }, ctx: MessageContext = {}): ReceiveResult {
    const store = this.deps.store;
    const decision = this.access.check(this.channelInfo(key.channel), key.chat, msg.sender, msg.text, ctx);
    if (decision.kind === 'ignore') return { accepted: false, reason: decision.reason };
    // Attachments: refused whole (AttachmentError 'too_large') before anything
    // is written when one is over the channel's limit; written to the file
    // store with the message; never kept from a sender who is not approved.
    checkAttachmentSizes(msg.attachments ?? [], this.attachmentLimit(key.channel), key.channel);
    const conversation = store.conversation(key, this.deps.config.memory.enabledByDefault);
    const { message, duplicate } = store.acceptInbound(conversation.id, decision.kind === 'pair' ? { ...msg, attachments: [] } : msg, { attachmentRoot: this.deps.layout.attachments });
    if (duplicate) {
      if (message.status === 'pending') this.queue.kick(conversation.id);
      return { accepted: true, conversation, message, duplicate };
    }
    this.emitEvent({ type: 'accepted', conversationId: conversation.id, inboundId: message.id });
    if (decision.kind === 'pair') {
      this.deps.audit?.({ type: 'pairing.requested', conversation: conversation.id, actor: `${key.channel}:${msg.sender}`, data: { fresh: decision.fresh } });
      void this.finish(message, [{ kind: 'notice', text: `Hi! I only talk to people my owner has approved. Ask them to run \`nanoclaw pair approve ${decision.code}\` (the code is valid for an hour). Your message was not passed on.` }]);
      return { accepted: true, conversation, message, duplicate };
    }
    const command = parseCommand(msg.text);
    const question = !command && this.hostTools.questions.openIn(conversation.id);
    if (question && this.hostTools.answer(question.id, msg.text, `${key.channel}:${msg.sender}`, message.id)) {
      store.completeTurn(message.id, []);
      return { accepted: true, conversation, message, duplicate, answered: question.id };
    }
    // /stop and /end must not wait behind the turn they are about: while the
    // drain is busy they run at once, beside it (stored first like any message).
    if (command && CONTROL_COMMANDS.has(command.name) && this.queue.busy(conversation.id)) {
      this.runControl(conversation, message, command);
      return { accepted: true, conversation, message, duplicate };
    }
    this.queue.kick(conversation.id);
    return { accepted: true, conversation, message, duplicate };
  }

  /** Answers a question of the agent's by its id (a tapped button, the HTTP API): core/host-tools.ts. */
  answer(channel: string, questionId: number, answer: string, sender: string): AnswerResult {
    return this.hostTools.answerOn(channel, questionId, answer, sender);
  }

  /** The open question of a conversation, if the agent is waiting for one. */
  openQuestion(conversationId: string) {
    return this.hostTools.questions.openIn(conversationId);
  }

  /** What one channel may ask of the core: its own conversations only (core/channel-host.ts). */
  private hostFor(channel: Channel): ChannelHost {
    return channelHost(channel, {
      receive: (key, msg, ctx) => this.receive(key, msg, ctx),
      answer: (name, questionId, answer, sender) => this.answer(name, questionId, answer, sender),
      conversation: (key) => this.conversationFor(key),
      redeliver: (name) => this.redeliver(name),
      attachmentLimit: (name) => this.attachmentLimit(name),
      events: this,
      channelOf: (id) => this.deps.store.getConversation(id)?.channel,
      audit: (event) => this.recordAudit(event),
      alertOwner: (name, text) => {
        this.deps.audit?.({ type: 'channel.alert', actor: name, data: { text: text.slice(0, 500) } });
        this.notifyOwner(text, (c) => c.channel === name);
      },
      log: this.deps.log,
      channelsDir: this.deps.layout.channels,
    });
  }

  /** Handles a control-lane command beside the conversation's drain; its row is marked done with the answer. */
  private runControl(conv: Conversation, msg: Inbound, command: Command): void {
    this.queue.beside(conv.id, async () => {
      const text = await this.runCommandFor(conv, msg, command);
      await this.finish(msg, [{ kind: 'notice', text }]);
    }, `command ${msg.id}`);
  }

  private runCommandFor(conv: Conversation, msg: Inbound, command: Command): Promise<string> {
    const owner = this.access.isOwner(this.channelInfo(conv.channel), msg.sender);
    return runCommand(this.commandContext, conv, command, { owner, actor: `${conv.channel}:${msg.sender}` });
  }

  /** The largest attachment a channel's message may carry (attachments.maxBytes, or the channel's override). */
  attachmentLimit(channel: string): number {
    return attachmentLimit(this.deps.config, channel);
  }

  private channelInfo(name: string): { name: string; trusted: boolean } {
    return { name, trusted: this.channels.get(name)?.trusted ?? false };
  }

  /** Finds or creates a conversation without sending anything. */
  conversationFor(key: ConversationKey): Conversation {
    return this.deps.store.conversation(key, this.deps.config.memory.enabledByDefault);
  }

  /** Retries queued outbound messages of one channel (for example when a client reconnects). */
  redeliver(channel: string): void {
    this.delivery.redeliver(channel);
  }

  private emitEvent(ev: GatewayEvent): void {
    this.emit('event', ev);
    this.indicators.handle(ev);
  }

  private async handle(msg: Inbound): Promise<void> {
    const conv = this.deps.store.getConversation(msg.conversationId)!;
    const command = parseCommand(msg.text);
    if (command) return await this.finish(msg, [{ kind: 'notice', text: await this.runCommandFor(conv, msg, command) }]);
    await this.turns.run(conv, msg);
  }

  /**
   * Stores the turn's replies with the inbound's done mark (one transaction),
   * then has the delivery worker send them; `turn_end` follows the first
   * delivery attempts, so a live view sees the replies before the turn closes.
   * A reply that fails waits for its retries in the worker, not here.
   */
  private async finish(msg: Inbound, replies: Reply[], outcome: 'answered' | 'failed' = 'answered'): Promise<void> {
    const stored = this.deps.store.completeTurn(msg.id, replies, outcome, this.deps.layout.attachments);
    for (const m of stored) this.emitEvent({ type: 'outbound', conversationId: msg.conversationId, message: m });
    await this.delivery.wake(msg.conversationId);
    this.emitEvent({ type: 'turn_end', conversationId: msg.conversationId, inboundId: msg.id, replies: stored });
  }

  /** The outbox worker (core/delivery.ts), made on first use: the constructor's fields may not be set yet. */
  private deliveryWorker?: Delivery;
  private get delivery(): Delivery {
    return this.deliveryWorker ??= new Delivery({
      outbox: new Outbox(this.deps.store.db),
      conversation: (id) => this.deps.store.getConversation(id),
      channel: (name) => this.channels.get(name),
      attachmentRoot: this.deps.layout.attachments,
      notifyOwner: (text, about) => this.notifyOwner(text, (c) => c.id === about),
      config: this.deps.config.delivery,
      log: this.deps.log,
      audit: this.deps.audit,
    });
  }

  /** What the chat commands may do to the gateway; nothing more. */
  private get commandContext(): CommandContext {
    return {
      config: this.deps.config, layout: this.deps.layout, store: this.deps.store, egressAllowlist: this.egressAllowlist,
      providers: this.deps.providers, audit: this.deps.audit,
      liveContainer: (id) => this.containers.live(id),
      stopStarting: (id) => this.turns.stopStarting(id),
      endContainer: (id, c, reason, endSession) => this.containers.end(id, c, reason, endSession),
      approvePairing: (code, actor) => this.owner.approvePairing(code, actor),
      tasks: this.management.tasks,
      skills: this.management.skills,
    };
  }

  /** A notice in each of the owner's own conversations (core/access.ts says which) but those `except` names. */
  private notifyOwner(text: string, except: (c: Conversation) => boolean): void {
    for (const c of this.access.ownerConversations(this.deps.store.listConversations())) {
      if (except(c)) continue;
      this.deps.store.addNotice(c.id, text);
      void this.delivery.wake(c.id);
    }
  }

  /** Lets channels record security events (refused logins and the like). */
  recordAudit(event: AuditEvent): void {
    this.deps.audit?.(event);
  }

  /** Conversations with their live containers, for `nanoclaw status`. */
  status() {
    const live = new Map(this.containers.entries());
    return {
      pool: this.containers.poolReady,
      channels: [...this.channels.values()].map((c) => ({ name: c.name, health: c.health?.() ?? null })),
      conversations: this.deps.store.listConversations().map((c) => ({
        ...c, container: live.get(c.id)?.name ?? null, busy: live.get(c.id) ? !live.get(c.id)!.idle : false,
        proxies: live.get(c.id)?.proxiesListening ?? null,
        usage: this.deps.store.usage(c.id),
      })),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.stop();
    this.management.stop();
    await this.deliveryWorker?.stop();
    await this.indicators.stop();
    this.attachmentRetention?.stop();
    for (const ch of this.channels.values()) await ch.stop().catch(() => {});
    await this.containers.stop();
    await this.queue.settled();
  }
}
