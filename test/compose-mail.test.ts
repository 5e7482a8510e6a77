/**
 * compose_mail end to end: the real agent in its container asks the host to
 * write a new mail, the email channel mails the owner the draft in their
 * thread, and the owner's reply in that thread decides. Against Dovecot and
 * the loopback SMTP server (test/support/mail-servers.ts), with a real
 * gateway: what the SMTP server receives is what the world would. Skipped,
 * with the reason, where Dovecot is not installed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { EmailChannelConfig } from '../src/channels/email/index.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { MailServers, mailServersMissing, type SentMail } from './support/mail-servers.ts';
import { pollUntil } from './support/wait.ts';

const OWNER = 'owner@example.test';
const BOB = 'bob@example.com';
const COMPOSE = `tool: compose_mail {"to":["${BOB}"],"subject":"Hi","text":"Hello Bob"}`;
const missing = mailServersMissing();

describe('compose_mail through a real container and the email channel: sent only when the owner answers "Send"', { skip: missing }, () => {
  let h: Harness;
  let servers: MailServers;
  const toBob = () => servers.sent.filter((m) => m.to.includes(BOB));

  before(async () => {
    servers = await MailServers.start();
    const { enabled, ...options } = EmailChannelConfig.parse({
      enabled: true, user: servers.user, imapHost: '127.0.0.1', imapPort: servers.imapPort,
      smtpHost: '127.0.0.1', smtpPort: servers.smtpPort, fromName: 'Agent', reconnectMaxDelayMs: 1000,
    });
    h = await startHarness({
      env: { EMAIL_PASSWORD: servers.password },
      config: { channels: { email: { enabled, ...options } }, access: { owners: [`email:${OWNER}`] } },
    });
    await pollUntil('the mailbox is watched', async () => {
      const status = (await (await h.api('/api/v1/status')).json()) as { channels: Array<{ name: string; state?: string }> };
      return status.channels.find((c) => c.name === 'email')?.state === 'connected';
    }, 20_000);
  });
  after(async () => { await h?.close(); await servers?.close(); });

  /** The owner mails the request; returns the draft mailed back to them for confirmation, and the thread's ids. */
  async function requestDraft(subject: string): Promise<{ id: string; draft: SentMail }> {
    const id = await servers.receive({ from: OWNER, subject, text: COMPOSE });
    const draft = await servers.nextSent();
    assert.deepEqual(draft.to, [OWNER], 'the draft goes to the owner, not to Bob');
    assert.equal(draft.mail.inReplyTo, id, 'in the owner\'s thread');
    assert.match(draft.mail.text ?? '', /Send this mail through email\?\s+To: bob@example\.com\s+Subject: Hi\s+Hello Bob/);
    assert.match(draft.mail.text ?? '', /1\. Send\s+2\. Don't send/);
    return { id, draft };
  }
  /** The owner answers the draft by replying in the thread. */
  const answer = (subject: string, thread: { id: string; draft: SentMail }, text: string) => servers.receive({
    from: OWNER, subject: `Re: ${subject}`, inReplyTo: thread.draft.mail.messageId, references: [thread.id, thread.draft.mail.messageId!], text,
  });

  it('"Send": exactly one mail reaches Bob, from the account, as a new thread, and the agent learns it was sent', async () => {
    const thread = await requestDraft('Mail Bob');
    assert.equal(toBob().length, 0, 'nothing is sent before the owner answers');
    await answer('Mail Bob', thread, 'Send');
    const mail = await servers.nextSent();
    assert.deepEqual(mail.to, [BOB]);
    assert.equal(mail.mail.from?.value[0].address, servers.user);
    assert.equal(mail.mail.subject, 'Hi');
    assert.equal(mail.mail.text?.trim(), 'Hello Bob');
    assert.equal(mail.mail.inReplyTo, undefined, 'a new mail, not a reply');
    assert.equal(mail.mail.headers.get('auto-submitted'), undefined, 'a person confirmed it: not marked automatic');
    const final = await servers.nextSent();
    assert.deepEqual(final.to, [OWNER]);
    assert.match(final.mail.text ?? '', /Sent to bob@example\.com\b.* through email\./);
    assert.equal(toBob().length, 1, 'exactly one mail to Bob');
    const audited = readAuditLog(auditLogPath(h.home), { type: 'mail.composed' });
    assert.deepEqual(audited.map((r) => r.data), [{ via: 'email', to: [BOB], subject: 'Hi', sent: true }]);
    assert.equal(audited[0].actor, `email:${OWNER}`);
    const calls = readAuditLog(auditLogPath(h.home), { type: 'tool' }).filter((r) => JSON.stringify(r.data).includes('compose_mail'));
    assert.ok(calls.length >= 2, 'the engine\'s tool use and the host call are audited');
    assert.ok(calls.every((r) => !JSON.stringify(r.data).includes('Hello Bob')), 'never with the mail\'s text');
  });

  it('"Don\'t send": no mail reaches Bob, and the agent learns it was not sent', async () => {
    const before = toBob().length;
    const thread = await requestDraft('Mail Bob again');
    await answer('Mail Bob again', thread, "Don't send");
    const final = await servers.nextSent();
    assert.deepEqual(final.to, [OWNER], 'the next mail is the answer to the owner, not a mail to Bob');
    assert.match(final.mail.text ?? '', /The mail was not sent: the owner answered "Don't send"/);
    assert.equal(toBob().length, before, 'no mail to Bob');
    assert.ok(readAuditLog(auditLogPath(h.home), { type: 'mail.composed' }).some((r) => (r.data as { sent: boolean }).sent === false));
  });
});
