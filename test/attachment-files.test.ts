/**
 * Inbound attachments on a real gateway (real HTTP API, SQLite file and
 * agent container): a file well over the HTTP API's ordinary body limit is
 * stored as a file, not a BLOB, and reaches the agent's inbox intact; one
 * over the channel's limit is refused with a clear message and nothing is
 * written; the retention sweep at start deletes old files and the row says so.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from './support/harness.ts';

const LIMIT = 2 * 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('inbound attachments are files', () => {
  const home = mkdtempSync(join(tmpdir(), 'nct-attfiles-'));
  let h: Harness;
  before(async () => { h = await startHarness({ home, config: { attachments: { maxBytesByChannel: { api: LIMIT } } } }); });
  after(async () => { await h?.close(); rmSync(home, { recursive: true, force: true }); });

  const post = (conversation: string, text: string, attachments: Array<{ name: string; data: Buffer }>) =>
    h.api(`/api/v1/conversations/${conversation}/messages`, {
      method: 'POST',
      body: JSON.stringify({ text, attachments: attachments.map((a) => ({ name: a.name, data: a.data.toString('base64') })) }),
    });
  /** Every file under the attachment store, relative to it. */
  const stored = () => readdirSync(join(home, 'attachments'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));

  it('stores a file over 256 KiB and up to the channel limit as a file and hands it to the agent intact', async () => {
    const data = randomBytes(LIMIT);
    const res = await post('att-big', 'run: sha256sum /workspace/inbox/photo.jpg; stat -c %s /workspace/inbox/photo.jpg', [{ name: 'photo.jpg', data }]);
    const body = await res.json() as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const reply = body.replies[0].text as string;
    assert.match(reply, new RegExp(`^${sha(data)}  /workspace/inbox/photo\\.jpg$`, 'm'), reply);
    assert.match(reply, new RegExp(`^${LIMIT}$`, 'm'));
    const [row] = h.app.store.attachmentsOf(body.message.id);
    assert.equal(row.data, null, 'no BLOB in the database');
    assert.equal(row.size, LIMIT);
    assert.equal(row.sha256, sha(data));
    assert.equal(sha(readFileSync(join(home, 'attachments', row.path!))), sha(data));
  });

  it('refuses a file over the channel limit with 413 and a clear message, and writes nothing', async () => {
    const filesBefore = stored();
    const messagesBefore = (h.app.store.db.prepare('SELECT count(*) AS n FROM inbound').get() as { n: number }).n;
    const res = await post('att-over', 'too big', [{ name: 'small.txt', data: Buffer.from('ok') }, { name: 'movie.mp4', data: Buffer.alloc(LIMIT + 1) }]);
    assert.equal(res.status, 413);
    const body = await res.json() as any;
    assert.match(body.error.message, /"movie\.mp4" is about 2097153 bytes, over the api channel's limit of 2097152 bytes \(attachments\.maxBytes\); the message was not stored/);
    assert.deepEqual(stored(), filesBefore);
    assert.equal((h.app.store.db.prepare('SELECT count(*) AS n FROM inbound').get() as { n: number }).n, messagesBefore);
  });

  it('refuses a body over channels.api.maxBodyBytes plus one attachment in base64, saying so', async () => {
    const res = await h.api('/api/v1/conversations/att-body/messages', { method: 'POST', body: JSON.stringify({ text: 'x', pad: 'y'.repeat(3 * 1024 * 1024) }) });
    assert.equal(res.status, 413);
    assert.match((await res.json() as any).error.message, /channels\.api\.maxBodyBytes plus one attachment of up to 2097152 bytes/);
  });

  it('deletes a conversation\'s stored files with its workspace on /end; the row says so', async () => {
    const res = await post('att-end', 'run: ls /workspace/inbox', [{ name: 'notes.txt', data: Buffer.from('some notes') }]);
    const body = await res.json() as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.match(body.replies[0].text, /notes\.txt/);
    const file = join(home, 'attachments', h.app.store.attachmentsOf(body.message.id)[0].path!);
    assert.ok(existsSync(file));
    const ended = await h.send('att-end', '/end');
    assert.equal(ended.status, 200, JSON.stringify(ended.body));
    assert.ok(!existsSync(file), 'the stored file went with the workspace');
    const [row] = h.app.store.attachmentsOf(body.message.id);
    assert.deepEqual([row.name, row.size], ['notes.txt', 10]);
    assert.match(row.removedReason!, /conversation ended/);
  });

  it('deletes files past the retention period at start; the row keeps name, size and sha256 and says the file is gone', async () => {
    const data = Buffer.from('old news');
    const res = await post('att-old', 'keep this', [{ name: 'old.txt', data }]);
    const body = await res.json() as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    const id = body.message.id as number;
    const [before] = h.app.store.attachmentsOf(id);
    const file = join(home, 'attachments', before.path!);
    assert.ok(existsSync(file));
    h.app.store.db.prepare('UPDATE inbound SET received_at = ? WHERE id = ?').run(Date.now() - 31 * 24 * 3600 * 1000, id);
    await h.close();
    h = await startHarness({ home, config: { attachments: { maxBytesByChannel: { api: LIMIT } } } });
    assert.ok(!existsSync(file), 'the sweep at start deleted the file');
    const [row] = h.app.store.attachmentsOf(id);
    assert.deepEqual([row.name, row.size, row.sha256], ['old.txt', data.length, sha(data)]);
    assert.match(row.removedReason!, /retention period over/);
    // The first test's file is recent: it stays.
    assert.ok(stored().length >= 1);
  });
});
