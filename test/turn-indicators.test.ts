/**
 * Typing and the progress message, driven by turn events on node's mocked
 * clock: every test moves time a second at a time and reads the calls a
 * recording channel got, in order. Times in the expected texts are the mocked
 * clock's, so they say which call came when without measuring anything.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { Channel, ChannelCapabilities, OutboundPayload, SendResult, TurnEvent } from '../src/channels/channel.ts';
import { toDialect } from '../src/channels/format/index.ts';
import { TurnIndicators, type TurnIndicatorOptions } from '../src/core/turn-indicators.ts';
import type { Conversation } from '../src/store/store.ts';

type Call =
  | { op: 'typing'; at: number }
  | { op: 'send'; at: number; kind: string; text: string; outboundId?: number; files: number; buttons: number }
  | { op: 'edit'; at: number; id: string; text: string }
  | { op: 'remove'; at: number; id: string };

/** A channel that records what it is asked, in order; its calls succeed unless told otherwise. */
class RecordingChannel implements Channel {
  readonly trusted = false;
  readonly calls: Call[] = [];
  readonly capabilities: ChannelCapabilities;
  /** Set to make the calls of that kind fail (or, for send, wait for `release`). */
  failTyping: (n: number) => boolean = () => false;
  failEdit = false;
  failSend = false;
  holdSend = false;
  private held: Array<() => void> = [];
  typing?: (conversation: Conversation) => Promise<void>;
  edit?: (conversation: Conversation, platformId: string, text: string) => Promise<void>;
  remove?: (conversation: Conversation, platformId: string) => Promise<void>;
  private sends = 0;

  constructor(readonly name: string, caps: { typing?: false | { lastsMs: number }; edits?: false | { minIntervalMs: number }; remove?: boolean }) {
    this.capabilities = {
      maxMessageLength: 4096, dialect: 'plain', files: { in: false, out: false, maxOutBytes: 0 }, buttons: false,
      typing: caps.typing ?? false, edits: caps.edits ?? false, threads: false, reactions: false,
    };
    // The methods exist whatever the capabilities say: the capabilities decide.
    let typings = 0;
    this.typing = async () => {
      this.calls.push({ op: 'typing', at: Date.now() });
      if (this.failTyping(++typings)) throw new Error('chat not found');
    };
    this.edit = async (_c, id, text) => {
      this.calls.push({ op: 'edit', at: Date.now(), id, text });
      if (this.failEdit) throw new Error('message to edit not found');
    };
    if (caps.remove !== false) this.remove = async (_c, id) => { this.calls.push({ op: 'remove', at: Date.now(), id }); };
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async send(_conversation: Conversation, message: OutboundPayload): Promise<SendResult> {
    this.calls.push({ op: 'send', at: Date.now(), kind: message.kind, text: message.text, outboundId: message.outboundId, files: message.files.length, buttons: message.buttons.length });
    if (this.holdSend) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.failSend) throw new Error('bot was blocked by the user');
    return { platformIds: [`m${++this.sends}`] };
  }

  /** Lets the held sends resolve. */
  release(): void {
    for (const r of this.held.splice(0)) r();
  }

  /** The calls as short strings, for comparing sequences. */
  get log(): string[] {
    return this.calls.map((c) => c.op === 'send' ? `send ${c.kind}: ${c.text}` : c.op === 'edit' ? `edit ${c.id}: ${c.text}` : c.op === 'remove' ? `remove ${c.id}` : 'typing');
  }
}

function conversation(id: string, channel: string): Conversation {
  return { id, channel, chat: id, thread: '', memory: false, sessionId: null, dataDir: null, createdAt: 0, lastActiveAt: 0, agentChoice: null };
}

/** Lets the promise callbacks queued so far (the channel's calls and what follows them) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Moves the mocked clock `ms` on, a second at a time, settling after each step as real time would. */
async function advance(ms: number): Promise<void> {
  for (let done = 0; done < ms; done += 1000) {
    mock.timers.tick(Math.min(1000, ms - done));
    await settle();
  }
}

describe('turn indicators (typing, progress message)', () => {
  let warnings: string[];
  let indicators: TurnIndicators | undefined;

  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 });
    warnings = [];
  });
  afterEach(async () => {
    const stopping = indicators?.stop(0);
    mock.timers.tick(1);
    await stopping;
    indicators = undefined;
    mock.timers.reset();
  });

  /** Indicators over the given channels, each with one conversation `c-<channel>`. */
  function setup(channels: RecordingChannel[], options?: TurnIndicatorOptions) {
    const byName = new Map(channels.map((c) => [c.name, c]));
    const log = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(`error: ${m}`) };
    indicators = new TurnIndicators({
      channel: (name) => byName.get(name),
      conversation: (id) => id.startsWith('c-') && byName.has(id.slice(2)) ? conversation(id, id.slice(2)) : undefined,
      log,
      options,
    });
    const it = indicators;
    const emit = (ev: TurnEvent) => it.handle(ev);
    return {
      indicators: it,
      start: (channel: string, inboundId = 1) => emit({ type: 'turn_start', conversationId: `c-${channel}`, inboundId, container: 'box' }),
      tool: (channel: string, tool: string, text: string, inboundId = 1) => emit({ type: 'progress', conversationId: `c-${channel}`, inboundId, kind: 'tool_use', tool, text }),
      said: (channel: string, text: string, inboundId = 1) => emit({ type: 'progress', conversationId: `c-${channel}`, inboundId, kind: 'text', text }),
      end: (channel: string, inboundId = 1) => emit({ type: 'turn_end', conversationId: `c-${channel}`, inboundId, replies: [] }),
      asks: (channel: string, inboundId = 1) => emit({ type: 'question', conversationId: `c-${channel}`, inboundId, questionId: 7, question: 'Which?', choices: [] }),
    };
  }

  it('shows typing at once and refreshes it before it lapses while the turn runs, and not after', async () => {
    const tg = new RecordingChannel('tg', { typing: { lastsMs: 5000 } });
    const t = setup([tg]);
    t.start('tg');
    await settle();
    assert.deepEqual(tg.calls.map((c) => c.at), [0], 'typing is shown as the turn starts');
    await advance(10_000);
    t.end('tg');
    await advance(30_000);
    // lastsMs 5000 less its margin: every 4 s, so the indicator never lapses.
    assert.deepEqual(tg.calls.map((c) => `${c.op}@${c.at}`), ['typing@0', 'typing@4000', 'typing@8000']);
  });

  it('stops typing while the agent waits for an answer, and types again when it goes on', async () => {
    const tg = new RecordingChannel('tg', { typing: { lastsMs: 5000 } });
    const t = setup([tg]);
    t.start('tg');
    await advance(5000);
    t.asks('tg');
    await advance(60_000);
    t.said('tg', 'Thanks, continuing.');
    await advance(4000);
    t.end('tg');
    assert.deepEqual(tg.calls.map((c) => `${c.op}@${c.at}`), ['typing@0', 'typing@4000', 'typing@65000', 'typing@69000']);
  });

  it('refreshes a short-lived typing indicator no more than once a second', async () => {
    const fast = new RecordingChannel('fast', { typing: { lastsMs: 300 } });
    const t = setup([fast]);
    t.start('fast');
    await settle();
    await advance(3000);
    t.end('fast');
    assert.deepEqual(fast.calls.map((c) => c.at), [0, 1000, 2000, 3000]);
  });

  it('logs a failing typing indicator once per turn, keeps refreshing it, and gives up after three failures in a row', async () => {
    const tg = new RecordingChannel('tg', { typing: { lastsMs: 5000 } });
    tg.failTyping = (n) => n !== 3; // fails, fails, works, then fails from the fourth on
    const t = setup([tg]);
    assert.doesNotThrow(() => t.start('tg'));
    await advance(60_000);
    assert.equal(tg.calls.length, 6, 'the success after two failures restarts the count: three more failures end it');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /typing indicator on tg conversation c-tg failed \(chat not found\)/);
    t.end('tg');
  });

  it('does not call typing again while the last call has not settled', async () => {
    const slow = new RecordingChannel('slow', { typing: { lastsMs: 5000 } });
    let settleTyping = () => {};
    slow.typing = async () => {
      slow.calls.push({ op: 'typing', at: Date.now() });
      await new Promise<void>((resolve) => { settleTyping = resolve; });
    };
    const t = setup([slow]);
    t.start('slow');
    await advance(12_000);
    assert.deepEqual(slow.calls.map((c) => c.at), [0], 'the platform has not answered: no calls pile up');
    settleTyping();
    await advance(4000);
    assert.deepEqual(slow.calls.map((c) => c.at), [0, 16_000]);
    t.end('slow');
  });

  it('goes on without a progress message whose send failed: logged, nothing edited or removed', async () => {
    const tg = new RecordingChannel('tg', { edits: { minIntervalMs: 1000 } });
    tg.failSend = true;
    const t = setup([tg]);
    t.start('tg');
    await advance(9000);
    t.tool('tg', 'Bash', 'make');
    await advance(30_000);
    t.end('tg');
    await advance(1000);
    assert.deepEqual(tg.log, ['send notice: Thinking… (8s)']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /could not send the progress message on tg conversation c-tg \(bot was blocked by the user\)/);
  });

  it('sends no progress message for a turn that ends before progressAfterMs', async () => {
    const tg = new RecordingChannel('tg', { edits: { minIntervalMs: 1000 } });
    const t = setup([tg]);
    t.start('tg');
    t.tool('tg', 'Bash', 'ls');
    await advance(7000);
    t.end('tg');
    await advance(60_000);
    assert.deepEqual(tg.log, []);
  });

  it('gives a long turn one progress message that follows the agent, edited at most every minIntervalMs, and removes it at the end', async () => {
    const tg = new RecordingChannel('tg', { edits: { minIntervalMs: 3000 } });
    const t = setup([tg]);
    t.start('tg');
    await advance(9000);
    t.tool('tg', 'Bash', 'npm test'); // 2 s after the send: held back to 11 s
    await advance(3000);
    t.tool('tg', 'Read', 'src/a.ts'); // both within the interval: only the latest is shown
    await advance(1000);
    t.said('tg', 'Now I fix it.');
    await advance(17_000); // nothing new: the 15 s refresh (at 23 s) updates the time
    t.end('tg');
    await advance(30_000);
    assert.deepEqual(tg.log, [
      'send notice: Thinking… (8s)',
      'edit m1: Bash: npm test (11s)',
      'edit m1: Thinking… (14s)',
      'edit m1: Thinking… (23s)',
      'remove m1',
    ]);
    const send = tg.calls[0] as Extract<Call, { op: 'send' }>;
    assert.deepEqual([send.outboundId, send.files, send.buttons], [undefined, 0, 0], 'the progress message is no stored row, and carries nothing but text');
  });

  it('edits only when the text changed', async () => {
    const tg = new RecordingChannel('tg', { edits: { minIntervalMs: 0 } });
    const t = setup([tg], { progressRefreshMs: 60_000 });
    t.start('tg');
    await advance(8000);
    t.tool('tg', 'Bash', 'npm test');
    t.tool('tg', 'Bash', 'npm test');
    await settle();
    t.tool('tg', 'Bash', 'npm test');
    await settle();
    t.tool('tg', 'Bash', 'npm run build');
    await settle();
    assert.deepEqual(tg.log, ['send notice: Thinking… (8s)', 'edit m1: Bash: npm test (8s)', 'edit m1: Bash: npm run build (8s)']);
    t.end('tg');
  });

  it('shows the tool input on one short line, with Markdown characters taken literally', async () => {
    const tg = new RecordingChannel('tg', { edits: { minIntervalMs: 0 } });
    const t = setup([tg], { progressAfterMs: 1000 });
    t.start('tg');
    t.tool('tg', 'Bash', `rm *.log\n  && echo <b>${'x'.repeat(400)}`);
    await advance(1000);
    const text = (tg.calls[0] as Extract<Call, { op: 'send' }>).text;
    assert.ok(!text.includes('\n'), text);
    // What the user reads once the channel formatted the message: the command as typed, cut to 200 graphemes.
    const shown = toDialect(text, 'plain');
    assert.ok(shown.startsWith('Bash: rm *.log && echo <b>xxx'), shown);
    assert.ok(shown.endsWith('x… (1s)'), shown);
    const summary = shown.slice('Bash: '.length, -' (1s)'.length);
    assert.equal([...summary].length, 200);
    t.end('tg');
  });

  it('edits the message to the time taken where the channel cannot remove it', async () => {
    const wa = new RecordingChannel('wa', { edits: { minIntervalMs: 5000 }, remove: false });
    const t = setup([wa]);
    t.start('wa');
    await advance(72_000);
    t.end('wa');
    await advance(10_000);
    assert.deepEqual(wa.log.slice(0, 2), ['send notice: Thinking… (8s)', 'edit m1: Thinking… (23s)']);
    assert.deepEqual(wa.log.slice(-1), ['edit m1: Done in 1:12.']);
    assert.equal(wa.calls.filter((c) => c.op === 'send').length, 1);
  });

  it('leaves the message alone for the rest of the turn after two failed edits, and never throws', async () => {
    const tg = new RecordingChannel('tg', { edits: { minIntervalMs: 1000 } });
    tg.failEdit = true;
    const t = setup([tg]);
    t.start('tg');
    await advance(8000);
    for (let i = 0; i < 20; i++) {
      assert.doesNotThrow(() => t.tool('tg', 'Bash', `step ${i}`));
      await advance(2000);
    }
    t.end('tg');
    await advance(5000);
    // The first failure is tried again once the interval passed; the second ends the edits, not the removal.
    assert.deepEqual(tg.log, ['send notice: Thinking… (8s)', 'edit m1: Bash: step 0 (9s)', 'edit m1: Bash: step 0 (10s)', 'remove m1']);
    assert.equal(warnings.length, 2);
    assert.match(warnings[1], /could not edit the progress message on tg conversation c-tg \(message to edit not found\); it is left as it is/);
  });

  it('does not edit to the final text after two failed edits where it cannot remove', async () => {
    const wa = new RecordingChannel('wa', { edits: { minIntervalMs: 1000 }, remove: false });
    wa.failEdit = true;
    const t = setup([wa]);
    t.start('wa');
    await advance(8000);
    t.tool('wa', 'Bash', 'a');
    await advance(1000);
    t.tool('wa', 'Bash', 'b');
    await advance(1000);
    t.end('wa');
    await advance(5000);
    assert.deepEqual(wa.log, ['send notice: Thinking… (8s)', 'edit m1: Bash: a (9s)', 'edit m1: Bash: b (10s)']);
  });

  it('removes a progress message whose send was still in flight when the turn ended, once it resolves', async () => {
    const tg = new RecordingChannel('tg', { edits: { minIntervalMs: 1000 } });
    tg.holdSend = true;
    const t = setup([tg]);
    t.start('tg');
    await advance(8000);
    t.tool('tg', 'Bash', 'make');
    await advance(2000);
    t.end('tg');
    await advance(2000);
    assert.deepEqual(tg.log, ['send notice: Thinking… (8s)'], 'nothing is edited or removed before the send resolved');
    tg.release();
    await settle();
    await settle();
    assert.deepEqual(tg.log, ['send notice: Thinking… (8s)', 'remove m1']);
  });

  it('makes no calls on a channel without typing or edits, however long the turn', async () => {
    const plain = new RecordingChannel('plain', {});
    const t = setup([plain]);
    t.start('plain');
    t.tool('plain', 'Bash', 'sleep 100');
    await advance(120_000);
    t.end('plain');
    await advance(10_000);
    assert.deepEqual(plain.log, []);
  });

  it('ignores events of unknown conversations and of turns that are not the running one', async () => {
    const tg = new RecordingChannel('tg', { typing: { lastsMs: 5000 }, edits: { minIntervalMs: 1000 } });
    const t = setup([tg]);
    assert.doesNotThrow(() => { t.start('nowhere'); t.tool('nowhere', 'Bash', 'x'); t.end('nowhere'); });
    t.start('tg', 1);
    await advance(8000);
    t.tool('tg', 'Bash', 'stale', 7);
    t.end('tg', 7);
    await advance(4000);
    assert.deepEqual(tg.log, ['typing', 'typing', 'typing', 'send notice: Thinking… (8s)', 'typing'], 'the other turn neither changed nor ended this one');
    t.end('tg', 1);
  });

  it('lets a new turn replace the one before: its progress message goes, typing goes on for the new one', async () => {
    const tg = new RecordingChannel('tg', { typing: { lastsMs: 5000 }, edits: { minIntervalMs: 1000 } });
    const t = setup([tg]);
    t.start('tg', 1);
    await advance(8000);
    t.start('tg', 2);
    await advance(8000);
    t.end('tg', 1); // late: the turn it ends was replaced already
    await advance(1000);
    t.end('tg', 2);
    await advance(10_000);
    assert.deepEqual(tg.log, [
      'typing', 'typing', 'typing', 'send notice: Thinking… (8s)', // turn 1: typing at 0, 4, 8 s
      'typing', 'remove m1', // turn 2 starts at 8 s
      'typing', 'typing', 'send notice: Thinking… (8s)', // 12, 16 s, then its own message
      'remove m2',
    ]);
  });

  it('stop() clears every timer and closes the progress messages still shown', async () => {
    const tg = new RecordingChannel('tg', { typing: { lastsMs: 5000 }, edits: { minIntervalMs: 1000 } });
    const wa = new RecordingChannel('wa', { edits: { minIntervalMs: 1000 }, remove: false });
    const t = setup([tg, wa]);
    t.start('tg');
    t.start('wa');
    await advance(9000);
    await t.indicators.stop();
    t.start('tg', 2);
    await advance(60_000);
    assert.deepEqual(tg.log, ['typing', 'typing', 'typing', 'send notice: Thinking… (8s)', 'remove m1']);
    assert.deepEqual(wa.log, ['send notice: Thinking… (8s)', 'edit m1: Stopped after 9s.']);
  });
});
