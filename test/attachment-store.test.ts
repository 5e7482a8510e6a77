/**
 * The host-side attachment store, on a real SQLite file and real folders:
 * a message's files are on disk (fsynced) before its rows are committed,
 * the rows keep name, size and sha256 instead of a BLOB, retention deletes
 * the files and the rows say so, and the inbox copy reads from the store.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureHome } from '../src/config/home.ts';
import { AttachmentError } from '../src/inbox/attachments.ts';
import { writeInbox } from '../src/inbox/inbox.ts';
import { checkAttachmentSizes, inboxFiles, migrateBlobAttachments, removeConversationAttachments, sweepAttachments } from '../src/store/attachments.ts';
import { MIGRATIONS, openDatabase } from '../src/store/database.ts';
import Database from 'better-sqlite3';
import { Store } from '../src/store/store.ts';

/** Compiled modules the crash child imports (next to this compiled file). */
const dist = (path: string) => new URL(`../src/${path}`, import.meta.url).href;

const root = mkdtempSync(join(tmpdir(), 'nct-attstore-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function setup() {
  const layout = ensureHome(join(root, `home-${++n}`));
  const store = new Store(openDatabase(layout.db));
  const conv = store.conversation({ channel: 'api', chat: `c${n}`, thread: '' });
  return { layout, store, conv };
}

describe('attachment store', () => {
  it('writes each file before the message is stored; the row keeps name, size, sha256 and path, no BLOB', () => {
    const { layout, store, conv } = setup();
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const { message } = store.acceptInbound(conv.id, { sender: 'me', text: 'hi', attachments: [{ name: '../../evil.sh', data: Buffer.from('echo') }, { name: 'big.bin', data: big }] }, { attachmentRoot: layout.attachments });
    const rows = store.attachmentsOf(message.id);
    assert.deepEqual(rows.map((r) => [r.name, r.size, r.sha256, r.data]), [['../../evil.sh', 4, sha(Buffer.from('echo')), null], ['big.bin', big.length, sha(big), null]]);
    // The crash-safe order: every row names a file that is already there, whole.
    for (const r of rows) {
      const file = join(layout.attachments, r.path!);
      assert.equal(sha(readFileSync(file)), r.sha256);
      assert.ok(file.startsWith(join(layout.attachments, conv.id, String(message.id)) + '/'), `${file} stays in the message's folder`);
    }
    assert.equal(statSync(layout.attachments).mode & 0o777, 0o700);
    const blobs = store.db.prepare('SELECT count(*) AS n FROM attachments WHERE data IS NOT NULL').get() as { n: number };
    assert.equal(blobs.n, 0);
  });

  it('a message whose transaction is rolled back leaves no row, and its folder is replaced by the next message given that id', () => {
    const { layout, store, conv } = setup();
    store.db.exec(`CREATE TRIGGER fail_once BEFORE INSERT ON attachments WHEN (SELECT count(*) FROM inbound) = 1 BEGIN SELECT RAISE(ABORT, 'disk trouble'); END`);
    assert.throws(() => store.acceptInbound(conv.id, { sender: 'me', text: 'a', attachments: [{ name: 'old.txt', data: Buffer.from('stale') }] }, { attachmentRoot: layout.attachments }), /disk trouble/);
    assert.equal(store.pendingInbound().length, 0);
    store.db.exec('DROP TRIGGER fail_once');
    const { message } = store.acceptInbound(conv.id, { sender: 'me', text: 'b', attachments: [{ name: 'new.txt', data: Buffer.from('fresh') }] }, { attachmentRoot: layout.attachments });
    assert.deepEqual(readdirSync(join(layout.attachments, conv.id, String(message.id))), ['1-new.txt'], 'the rolled-back file is gone');
    for (const r of store.attachmentsOf(message.id)) assert.ok(existsSync(join(layout.attachments, r.path!)));
  });

  it('refuses a file over the limit before anything is written, with a message that says what to do', () => {
    const err = (() => { try { checkAttachmentSizes([{ name: 'a.jpg', data: Buffer.alloc(2048) }], 1024, 'telegram'); } catch (e) { return e as AttachmentError; } })();
    assert.ok(err instanceof AttachmentError);
    assert.equal(err.kind, 'too_large');
    assert.match(err.message, /"a\.jpg" is 2048 bytes, over the telegram channel's limit of 1024 bytes \(attachments\.maxBytes\); the message was not stored\. Send a smaller file, or raise the limit\./);
  });

  it('retention deletes old files of answered messages, keeps pending ones, and the row says the file is gone', () => {
    const { layout, store, conv } = setup();
    const old = store.acceptInbound(conv.id, { sender: 'me', text: 'old', attachments: [{ name: 'old.txt', data: Buffer.from('old data') }] }, { attachmentRoot: layout.attachments }).message;
    const waiting = store.acceptInbound(conv.id, { sender: 'me', text: 'waiting', attachments: [{ name: 'w.txt', data: Buffer.from('w') }] }, { attachmentRoot: layout.attachments }).message;
    const fresh = store.acceptInbound(conv.id, { sender: 'me', text: 'fresh', attachments: [{ name: 'f.txt', data: Buffer.from('f') }] }, { attachmentRoot: layout.attachments }).message;
    const day = 24 * 3600 * 1000;
    store.db.prepare('UPDATE inbound SET received_at = ? WHERE id IN (?, ?)').run(Date.now() - 31 * day, old.id, waiting.id);
    store.completeTurn(old.id, []);
    store.completeTurn(fresh.id, []);
    const oldPath = join(layout.attachments, store.attachmentsOf(old.id)[0].path!);
    assert.equal(sweepAttachments(store.db, layout.attachments, 30), 1);
    assert.ok(!existsSync(oldPath));
    assert.ok(!existsSync(join(layout.attachments, conv.id, String(old.id))), 'the empty message folder goes too');
    const [row] = store.attachmentsOf(old.id);
    assert.equal(row.name, 'old.txt');
    assert.equal(row.size, 8);
    assert.equal(row.sha256, sha(Buffer.from('old data')));
    assert.match(row.removedReason!, /retention/);
    assert.ok(row.removedAt);
    for (const id of [waiting.id, fresh.id]) assert.ok(existsSync(join(layout.attachments, store.attachmentsOf(id)[0].path!)));
    // A turn that still asks for it tells the agent instead of failing.
    const ws = join(root, `ws-${++n}`);
    mkdirSync(ws);
    const { notes: note } = writeInbox(inboxFiles(store.attachmentsOf(old.id), layout.attachments), ws, { maxBytes: 1024 });
    assert.match(note, /"old\.txt" \(8 bytes\), is no longer available: it was deleted on \d{4}-\d\d-\d\d \(retention period over\)/);
    assert.equal(sweepAttachments(store.db, layout.attachments, 0), 0, '0 days keeps everything');
  });

  it('removes a conversation\'s files with its workspace, and only that conversation\'s', () => {
    const { layout, store, conv } = setup();
    const other = store.conversation({ channel: 'api', chat: `other-${n}`, thread: '' });
    const a = store.acceptInbound(conv.id, { sender: 'me', text: 'a', attachments: [{ name: 'a', data: Buffer.from('a') }] }, { attachmentRoot: layout.attachments }).message;
    const b = store.acceptInbound(other.id, { sender: 'me', text: 'b', attachments: [{ name: 'b', data: Buffer.from('b') }] }, { attachmentRoot: layout.attachments }).message;
    store.completeTurn(a.id, []);
    store.completeTurn(b.id, []);
    assert.equal(removeConversationAttachments(store.db, layout.attachments, conv.id), 1);
    assert.ok(!existsSync(join(layout.attachments, conv.id)));
    assert.match(store.attachmentsOf(a.id)[0].removedReason!, /conversation ended/);
    assert.ok(existsSync(join(layout.attachments, store.attachmentsOf(b.id)[0].path!)));
  });

  it('copies a stored file into the inbox intact, under a fresh name beside a planted link', () => {
    const { layout, store, conv } = setup();
    const data = Buffer.alloc(5 * 1024 * 1024 + 3, 0x5a);
    const { message } = store.acceptInbound(conv.id, { sender: 'me', text: 'x', attachments: [{ name: 'photo.jpg', data }] }, { attachmentRoot: layout.attachments });
    const ws = join(root, `ws-${++n}`);
    mkdirSync(join(ws, 'inbox'), { recursive: true });
    const target = join(root, `target-${n}`);
    symlinkSync(target, join(ws, 'inbox', 'photo.jpg'));
    const { notes: note, saved } = writeInbox(inboxFiles(store.attachmentsOf(message.id), layout.attachments), ws, { maxBytes: 6 * 1024 * 1024 });
    assert.deepEqual(saved, [{ path: '/workspace/inbox/photo (2).jpg', bytes: 5242883 }]);
    assert.equal(note, '');
    assert.equal(sha(readFileSync(join(ws, 'inbox', 'photo (2).jpg'))), sha(data));
    assert.ok(!existsSync(target), 'the planted link was not followed');
  });

  it('still hands BLOB rows stored before the file store to the agent', () => {
    const { store, conv, layout } = setup();
    const { message } = store.acceptInbound(conv.id, { sender: 'me', text: 'x', attachments: [{ name: 'legacy.txt', data: Buffer.from('from a BLOB') }] });
    const ws = join(root, `ws-${++n}`);
    mkdirSync(ws);
    const { saved } = writeInbox(inboxFiles(store.attachmentsOf(message.id), layout.attachments), ws, { maxBytes: 1024 });
    assert.deepEqual(saved, [{ path: '/workspace/inbox/legacy.txt', bytes: 11 }]);
    assert.equal(readFileSync(join(ws, 'inbox', 'legacy.txt'), 'utf8'), 'from a BLOB');
  });

  it('upgrades a database whose attachments are BLOBs, and moves them into files at start', () => {
    const layout = ensureHome(join(root, `home-${++n}`));
    // The store as it was before the file store: every migration up to it.
    const old = new Database(layout.db);
    const upTo = MIGRATIONS.findIndex((m) => m.includes('attachments_v2'));
    for (const m of MIGRATIONS.slice(0, upTo)) old.exec(m);
    old.pragma(`user_version = ${upTo}`);
    old.prepare("INSERT INTO conversations (id, channel, chat, thread, created_at, last_active_at) VALUES ('c-old', 'api', 'old', '', 0, 0)").run();
    old.prepare("INSERT INTO inbound (conversation_id, sender, text, received_at) VALUES ('c-old', 'me', 'x', ?)").run(Date.now());
    old.prepare("INSERT INTO attachments (inbound_id, name, data) VALUES (1, 'a.txt', ?), (1, 'b.bin', ?)").run(Buffer.from('alpha'), Buffer.alloc(70_000, 1));
    old.close();
    const store = new Store(openDatabase(layout.db));
    assert.deepEqual(store.attachmentsOf(1).map((r) => [r.name, r.size, r.data?.length]), [['a.txt', 5, 5], ['b.bin', 70_000, 70_000]], 'read as BLOBs until moved');
    assert.equal(migrateBlobAttachments(store.db, layout.attachments), 2);
    const rows = store.attachmentsOf(1);
    assert.deepEqual(rows.map((r) => [r.name, r.size, r.data, r.sha256]), [['a.txt', 5, null, sha(Buffer.from('alpha'))], ['b.bin', 70_000, null, sha(Buffer.alloc(70_000, 1))]]);
    for (const r of rows) assert.equal(sha(readFileSync(join(layout.attachments, r.path!))), r.sha256);
    assert.equal(migrateBlobAttachments(store.db, layout.attachments), 0, 'nothing left to move');
  });

  it('tells the agent, without a host path, when a stored file is missing', () => {
    const { layout, store, conv } = setup();
    const { message } = store.acceptInbound(conv.id, { sender: 'me', text: 'x', attachments: [{ name: 'gone.txt', data: Buffer.from('g') }] }, { attachmentRoot: layout.attachments });
    rmSync(join(layout.attachments, store.attachmentsOf(message.id)[0].path!));
    const ws = join(root, `ws-${++n}`);
    mkdirSync(ws);
    const { notes: note } = writeInbox(inboxFiles(store.attachmentsOf(message.id), layout.attachments), ws, { maxBytes: 1024 });
    assert.match(note, /An attachment could not be saved: The stored copy of "gone\.txt" cannot be read \(ENOENT\)/);
    assert.doesNotMatch(note, new RegExp(root));
  });

  it('after a SIGKILL at any point while messages are stored, every row names a whole file', async () => {
    const { layout, store, conv } = setup();
    store.db.close();
    const child = join(root, `crash-${n}.mjs`);
    writeFileSync(child, `
      import { openDatabase } from ${JSON.stringify(dist('store/database.js'))};
      import { Store } from ${JSON.stringify(dist('store/store.js'))};
      const store = new Store(openDatabase(${JSON.stringify(layout.db)}));
      for (let i = 0; ; i++) {
        const data = Buffer.alloc(64 * 1024 + i, i % 251);
        store.acceptInbound(${JSON.stringify(conv.id)}, { sender: 'me', text: 'm' + i, attachments: [{ name: 'a' + i + '.bin', data }, { name: 'b.bin', data }] }, { attachmentRoot: ${JSON.stringify(layout.attachments)} });
        process.stdout.write('.');
      }
    `);
    const proc = spawn(process.execPath, [child], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stored = 0;
    // Killed once it has stored 40 messages, wherever it is in the next one.
    await new Promise<void>((resolve) => {
      proc.stdout.on('data', (d: Buffer) => { stored += d.length; if (stored >= 40) resolve(); });
      proc.on('exit', () => resolve());
    });
    assert.equal(proc.exitCode, null, 'the child was still storing messages when it was killed');
    proc.kill('SIGKILL');
    await once(proc, 'exit');
    const after = new Store(openDatabase(layout.db));
    const rows = after.db.prepare('SELECT * FROM attachments').all() as Array<{ path: string; size: number; sha256: string }>;
    assert.ok(rows.length >= 80, `${rows.length} rows`);
    for (const r of rows) {
      const file = join(layout.attachments, r.path);
      assert.ok(existsSync(file), `${r.path} is missing`);
      const bytes = readFileSync(file);
      assert.equal(bytes.length, r.size, `${r.path} is cut short`);
      assert.equal(sha(bytes), r.sha256);
    }
    after.db.close();
  });
});
