/**
 * The delivery worker on a real SQLite file, with a chat channel whose sends
 * fail on command. "Restart" means the file is closed and opened again by a
 * fresh connection and a fresh worker: what the next gateway process does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { DeliveryError, type Channel } from '../src/channels/channel.ts';
import { Delivery, type DeliveryAttempt } from '../src/core/delivery.ts';
import { openDatabase } from '../src/store/database.ts';
import { Outbox } from '../src/store/outbox.ts';
import { Store } from '../src/store/store.ts';
import { TestChatChannel } from './support/test-channel.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} } as any;

describe('delivery worker (outbox, retries, order, crash recovery)', () => {
  let dir: string;
  let n = 0;
  const workers: Delivery[] = [];
  const stores: Store[] = [];

  before(() => { dir = mkdtempSync(join(tmpdir(), 'ncd-')); });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
    for (const s of stores.splice(0)) if (s.db.open) s.db.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A store on a fresh file (or `file` again), and a worker over it with the given channels. */
  function setup(channels: Channel[], opts: { file?: string; maxAttempts?: number; backoffMs?: number } = {}) {
    const file = opts.file ?? join(dir, `outbox-${++n}.db`);
    const store = new Store(openDatabase(file));
    stores.push(store);
    const events: DeliveryAttempt[] = [];
    const audit: Array<{ type: string; conversation?: string; data?: any }> = [];
    const waiters: Array<() => void> = [];
    const byName = new Map(channels.map((c) => [c.name, c]));
    const worker = new Delivery({
      outbox: new Outbox(store.db),
      conversation: (id) => store.getConversation(id),
      channel: (name) => byName.get(name),
      attachmentRoot: join(dir, 'attachments'),
      config: { maxAttempts: opts.maxAttempts ?? 5, backoffMs: opts.backoffMs ?? 10, maxBackoffMs: 1000 },
      log: quiet,
      audit: (e) => audit.push(e as any),
      onAttempt: (e) => { events.push(e); for (const w of waiters.splice(0)) w(); },
    });
    workers.push(worker);
    /** Resolves once `done()` holds after some attempt (no clock involved). */
    const until = async (done: () => boolean) => { while (!done()) await new Promise<void>((r) => waiters.push(r)); };
    /** Stores a turn's replies in `chat` of `channel`, as the gateway does, and wakes the worker. */
    const reply = (channel: string, chat: string, ...texts: string[]) => {
      const conv = store.conversation({ channel, chat, thread: '' });
      const { message } = store.acceptInbound(conv.id, { sender: 'owner', text: 'hi' });
      const rows = store.completeTurn(message.id, texts.map((text) => ({ kind: 'reply' as const, text })));
      return { conv, rows, delivered: worker.wake(conv.id) };
    };
    return { file, store, worker, events, audit, until, reply, outbox: new Outbox(store.db) };
  }

  it('retries a transiently failing send until it succeeds, and stores the platform ids', async () => {
    const chat = new TestChatChannel();
    chat.failNext(new Error('socket hang up'), new DeliveryError('transient', 'HTTP 502'));
    const t = setup([chat]);
    await t.worker.start();
    const { rows } = t.reply('testchat', 'c1', 'hello');
    await t.until(() => t.events.some((e) => e.outcome === 'sent'));
    assert.deepEqual(t.events.map((e) => e.outcome), ['retry', 'retry', 'sent']);
    const row = t.outbox.get(rows[0].id)!;
    assert.equal(row.state, 'sent');
    assert.equal(row.attempts, 3);
    assert.deepEqual(row.platformIds, ['c1:1']);
    assert.deepEqual(chat.sent.map((m) => m.text), ['hello']);
  });

  it('keeps a conversation in order: a later reply never overtakes an earlier one that is being retried', async () => {
    const chat = new TestChatChannel();
    chat.failNext(new Error('timeout'), new Error('timeout'), new Error('timeout'));
    const t = setup([chat]);
    await t.worker.start();
    t.reply('testchat', 'c1', 'first', 'second');
    t.reply('testchat', 'c1', 'third');
    await t.until(() => chat.sent.length === 3);
    assert.deepEqual(chat.calls.map((c) => `${c.text}:${c.result}`),
      ['first:threw', 'first:threw', 'first:threw', 'first:sent', 'second:sent', 'third:sent']);
  });

  it('delivers other conversations while one waits for its retry', async () => {
    const slow = new TestChatChannel('slowchat');
    const other = new TestChatChannel('otherchat');
    slow.failNext(new DeliveryError('transient', 'HTTP 429', { retryAfterMs: 3_600_000 }));
    const t = setup([slow, other]);
    await t.worker.start();
    const a = t.reply('slowchat', 'a', 'waits an hour');
    await a.delivered;
    await t.reply('otherchat', 'b', 'goes now').delivered;
    assert.deepEqual(other.sent.map((m) => m.text), ['goes now']);
    const waiting = t.outbox.get(a.rows[0].id)!;
    assert.equal(waiting.state, 'pending');
    assert.equal(waiting.lastError, 'HTTP 429');
    assert.ok(waiting.nextAttemptAt >= Date.now() + 3_000_000, 'the platform\'s retry-after is kept, not the 10 ms backoff');
  });

  it('honours a retry-after longer than the backoff: the next attempt starts no earlier than it', async () => {
    const chat = new TestChatChannel();
    chat.failNext(new DeliveryError('transient', 'HTTP 429 Too Many Requests', { retryAfterMs: 400 }));
    const t = setup([chat], { backoffMs: 10 });
    await t.worker.start();
    t.reply('testchat', 'c1', 'rate limited');
    await t.until(() => t.events.some((e) => e.outcome === 'sent'));
    const [retry, sent] = t.events;
    assert.equal(retry.outcome, 'retry');
    assert.equal(sent.outcome, 'sent');
    const [failedCall, secondCall] = chat.calls;
    assert.equal(failedCall.result, 'threw');
    assert.ok(retry.outcome === 'retry' && retry.at >= failedCall.at + 400, 'the retry was planned after the retry-after');
    assert.ok(retry.outcome === 'retry' && secondCall.at >= retry.at, 'and the second attempt did not start before that time');
  });

  it('fails a permanently refused message after one attempt, audits it, goes on with the next, and tells the agent once', async () => {
    const chat = new TestChatChannel();
    chat.failNext(new DeliveryError('permanent', 'Forbidden: bot was blocked by the user', { cause: new Error('HTTP 403') }));
    const t = setup([chat]);
    await t.worker.start();
    const { conv, rows, delivered } = t.reply('testchat', 'c1', 'you will not see this', 'but this one');
    await delivered;
    const failed = t.outbox.get(rows[0].id)!;
    assert.equal(failed.state, 'failed');
    assert.equal(failed.attempts, 1);
    assert.match(failed.lastError!, /bot was blocked.*HTTP 403/);
    assert.equal(t.outbox.get(rows[1].id)!.state, 'sent');
    assert.deepEqual(t.audit.map((a) => [a.type, a.data?.outbound, a.data?.kind]), [['delivery.failed', rows[0].id, 'permanent']]);
    const note = t.worker.noteForAgent(conv.id);
    assert.match(note, /^\[Your message of .* \("you will not see this"\) could not be delivered: Forbidden: bot was blocked/);
    assert.equal(t.worker.noteForAgent(conv.id), '', 'the agent is told once');
    assert.deepEqual(t.outbox.failedIn(conv.id).map((m) => m.id), [rows[0].id], 'the failure stays visible for `nanoclaw status`');
  });

  it('gives a message up as failed when its attempts are used up', async () => {
    const chat = new TestChatChannel();
    chat.failNext(...Array.from({ length: 3 }, (_, i) => new Error(`timeout ${i + 1}`)));
    const t = setup([chat], { maxAttempts: 3 });
    await t.worker.start();
    const { rows } = t.reply('testchat', 'c1', 'never arrives', 'arrives');
    await t.until(() => chat.sent.length === 1);
    const row = t.outbox.get(rows[0].id)!;
    assert.equal(row.state, 'failed');
    assert.equal(row.attempts, 3);
    assert.match(row.lastError!, /timeout 3 \(gave up after 3 attempts\)/);
    assert.deepEqual(t.events.map((e) => e.outcome), ['retry', 'retry', 'failed', 'sent']);
    assert.equal(t.audit.filter((a) => a.type === 'delivery.failed').length, 1);
  });

  it('keeps a message for an offline recipient without using up attempts, and sends it when redelivery is asked', async () => {
    const chat = new TestChatChannel();
    chat.failNext(new DeliveryError('offline', 'no chat is connected'));
    const t = setup([chat], { maxAttempts: 1 });
    await t.worker.start();
    const { rows, delivered } = t.reply('testchat', 'c1', 'for later');
    await delivered;
    assert.equal(t.outbox.get(rows[0].id)!.state, 'pending');
    assert.equal(t.outbox.get(rows[0].id)!.attempts, 0);
    assert.equal(chat.calls.length, 1, 'no retries while the recipient is away');
    t.worker.redeliver('testchat');
    await t.until(() => chat.sent.length === 1);
    assert.equal(t.outbox.get(rows[0].id)!.state, 'sent');
  });

  it('after a restart, sends again a message that was being sent when the process died (channel cannot check)', async () => {
    const chat = new TestChatChannel();
    const t = setup([chat]);
    const { rows } = t.reply('testchat', 'c1', 'maybe sent');
    t.outbox.claim(rows[0].id); // durable 'sending', then the process dies before recording the outcome
    t.store.db.close();

    const again = setup([chat], { file: t.file });
    await again.worker.start();
    await again.until(() => chat.sent.length === 1);
    assert.deepEqual(chat.sent.map((m) => m.text), ['maybe sent']);
    assert.equal(again.outbox.get(rows[0].id)!.state, 'sent');
    assert.equal(again.outbox.get(rows[0].id)!.attempts, 2);
    assert.deepEqual(again.audit.map((a) => [a.type, a.data.arrived, a.data.checked]), [['delivery.recovered', false, false]]);
  });

  it('after a restart, does not send again a message the channel confirms arrived, and goes on with the next', async () => {
    const asked: number[] = [];
    const chat = new TestChatChannel('testchat', { wasDelivered: (m) => { asked.push(m.id); return true; } });
    const t = setup([chat]);
    const { rows } = t.reply('testchat', 'c1', 'already there', 'still to send');
    t.outbox.claim(rows[0].id);
    t.store.db.close();

    const again = setup([chat], { file: t.file });
    await again.worker.start();
    await again.until(() => chat.sent.length === 1);
    assert.deepEqual(asked, [rows[0].id]);
    assert.deepEqual(chat.sent.map((m) => m.text), ['still to send']);
    assert.equal(again.outbox.get(rows[0].id)!.state, 'sent');
    assert.deepEqual(again.audit.map((a) => [a.type, a.data.arrived, a.data.checked]), [['delivery.recovered', true, true]]);
  });

  it('does not deliver again a row marked sent through the store, whose state says sent (the old status column is gone)', async () => {
    const chat = new TestChatChannel();
    const t = setup([chat]);
    const { rows } = t.reply('testchat', 'c1', 'old sent', 'old pending');
    t.store.markSent(rows[0].id);
    assert.equal(t.store.db.prepare('SELECT state FROM outbound WHERE id = ?').pluck().get(rows[0].id), 'sent', 'the row says sent');
    assert.ok(!(t.store.db.prepare('PRAGMA table_info(outbound)').all() as Array<{ name: string }>).some((c) => c.name === 'status'), 'no second column that could drift from state');
    await t.worker.start();
    await t.until(() => chat.sent.length === 1);
    assert.deepEqual(chat.sent.map((m) => m.text), ['old pending']);
  });
  it('resumes a long reply where a failed attempt stopped: parts that went out are not sent again', async () => {
    // A channel that sends a reply as three parts and is rate-limited after the first, once.
    const sentParts: string[] = [];
    let limited = false;
    const chat = new TestChatChannel('parts');
    chat.send = async (_conv, payload) => {
      const parts = payload.text.split('|');
      const ids: string[] = [];
      for (const [i, part] of parts.entries()) {
        if (i < (payload.resumeAt ?? 0)) continue;
        if (i === 1 && !limited) {
          limited = true;
          throw new DeliveryError('transient', 'Too Many Requests', { retryAfterMs: 20, delivered: ids });
        }
        sentParts.push(part);
        ids.push(`id-${part}`);
      }
      return { platformIds: ids };
    };
    const t = setup([chat]);
    await t.worker.start();
    const { rows } = t.reply('parts', 'c1', 'one|two|three');
    await t.until(() => t.events.some((e) => e.outcome === 'sent'));
    assert.deepEqual(sentParts, ['one', 'two', 'three'], 'each part once');
    assert.deepEqual(t.outbox.get(rows[0].id)!.platformIds, ['id-one', 'id-two', 'id-three']);
  });
});
