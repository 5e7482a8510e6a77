import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { startHarness, type Harness } from './support/harness.ts';

describe('budgets: the credential proxy refuses model calls over a daily budget', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ config: { budget: { conversationTokensPerDay: 50, globalTokensPerDay: 100000 } } });
  });
  after(async () => { await h?.close(); });

  it('lets a conversation work until its budget is spent, then tells the user why it stopped', async () => {
    assert.equal(await h.ask('budget-a', 'first'), 'Echo: first', 'under budget: answered');
    const turnsBefore = h.fake.requests.filter((r) => r.path === '/v1/messages').length;
    const reply = await h.ask('budget-a', 'second');
    assert.match(reply, /NanoClaw budget: this conversation has used \d+ tokens of its 50-token daily limit/);
    assert.equal(h.fake.requests.filter((r) => r.path === '/v1/messages').length, turnsBefore, 'the refused call never reached the model');
    assert.ok(readAuditLog(auditLogPath(h.home), { type: 'budget.exceeded' }).some((r) => r.conversation && (r.data as any).status === 403));
  });

  it('keeps other conversations within their own budgets', async () => {
    assert.equal(await h.ask('budget-b', 'hello'), 'Echo: hello');
  });
});
