import type { Channel, TurnEvent } from '../channels/channel.ts';
import type { Conversation } from '../store/store.ts';
import type { Logger } from './logger.ts';

export interface TurnIndicatorOptions {
  /** How long a turn runs before it gets a progress message: short turns get none. Default 8000. */
  progressAfterMs?: number;
  /** How often the progress message's elapsed time is brought up to date when nothing else changed it. Default 15000. */
  progressRefreshMs?: number;
}

export interface TurnIndicatorDeps {
  channel(name: string): Channel | undefined;
  conversation(id: string): Conversation | undefined;
  log: Logger;
  options?: TurnIndicatorOptions;
}

/** Platforms take typing calls as a hint, not a stream: more than one a second only spends rate limit. */
const TYPING_FLOOR_MS = 1000;
/** A typing call that failed this often in a row is a broken chat or a revoked permission, not a blip. */
const TYPING_FAILURES = 3;
/** An edit that failed this often will not succeed this turn (message deleted by the user, rate limit). */
const EDIT_FAILURES = 2;
/** The longest summary of what the agent does, in graphemes: a progress line, not a transcript. */
const SUMMARY_MAX = 200;
const THINKING = 'Thinking…';
/** What the progress message says while the agent waits for the person's answer. */
const WAITING = 'Waiting for your answer…';

/**
 * What a chat shows while the agent works: the typing indicator, refreshed
 * before it lapses, and, for a turn that runs longer than `progressAfterMs`,
 * one progress message saying what the agent does now and for how long, edited
 * in place and removed (or closed with the time taken) when the turn ends.
 * Channels opt in through their capabilities (`typing`, `edits`); the others
 * get no calls. Nothing here throws into the gateway: a failing indicator is
 * logged and given up, the turn goes on.
 *
 *   const indicators = new TurnIndicators({ channel, conversation, log });
 *   gateway.on('event', (ev) => indicators.handle(ev)); // …at shutdown: await indicators.stop();
 */
export class TurnIndicators {
  /** The running turn of each conversation: one at a time, a new turn_start replaces the old. */
  private readonly turns = new Map<string, { inboundId: number; typing?: TypingLoop; progress?: ProgressMessage }>();
  /** Per conversation, the tail of its progress-message calls: they run one after the other, never overlapping. */
  private readonly chains = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: TurnIndicatorDeps) {}

  /** Takes one of the gateway's turn events; never throws. */
  handle(ev: TurnEvent): void {
    if (this.stopped) return;
    try {
      if (ev.type === 'turn_start') this.start(ev.conversationId, ev.inboundId);
      else if (ev.type === 'progress') {
        const turn = this.current(ev);
        // The agent goes on (after an answer, say): typing shows again.
        turn?.typing?.resume();
        // Text as it streams is for live views; the step's whole text says what the agent does.
        if (ev.kind !== 'text_delta') turn?.progress?.update(doing(ev));
      } else if (ev.type === 'question') {
        // Nobody is typing while the agent waits for the person's answer.
        const turn = this.current(ev);
        turn?.typing?.pause();
        turn?.progress?.update(WAITING);
      }
      else if (ev.type === 'turn_end' && this.current(ev)) this.end(ev.conversationId, 'Done in');
    } catch (err) {
      this.deps.log.error(`turn indicators: ${ev.type} of conversation ${ev.conversationId} failed: ${(err as Error).stack ?? err}`);
    }
  }

  /**
   * Clears every timer and typing loop, then closes the progress messages
   * still shown (a graceful stop ends turns without a turn_end). Resolves
   * once those calls settled or after `timeoutMs`: await it before the
   * channels stop.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    for (const id of [...this.turns.keys()]) this.end(id, 'Stopped after');
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs).unref(); });
    await Promise.race([Promise.allSettled([...this.chains.values()]), bound]);
    clearTimeout(timer);
  }

  private current(ev: { conversationId: string; inboundId: number }) {
    const turn = this.turns.get(ev.conversationId);
    return turn?.inboundId === ev.inboundId ? turn : undefined;
  }

  private start(conversationId: string, inboundId: number): void {
    if (this.turns.has(conversationId)) this.end(conversationId, 'Done in');
    const conversation = this.deps.conversation(conversationId);
    const channel = conversation && this.deps.channel(conversation.channel);
    if (!conversation || !channel) return;
    const { typing, edits } = channel.capabilities;
    const where = `${channel.name} conversation ${conversationId}`;
    this.turns.set(conversationId, {
      inboundId,
      typing: typing && channel.typing
        ? new TypingLoop(() => channel.typing!(conversation), typingEvery(typing.lastsMs), where, this.deps.log)
        : undefined,
      progress: edits && channel.edit
        ? new ProgressMessage(channel, conversation, edits.minIntervalMs, this.deps.options ?? {}, (fn) => this.serial(conversationId, fn), where, this.deps.log)
        : undefined,
    });
  }

  private end(conversationId: string, closing: string): void {
    const turn = this.turns.get(conversationId);
    this.turns.delete(conversationId);
    turn?.typing?.stop();
    turn?.progress?.end(closing);
  }

  /** Runs `fn` after the conversation's earlier calls settled. */
  private serial(conversationId: string, fn: () => Promise<void>): void {
    const next = (this.chains.get(conversationId) ?? Promise.resolve()).then(fn).catch((err: Error) => {
      this.deps.log.error(`progress message of conversation ${conversationId}: ${err.stack ?? err}`);
    });
    this.chains.set(conversationId, next);
    void next.then(() => { if (this.chains.get(conversationId) === next) this.chains.delete(conversationId); });
  }
}

/** Calls `typing` now and every `everyMs` until stopped, or until it failed TYPING_FAILURES times in a row. */
class TypingLoop {
  private timer?: NodeJS.Timeout;
  private inFlight = false;
  private failures = 0;
  private logged = false;
  private stopped = false;

  constructor(private readonly typing: () => Promise<void>, private readonly everyMs: number, private readonly where: string, private readonly log: Logger) {
    this.resume();
  }

  /** Stops refreshing until resume() (the agent waits for the person). */
  pause(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Shows typing again at once and keeps refreshing it; a no-op while it runs or once stopped. */
  resume(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => this.call(), this.everyMs).unref();
    this.call();
  }

  stop(): void {
    this.stopped = true;
    this.pause();
  }

  private call(): void {
    // A slow platform must not pile calls up: the next tick tries again.
    if (this.inFlight) return;
    this.inFlight = true;
    (async () => this.typing())().then(
      () => { this.failures = 0; },
      (err: unknown) => {
        if (++this.failures >= TYPING_FAILURES) this.stop();
        if (this.logged) return;
        this.logged = true;
        this.log.warn(`typing indicator on ${this.where} failed (${why(err)}); it is tried again, and given up for this turn after ${TYPING_FAILURES} failures in a row`);
      },
    ).finally(() => { this.inFlight = false; });
  }
}

/**
 * One turn's progress message: sent once the turn has run `progressAfterMs`,
 * then edited when what the agent does changes and every `progressRefreshMs`
 * for the elapsed time, never more often than the channel's `minIntervalMs`
 * and never with the text it already shows. Every channel call goes through
 * `serial`, so a send, its edits and its removal reach the platform in order.
 */
class ProgressMessage {
  private doing = THINKING;
  private readonly startedAt = Date.now();
  private readonly timers = new Set<NodeJS.Timeout>();
  private throttled?: NodeJS.Timeout;
  /** The platform's id for the message, once its send resolved. */
  private platformId?: string;
  private shown = '';
  private lastCallAt = 0;
  /** The send or an edit is queued or running: the next edit is decided when it settled. */
  private busy = false;
  /** An edit was asked for and not made yet. */
  private due = false;
  private editFailures = 0;
  private ended = false;

  constructor(
    private readonly channel: Channel,
    private readonly conversation: Conversation,
    private readonly minIntervalMs: number,
    private readonly options: TurnIndicatorOptions,
    private readonly serial: (fn: () => Promise<void>) => void,
    private readonly where: string,
    private readonly log: Logger,
  ) {
    this.later(() => this.send(), options.progressAfterMs ?? 8000);
  }

  update(doing: string): void {
    this.doing = doing;
    this.request();
  }

  /** Ends the turn's message: removed, or edited to `${closing} 1:12.` where the channel cannot remove. */
  end(closing: string): void {
    this.ended = true;
    this.clearTimers();
    const closed = `${closing} ${elapsed(Date.now() - this.startedAt)}.`;
    this.serial(async () => {
      if (this.platformId === undefined) return; // never sent, or its send failed
      try {
        if (this.channel.remove) return await this.channel.remove(this.conversation, this.platformId);
        if (this.editFailures >= EDIT_FAILURES) return;
        const wait = this.lastCallAt + this.minIntervalMs - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
        await this.channel.edit!(this.conversation, this.platformId, closed);
      } catch (err) {
        this.log.warn(`could not close the progress message on ${this.where} (${why(err)}); it stays as it is`);
      }
    });
  }

  private text(): string {
    return `${this.doing} (${elapsed(Date.now() - this.startedAt)})`;
  }

  private send(): void {
    this.timers.add(setInterval(() => this.request(), this.options.progressRefreshMs ?? 15_000).unref());
    this.busy = true;
    this.serial(async () => {
      if (this.ended) return;
      const text = this.text();
      this.lastCallAt = Date.now();
      try {
        const result = await this.channel.send(this.conversation, { kind: 'notice', text, files: [], buttons: [] });
        this.platformId = result.platformIds[0];
        this.shown = text;
      } catch (err) {
        this.log.warn(`could not send the progress message on ${this.where} (${why(err)}); this turn goes on without it`);
      }
      if (this.platformId === undefined) return this.clearTimers(); // nothing to edit: the turn goes on without it
      this.busy = false;
      this.flush();
    });
  }

  /** Asks for an edit: the agent moved on, or the elapsed time is due for an update. */
  private request(): void {
    this.due = true;
    this.flush();
  }

  /**
   * Makes the edit asked for, once nothing else runs and the channel's
   * interval has passed, and only if the text differs from the one shown.
   * The elapsed time alone never asks: it changes every second.
   */
  private flush(): void {
    if (!this.due || this.ended || this.busy || this.platformId === undefined || this.editFailures >= EDIT_FAILURES) return;
    const wait = this.lastCallAt + this.minIntervalMs - Date.now();
    if (wait > 0) {
      this.throttled ??= this.later(() => { this.throttled = undefined; this.flush(); }, wait);
      return;
    }
    this.due = false;
    if (this.text() === this.shown) return;
    this.busy = true;
    this.serial(async () => {
      const text = this.text();
      if (!this.ended) {
        this.lastCallAt = Date.now();
        try {
          await this.channel.edit!(this.conversation, this.platformId!, text);
          this.shown = text;
        } catch (err) {
          const last = ++this.editFailures >= EDIT_FAILURES;
          this.due = !last;
          this.log.warn(`could not edit the progress message on ${this.where} (${why(err)}); ${last ? 'it is left as it is for this turn' : 'trying once more'}`);
        }
      }
      this.busy = false;
      this.flush();
    });
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private later(fn: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => { this.timers.delete(timer); fn(); }, ms).unref();
    this.timers.add(timer);
    return timer;
  }
}

/**
 * How often typing is called: before it lapses, with a margin for the call's
 * own round trip (a fifth of its life, at least a second), and never more
 * than once a second. Telegram's 5 s indicator is called every 4 s.
 */
function typingEvery(lastsMs: number): number {
  return Math.max(TYPING_FLOOR_MS, lastsMs - Math.max(1000, lastsMs / 5));
}

/** What failed, for a log line: an error's message, or whatever else was thrown. */
function why(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What the agent does, as the progress message says it: the tool and its input on one line, or "Thinking…". */
function doing(ev: Extract<TurnEvent, { type: 'progress' }>): string {
  if (ev.kind !== 'tool_use') return THINKING;
  const tool = oneLine(ev.tool ?? '', 60);
  const summary = oneLine(ev.text, SUMMARY_MAX);
  return escapeMarkdown(tool && summary ? `${tool}: ${summary}` : tool || summary) || THINKING;
}

/** `text` on one line, at most `max` graphemes (a cut one ends in "…"). */
function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const graphemes = Array.from(new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(line), (g) => g.segment);
  return graphemes.length <= max ? line : `${graphemes.slice(0, max - 1).join('').trimEnd()}…`;
}

/**
 * The agent's command or path is shown as typed, not as Markdown: the
 * channel formats the message's text (channels/format), and `rm *.log`
 * must not turn into emphasis, nor `<b>` into markup.
 */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>~|&#]/g, '\\$&');
}

/** Whole seconds under a minute ("42s"), m:ss above ("1:12"). */
function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
