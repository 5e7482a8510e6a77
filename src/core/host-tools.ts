import type Database from 'better-sqlite3';
import type { AnswerResult, Channel, ChannelCapabilities, TurnEvent } from '../channels/channel.ts';
import type { AuditEvent } from '../audit/audit-log.ts';
import { readAgentFile, UnsafePathError } from '../inbox/safe-fs.ts';
import type { HostToolCall, HostToolResult } from '../protocol/messages.ts';
import { HostCallLedger } from '../store/host-calls.ts';
import { insertOutbound, type NewOutbound } from '../store/outbox.ts';
import { Questions } from '../store/questions.ts';
import type { Conversation, Inbound } from '../store/store.ts';
import type { OpActor } from './ops.ts';

export interface HostToolsDeps {
  db: Database.Database;
  /** Where outbound files are copied (the attachments folder). */
  attachmentRoot: string;
  /** The conversation's channel's capabilities, or undefined when the channel is not running. */
  capabilities: (channel: string) => ChannelCapabilities | undefined;
  /** Has the delivery worker send what was stored for a conversation. */
  deliver: (conversationId: string) => void;
  emit: (ev: TurnEvent) => void;
  /** The channel a conversation is on (answers by question id are taken from that channel only). */
  channelOf?: (conversationId: string) => string | undefined;
  audit?: (event: AuditEvent) => void;
  /** How long `ask_user` (and `compose_mail`'s confirmation) waits for an answer. */
  askTimeoutMs: number;
  /** Whether `sender` on `channel` is an owner (core/access.ts); absent: nobody is, and `compose_mail` is refused. */
  isOwner?: (channel: string, sender: string) => boolean;
  /** A running channel by name (`compose_mail` looks for email and gmail); absent: none. */
  channel?: (name: string) => Pick<Channel, 'name' | 'compose'> | undefined;
  /** The task and skill tools (core/management.ts); absent: refused. */
  manage?: (call: HostToolCall, ctx: { conversationId: string; workspace: string }, who: OpActor) => { result: HostToolResult; notice?: string };
}

/** The channels a composed mail can go out through, in the order they are looked for. */
const MAIL_CHANNELS = ['email', 'gmail'] as const;
/** The confirmation's choices: only the first sends. */
const CONFIRM = ['Send', "Don't send"];

/** The turn a call belongs to: its conversation, message and the container's workspace on the host. */
export interface CallContext { conversation: Conversation; message: Inbound; workspace: string }

/**
 * What the agent may do on the host during a turn, and nothing more: send a
 * message now, send a file from its workspace, ask the user and wait for the
 * answer. Each call is recorded under its idempotency key (inbound message,
 * call number) together with its effect, so a turn re-run after a crash
 * gets the first result back instead of sending or asking twice. Files are
 * read without following links and within the channel's size limit, then
 * copied to host-owned storage: the agent cannot change a file once it was
 * handed over. A new mail (`compose_mail`) goes out only from an owner's
 * conversation and only after an owner answered "Send" to the draft.
 *
 *   const tools = new HostTools(deps);
 *   await container.runTurn(msg, timeout, onEvent, (call, signal) => tools.handle(ctx, call, signal));
 */
export class HostTools {
  private readonly ledger: HostCallLedger;
  readonly questions: Questions;
  /** Turns waiting for an answer, by question id. */
  private readonly waiting = new Map<number, (answer: string) => void>();

  constructor(private readonly deps: HostToolsDeps) {
    this.ledger = new HostCallLedger(deps.db);
    this.questions = new Questions(deps.db);
  }

  async handle(ctx: CallContext, call: HostToolCall, signal: AbortSignal): Promise<HostToolResult> {
    const done = this.ledger.result(ctx.message.id, call.call);
    if (done) return done;
    switch (call.tool) {
      case 'send_message':
        return this.store(ctx, call, { kind: 'reply', text: call.input.text }, 'Sent.');
      case 'send_file':
        return this.sendFile(ctx, call, call.input.path, call.input.caption ?? '');
      case 'ask_user':
        return this.ask(ctx, call, call.input.question, call.input.choices ?? [], signal);
      case 'compose_mail':
        return this.compose(ctx, call, call.input, signal);
      case 'schedule_task':
      case 'list_tasks':
      case 'change_task':
      case 'propose_skill':
        return this.manage(ctx, call);
    }
  }

  /**
   * A task or skill tool, acting for the person whose message the turn
   * answers (a task's run acts as the task: never as the owner). Its effect,
   * the owner's announcement of a proposed skill, and its result are stored
   * in one transaction under the call's key, so a re-run turn repeats nothing.
   */
  private manage(ctx: CallContext, call: HostToolCall): HostToolResult {
    const { conversation: conv, message: msg } = ctx;
    if (!this.deps.manage) return { ok: false, error: `${call.tool} is not available here.` };
    const who: OpActor = msg.taskId !== null
      ? { actor: msg.sender, owner: false }
      : { actor: `${conv.channel}:${msg.sender}`, owner: !!this.deps.isOwner?.(conv.channel, msg.sender) };
    const done = this.deps.db.transaction(() => {
      const r = this.deps.manage!(call, { conversationId: conv.id, workspace: ctx.workspace }, who);
      if (r.notice) insertOutbound(this.deps.db, this.deps.attachmentRoot, conv.id, msg.id, { kind: 'notice', text: r.notice });
      this.ledger.record(msg.id, call.call, call.tool, r.result);
      return r;
    })();
    if (done.notice) this.deps.deliver(conv.id);
    return done.result;
  }

  /** Stores an outbound message with the call's result (one transaction) and has it delivered. */
  private store(ctx: CallContext, call: HostToolCall, m: NewOutbound, text: string): HostToolResult {
    const result = { ok: true as const, text };
    this.deps.db.transaction(() => {
      insertOutbound(this.deps.db, this.deps.attachmentRoot, ctx.conversation.id, ctx.message.id, m);
      this.ledger.record(ctx.message.id, call.call, call.tool, result);
    })();
    this.deps.deliver(ctx.conversation.id);
    return result;
  }

  private sendFile(ctx: CallContext, call: HostToolCall, path: string, caption: string): HostToolResult {
    const caps = this.deps.capabilities(ctx.conversation.channel);
    if (!caps?.files.out) return { ok: false, error: `The ${ctx.conversation.channel} channel cannot send files. Tell the user where the file is in your workspace instead.` };
    const relative = path.startsWith('/workspace/') ? path.slice('/workspace/'.length) : path;
    if (path.startsWith('/') && relative === path) return { ok: false, error: `"${path}" is outside /workspace: only files in your workspace can be sent.` };
    let data: Buffer;
    try {
      data = readAgentFile(ctx.workspace, relative, caps.files.maxOutBytes);
    } catch (err) {
      if (err instanceof UnsafePathError || (err as NodeJS.ErrnoException).code) {
        return { ok: false, error: (err as Error).message.replaceAll(ctx.workspace, '/workspace') };
      }
      throw err;
    }
    const name = relative.split('/').filter(Boolean).pop()!;
    return this.store(ctx, call, { kind: 'reply', text: caption, files: [{ name, data }] }, `Sent ${name} (${data.length} bytes).`);
  }

  /**
   * Asks and waits: the question goes out as a message (with buttons where
   * the channel has them, else the choices listed), and the next message in
   * the conversation, a tapped button or the HTTP API's answer endpoint
   * answers it. The turn's end (any way) cancels it.
   */
  private async ask(ctx: CallContext, call: HostToolCall, question: string, choices: string[], signal: AbortSignal): Promise<HostToolResult> {
    const reply = await this.awaitAnswer(ctx, call, question, choices, signal);
    // A turn cut short runs again and asks again under the same key: nothing is recorded for it.
    if ('aborted' in reply) return { ok: false, error: reply.aborted };
    return this.finish(ctx, call, 'answer' in reply ? answered(reply.answer, choices) : { ok: false, error: `The user did not answer: ${reply.gone}.` });
  }

  /** Records a call's result under its key and returns it. */
  private finish(ctx: CallContext, call: HostToolCall, result: HostToolResult): HostToolResult {
    this.ledger.record(ctx.message.id, call.call, call.tool, result);
    return result;
  }

  /**
   * Opens the question under the call's key (or finds the one a crashed run
   * opened, with an answer that came meanwhile) and waits for its answer, the
   * timeout, or the turn's end.
   */
  private async awaitAnswer(ctx: CallContext, call: HostToolCall, question: string, choices: string[], signal: AbortSignal):
    Promise<{ answer: string; by: string } | { gone: string } | { aborted: string }> {
    const conv = ctx.conversation;
    const caps = this.deps.capabilities(conv.channel);
    const opened = this.deps.db.transaction(() => {
      const open = this.questions.open(conv.id, ctx.message.id, call.call, question, choices);
      if (open.created) {
        const listed = choices.length && !caps?.buttons ? `\n\n${choices.map((c, i) => `${i + 1}. ${c}`).join('\n')}\n\n(Answer with the number or your own words.)` : '';
        insertOutbound(this.deps.db, this.deps.attachmentRoot, conv.id, ctx.message.id, {
          kind: 'reply', text: question + listed, questionId: open.question.id,
          buttons: caps?.buttons ? choices.map((c) => ({ label: c, value: c })) : [],
        });
      }
      return open.question;
    })();
    this.deps.emit({ type: 'question', conversationId: conv.id, inboundId: ctx.message.id, questionId: opened.id, question, choices });
    this.deps.deliver(conv.id);
    const now = this.questions.get(opened.id)!;
    if (now.state === 'answered') return { answer: now.answer!, by: now.answeredBy ?? '' };
    const answer = await new Promise<string | { gone: string } | { aborted: string }>((resolve) => {
      const timer = setTimeout(() => resolve({ gone: `no answer came within ${Math.round(this.deps.askTimeoutMs / 60_000)} minutes` }), this.deps.askTimeoutMs);
      timer.unref();
      const onAbort = () => resolve({ aborted: 'the turn ended before an answer came' });
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(opened.id, (a) => resolve(a));
      if (signal.aborted) onAbort();
    }).finally(() => this.waiting.delete(opened.id));
    if (typeof answer === 'string') return { answer, by: this.questions.get(opened.id)?.answeredBy ?? '' };
    this.questions.cancel(opened.id);
    return answer;
  }

  /**
   * A new mail, sent only after the owner confirmed it. Refused outside an
   * owner's conversation (anyone else could have the agent mail anyone), and
   * without a mail channel that can compose. The draft (recipients, subject,
   * body) is asked about like `ask_user`, and only "Send" from an owner sends
   * it; a group member's answer does not. Before the channel is called the
   * key is recorded as "not known whether sent", so a turn re-run after a
   * crash mid-send never mails twice: mail cannot be taken back, a missing
   * mail can be composed again.
   */
  private async compose(ctx: CallContext, call: HostToolCall, input: { to: string[]; subject: string; text: string; via?: 'email' | 'gmail' }, signal: AbortSignal): Promise<HostToolResult> {
    const conv = ctx.conversation;
    if (!this.deps.isOwner?.(conv.channel, ctx.message.sender)) {
      return { ok: false, error: 'compose_mail is only available in the owner\'s own conversations; this message is not from the owner. Nothing was sent.' };
    }
    const found = this.mailChannel(input.via);
    if ('error' in found) return { ok: false, error: found.error };
    const to = input.to.map((a) => a.trim());
    // Recipients and subject as code, so no channel's formatting changes what the owner reads (links, emphasis).
    const draft = `Send this mail through ${found.name}?\n\nTo: ${to.map(verbatim).join(', ')}\nSubject: ${input.subject ? verbatim(input.subject) : '(none)'}\n\n${input.text}`;
    const reply = await this.awaitAnswer(ctx, call, draft, CONFIRM, signal);
    if ('aborted' in reply) return { ok: false, error: reply.aborted };
    const audited = (sent: boolean) => this.deps.audit?.({ type: 'mail.composed', conversation: conv.id, actor: 'by' in reply ? reply.by : `${conv.channel}:${ctx.message.sender}`, data: { via: found.name, to, subject: input.subject, sent } });
    if ('gone' in reply) {
      audited(false);
      return this.finish(ctx, call, { ok: false, error: `The owner did not confirm the mail (${reply.gone}); nothing was sent.` });
    }
    const [byChannel, ...rest] = reply.by.split(':');
    const confirmed = chosen(reply.answer, CONFIRM) === CONFIRM[0] && !!this.deps.isOwner?.(byChannel, rest.join(':'));
    if (!confirmed) {
      audited(false);
      return this.finish(ctx, call, { ok: true, text: `The mail was not sent: the owner answered "${reply.answer.trim().slice(0, 200)}" instead of "Send".` });
    }
    this.ledger.record(ctx.message.id, call.call, call.tool, { ok: false, error: `The mail was being sent through ${found.name} when the turn was cut short; whether it went out is not known. Ask the owner to look in the sent mail before composing it again.` });
    let result: HostToolResult;
    try {
      await found.compose(to, input.subject, input.text);
      result = { ok: true, text: `Sent to ${to.join(', ')} through ${found.name}.` };
    } catch (err) {
      result = { ok: false, error: `The mail was not sent: ${(err as Error).message}` };
    }
    audited(result.ok);
    this.ledger.replace(ctx.message.id, call.call, result);
    return result;
  }

  /** The channel a composed mail goes through: `via`, else the only running mail channel. */
  private mailChannel(via?: 'email' | 'gmail'): { name: string; compose: NonNullable<Channel['compose']> } | { error: string } {
    const running = MAIL_CHANNELS.flatMap((name) => {
      const ch = this.deps.channel?.(name);
      return ch?.compose ? [{ name, compose: ch.compose.bind(ch) }] : [];
    });
    if (via) return running.find((c) => c.name === via) ?? { error: `The ${via} channel is not running, so no mail was sent. The owner can set it up with \`nanoclaw setup ${via}\`${running.length ? `, or you can send through ${running[0].name}` : ''}.` };
    if (running.length === 1) return running[0];
    if (running.length > 1) return { error: `Both ${running.map((c) => c.name).join(' and ')} are running: name the one to send through in \`via\`.` };
    return { error: 'No mail channel (email or gmail) is running, so no mail can be sent. The owner can set one up with `nanoclaw setup email` or `nanoclaw setup gmail`.' };
  }

  /**
   * Answers a conversation's open question (a tapped button, the HTTP API, or
   * the next message: `inbound` is its id). False when there is no such open question.
   */
  answer(questionId: number, text: string, by: string, inbound?: number): boolean {
    const q = this.questions.get(questionId);
    if (!q || !this.questions.answer(questionId, text, by)) return false;
    this.deps.audit?.({ type: 'question.answered', conversation: q.conversationId, actor: by, data: { question: questionId, ...(inbound ? { inbound } : {}) } });
    this.waiting.get(questionId)?.(text);
    return true;
  }

  /** Answers by question id from `channel`: only a question of one of that channel's conversations. */
  answerOn(channel: string, questionId: number, text: string, sender: string): AnswerResult {
    const q = this.questions.get(questionId);
    if (!q || this.deps.channelOf?.(q.conversationId) !== channel) return { ok: false, reason: `no question ${questionId} on ${channel}` };
    if (!this.answer(questionId, text, `${channel}:${sender}`)) return { ok: false, reason: `question ${questionId} is no longer open (answered already, or its turn ended)` };
    return { ok: true };
  }
}

/** The result the model reads: the answer, with the choice it picked when it was one by number. */
function answered(text: string, choices: string[]): HostToolResult {
  const n = /^\s*(\d{1,2})\s*\.?\s*$/.exec(text);
  const picked = n && choices[Number(n[1]) - 1];
  return { ok: true, text: picked ? `The user chose: ${picked}` : `The user answered: ${text}` };
}

/** The choice an answer picks, by its number or its words (case and surrounding space ignored); undefined for anything else. */
function chosen(text: string, choices: string[]): string | undefined {
  const n = /^\s*(\d{1,2})\s*\.?\s*$/.exec(text);
  if (n) return choices[Number(n[1]) - 1];
  const words = text.trim().toLowerCase();
  return choices.find((c) => c.toLowerCase() === words);
}

/** `text` as a Markdown code span (CommonMark: a fence longer than any run of backticks inside, padded when it starts or ends with one). */
function verbatim(text: string): string {
  const fence = '`'.repeat(Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length)) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}
