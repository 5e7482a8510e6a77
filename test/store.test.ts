/**
 * The durable inbox and outbox on a real SQLite file. "Crash" here means the
 * file is closed and opened again by a fresh connection: what the next
 * gateway process would see.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type Database from 'better-sqlite3';
import { openDatabase } from '../src/store/database.ts';
import { conversationId, Store, type ConversationKey } from '../src/store/store.ts';

describe('store (durable inbox and outbox)', () => {
  let dir: string;
  let n = 0;
  const open: Database.Database[] = [];
  /** A fresh database file per test, opened like the gateway opens it. */
  const fresh = () => {
    const file = join(dir, `store-${++n}.db`);
    return { file, store: reopen(file) };
  };
  const reopen = (file: string) => {
    const db = openDatabase(file);
    open.push(db);
    return new Store(db);
  };
  const key = (chat: string): ConversationKey => ({ channel: 'api', chat, thread: '' });

  before(() => { dir = mkdtempSync(join(tmpdir(), 'ncs-')); });
  afterEach(() => { for (const db of open.splice(0)) if (db.open) db.close(); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps an accepted message on disk, pending, for the next process to find', () => {
    const { file, store } = fresh();
    const conv = store.conversation(key('durable'));
    const { message, duplicate } = store.acceptInbound(conv.id, { sender: 'ann', text: 'remember me' });
    assert.equal(duplicate, false);
    store.db.close();

    const again = reopen(file);
    assert.deepEqual(again.pendingInbound().map((m) => [m.id, m.conversationId, m.sender, m.text, m.status]),
      [[message.id, conv.id, 'ann', 'remember me', 'pending']]);
    assert.equal(again.getConversation(conv.id)?.chat, 'durable');
  });

  it('answers a repeated clientId with the first message and stores nothing new', () => {
    const { store } = fresh();
    const conv = store.conversation(key('dup'));
    const first = store.acceptInbound(conv.id, { clientId: 'k-1', sender: 'ann', text: 'once' });
    const retry = store.acceptInbound(conv.id, { clientId: 'k-1', sender: 'ann', text: 'once (retried)' });
    assert.equal(retry.duplicate, true);
    assert.deepEqual(retry.message, first.message);
    assert.deepEqual(store.pendingInbound().map((m) => m.text), ['once']);

    // The same clientId in another conversation is another message.
    const other = store.conversation(key('dup-other'));
    assert.equal(store.acceptInbound(other.id, { clientId: 'k-1', sender: 'bob', text: 'elsewhere' }).duplicate, false);
    // Messages without a clientId are never deduplicated.
    store.acceptInbound(conv.id, { sender: 'ann', text: 'same' });
    store.acceptInbound(conv.id, { sender: 'ann', text: 'same' });
    assert.deepEqual(store.pendingInbound().map((m) => m.text), ['once', 'elsewhere', 'same', 'same']);
  });

  it('stores a turn\'s replies and the done mark together, and a second completeTurn adds nothing', () => {
    const { file, store } = fresh();
    const conv = store.conversation(key('turn'));
    const { message } = store.acceptInbound(conv.id, { sender: 'ann', text: 'hi' });
    const stored = store.completeTurn(message.id, [{ kind: 'reply', text: 'hello' }, { kind: 'reply', text: 'anything else?' }]);
    assert.deepEqual(stored.map((m) => [m.kind, m.text, m.inboundId, m.state]),
      [['reply', 'hello', message.id, 'pending'], ['reply', 'anything else?', message.id, 'pending']]);
    assert.equal(store.getInbound(message.id)?.status, 'done');
    assert.deepEqual(store.pendingInbound(), []);

    // A turn run twice (say, a retry racing a restart) must not send its replies twice.
    assert.deepEqual(store.completeTurn(message.id, [{ kind: 'reply', text: 'hello again' }]), []);
    assert.deepEqual(store.outboundFor(message.id).map((m) => m.text), ['hello', 'anything else?']);
    store.db.close();
    const again = reopen(file);
    assert.deepEqual(again.outboundFor(message.id).map((m) => m.text), ['hello', 'anything else?']);
    assert.equal(again.getInbound(message.id)?.status, 'done');
  });

  it('rolls back a completeTurn that fails part-way: no replies stored, the message stays pending', () => {
    const { store } = fresh();
    const conv = store.conversation(key('atomic'));
    const { message } = store.acceptInbound(conv.id, { sender: 'ann', text: 'hi' });
    // The second reply violates the kind CHECK constraint after the first was inserted.
    assert.throws(() => store.completeTurn(message.id, [{ kind: 'reply', text: 'first' }, { kind: 'bogus' as any, text: 'second' }]), /CHECK constraint/);
    assert.deepEqual(store.outboundFor(message.id), []);
    assert.equal(store.getInbound(message.id)?.status, 'pending');
    assert.throws(() => store.completeTurn(99_999, []), /no inbound message 99999/);
  });

  it('lists unsent replies oldest first until each is marked sent, and the mark survives a restart', () => {
    const { file, store } = fresh();
    const a = store.conversation(key('out-a'));
    const b = store.conversation(key('out-b'));
    const ma = store.acceptInbound(a.id, { sender: 'ann', text: 'a?' }).message;
    const mb = store.acceptInbound(b.id, { sender: 'bob', text: 'b?' }).message;
    const [ra] = store.completeTurn(ma.id, [{ kind: 'reply', text: 'a!' }]);
    const [rb1, rb2] = store.completeTurn(mb.id, [{ kind: 'reply', text: 'b1' }, { kind: 'error', text: 'b2' }]);
    const notice = store.addNotice(a.id, 'idle');
    assert.deepEqual(store.pendingOutbound().map((m) => m.id), [ra.id, rb1.id, rb2.id, notice.id]);

    store.markSent(rb1.id);
    store.markSent(notice.id);
    assert.deepEqual(store.pendingOutbound().map((m) => m.text), ['a!', 'b2']);
    assert.equal(store.getOutbound(rb1.id)?.state, 'sent');
    store.markSent(rb1.id); // marking twice is harmless
    store.db.close();

    const again = reopen(file);
    assert.deepEqual(again.pendingOutbound().map((m) => m.text), ['a!', 'b2']);
  });

  it('leaves a message pending when the process dies between accepting it and finishing its turn', () => {
    const { file, store } = fresh();
    const conv = store.conversation(key('crash'));
    const { message } = store.acceptInbound(conv.id, { clientId: 'c-1', sender: 'ann', text: 'in flight' });
    // The turn was running (its container even recorded) when the process died.
    store.recordContainer('nanoclaw-x', conv.id, 'running');
    store.db.close();

    const again = reopen(file);
    assert.deepEqual(again.pendingInbound().map((m) => m.id), [message.id]);
    assert.deepEqual(again.outboundFor(message.id), []);
    // The client's retry after the restart finds the same message instead of a second copy.
    const retry = again.acceptInbound(conv.id, { clientId: 'c-1', sender: 'ann', text: 'in flight' });
    assert.equal(retry.duplicate, true);
    assert.equal(retry.message.id, message.id);
    // The restarted gateway finishes the turn once.
    assert.equal(again.completeTurn(message.id, [{ kind: 'reply', text: 'done' }]).length, 1);
    assert.deepEqual(again.pendingInbound(), []);
  });

  it('lists a conversation\'s history in order, both directions, replies in the order they were given', () => {
    const { store } = fresh();
    const conv = store.conversation(key('history'));
    const m1 = store.acceptInbound(conv.id, { sender: 'ann', text: 'one' }).message;
    store.completeTurn(m1.id, [{ kind: 'reply', text: 'one-a' }, { kind: 'reply', text: 'one-b' }, { kind: 'reply', text: 'one-c' }]);
    // The next message comes a moment later (the ordering within one millisecond is what is under test above).
    for (const t = Date.now(); Date.now() === t;);
    const m2 = store.acceptInbound(conv.id, { sender: 'ann', text: 'two' }).message;
    store.completeTurn(m2.id, [{ kind: 'reply', text: 'two-a' }]);
    assert.deepEqual(store.history(conv.id).map((m) => `${m.direction}:${m.text}`),
      ['in:one', 'out:one-a', 'out:one-b', 'out:one-c', 'in:two', 'out:two-a']);
  });

  it('gives every key, however hostile, a path-safe id of the form c- and 20 hex digits', () => {
    const { store } = fresh();
    const hostile = ['../../x', '/etc/passwd', 'a/b\\c', 'nul\0byte', '\0', '', '.', '..', 'x'.repeat(10_000), 'ünïcødé 🦀', 'line\nbreak', '$(rm -rf ~)', 'C:\\Windows'];
    const ids = new Set<string>();
    for (const chat of hostile) {
      for (const k of [{ channel: 'telegram', chat, thread: '' }, { channel: 'slack', chat: 'C1', thread: chat }, { channel: chat, chat: 'x', thread: 'y' }]) {
        const id = conversationId(k);
        assert.match(id, /^c-[0-9a-f]{20}$/, JSON.stringify(k));
        ids.add(id);
        assert.equal(store.conversation(k).id, id, 'the stored conversation has the same id');
      }
    }
    assert.equal(ids.size, hostile.length * 3, 'different keys, different ids');
    assert.deepEqual(readdirSync(dir).filter((f) => !/^store-\d+\.db(-wal|-shm)?$/.test(f)), [], 'nothing but the database was written');
  });

  it('never gives two different keys the same conversation, even when a name holds the separator', () => {
    const { store } = fresh();
    // Both keys hash the same bytes if fields are only joined with NUL.
    const victim = { channel: 'api', chat: 'a', thread: 'b\0' };
    const attacker = { channel: 'api', chat: 'a\0b', thread: '' };
    const v = store.conversation(victim);
    store.acceptInbound(v.id, { sender: 'victim', text: 'private' });
    const a = store.conversation(attacker);
    assert.notEqual(a.id, v.id);
    assert.deepEqual([a.chat, a.thread], ['a\0b', ''], 'the attacker gets a conversation of their own');
  });
});
