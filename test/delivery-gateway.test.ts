/**
 * Delivery through a real gateway, real containers and a chat channel whose
 * send fails on command: what the owner and the agent learn of a reply that
 * could not be delivered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { DeliveryError } from '../src/channels/channel.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { TestChatChannel } from './support/test-channel.ts';
import { cli } from './support/cli.ts';

describe('delivery failures through the gateway', () => {
  let h: Harness;
  let chat: TestChatChannel;
  const modelSawIn = (text: string) => h.fake.requests.filter((r) => JSON.stringify(r.body ?? '').includes(text));

  before(async () => {
    h = await startHarness({ config: { access: { owners: ['testchat:owner-1'] } } });
    chat = new TestChatChannel();
    await h.app.gateway.startChannel(chat);
  });
  after(async () => { await h?.close(); });

  it('fails a permanently refused reply after one attempt, audits it, shows it in status and tells the agent on its next turn', async () => {
    chat.failNext(new DeliveryError('permanent', 'Forbidden: bot was blocked by the user'));
    chat.say('owner-1', 'owner-1', 'first question');
    chat.say('owner-1', 'owner-1', 'second question');
    const delivered = await chat.nextTo('owner-1');
    assert.match(delivered.text, /second question/, 'the reply after the failed one is delivered');
    assert.deepEqual(chat.calls.map((c) => c.result), ['threw', 'sent'], 'one attempt for the refused reply, none repeated');

    const conv = h.app.gateway.conversationFor({ channel: 'testchat', chat: 'owner-1', thread: '' });
    const rows = h.app.store.db.prepare('SELECT text, state, attempts, last_error FROM outbound WHERE conversation_id = ? ORDER BY id').all(conv.id) as any[];
    assert.deepEqual(rows.map((r) => [r.state, r.attempts]), [['failed', 1], ['sent', 1]]);
    assert.match(rows[0].last_error, /bot was blocked/);

    const told = modelSawIn('could not be delivered: Forbidden: bot was blocked by the user');
    assert.equal(told.length > 0, true, 'the agent is told with its next message');
    assert.ok(told.every((r) => JSON.stringify(r.body).includes('second question')), 'and only with the next message, not before');

    const failed = readAuditLog(auditLogPath(h.home), { type: 'delivery.failed' });
    assert.deepEqual(failed.map((r) => [r.conversation, r.data?.attempts, r.data?.kind]), [[conv.id, 1, 'permanent']]);

    const status = await cli(['status'], { NANOCLAW_HOME: h.home });
    assert.match(status.stdout, /undelivered reply \d+ of .*: Forbidden: bot was blocked by the user/);
  });
  it('tells the owner in their own chat when a reply to someone else could not be delivered', async () => {
    const { code } = h.app.gateway.senders.requestPairing('testchat', 'friend');
    h.app.gateway.owner.approvePairing(code!, 'test');
    chat.failNext(new DeliveryError('permanent', 'Forbidden: user is deactivated'));
    chat.say('friend', 'friend', 'hello from a friend');
    const notice = await chat.nextTo('owner-1');
    assert.equal(notice.kind, 'notice');
    assert.match(notice.text, /A message to testchat:friend could not be delivered: Forbidden: user is deactivated\. It began: "Echo: hello from a friend/);
    assert.equal(chat.sent.filter((m) => m.chat === 'friend').length, 0);
  });
});
