/**
 * The host side of the agent's host tools (core/host-tools.ts) on a real
 * SQLite file and a real workspace folder on disk: what each tool stores,
 * what it refuses, and that a repeated idempotency key (a turn re-run after a
 * crash) never acts twice. The container side (the runner's MCP server, the
 * protocol) is covered by host-calls.test.ts, and the whole path through a
 * real container and channel by host-tools-container.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditEvent } from '../src/audit/audit-log.ts';
import type { ChannelCapabilities, TurnEvent } from '../src/channels/channel.ts';
import { HostTools, type CallContext } from '../src/core/host-tools.ts';
import type { HostToolCall } from '../src/protocol/messages.ts';
import { openDatabase } from '../src/store/database.ts';
import { Outbox } from '../src/store/outbox.ts';
import { Store } from '../src/store/store.ts';

const caps = (over: Partial<ChannelCapabilities> = {}): ChannelCapabilities => ({
  maxMessageLength: 4096, dialect: 'plain', files: { in: true, out: true, maxOutBytes: 1024 }, buttons: false,
  typing: false, edits: false, threads: false, reactions: false, ...over,
});

describe('host tools on the host: send_message, send_file, ask_user', () => {
  let dir: string;
  let store: Store;
  let tools: HostTools;
  let channelCaps: Record<string, ChannelCapabilities>;
  const delivered: string[] = [];
  const events: TurnEvent[] = [];
  let n = 0;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nch-'));
    store = new Store(openDatabase(join(dir, 'store.db')));
    channelCaps = { chat: caps(), buttons: caps({ buttons: true }), nofiles: caps({ files: { in: false, out: false, maxOutBytes: 0 } }) };
    tools = new HostTools({
      db: store.db, attachmentRoot: join(dir, 'attachments'),
      capabilities: (name) => channelCaps[name], deliver: (id) => delivered.push(id), emit: (ev) => events.push(ev),
      askTimeoutMs: 60_000,
    });
  });
  after(() => { store.db.close(); rmSync(dir, { recursive: true, force: true }); });

  /** A conversation on `channel` with one pending message and its own workspace folder. */
  function turn(channel = 'chat'): CallContext {
    const conversation = store.conversation({ channel, chat: `c${++n}`, thread: '' });
    const { message } = store.acceptInbound(conversation.id, { sender: 'me', text: 'do it' });
    const workspace = join(dir, `ws${n}`);
    mkdirSync(workspace);
    return { conversation, message, workspace };
  }
  const call = (ctx: CallContext, number: number, c: Omit<HostToolCall, 'id' | 'call'>): HostToolCall => ({ ...c, id: String(ctx.message.id), call: number } as HostToolCall);
  const never = new AbortController().signal;
  const rows = (ctx: CallContext) => store.outboundFor(ctx.message.id);

  it('send_message stores a reply for the delivery worker at once, and the same key again sends nothing more', async () => {
    const ctx = turn();
    const first = await tools.handle(ctx, call(ctx, 1, { tool: 'send_message', input: { text: 'Working on it.' } }), never);
    assert.deepEqual(first, { ok: true, text: 'Sent.' });
    assert.deepEqual(rows(ctx).map((m) => [m.kind, m.text, m.state]), [['reply', 'Working on it.', 'pending']]);
    assert.ok(delivered.includes(ctx.conversation.id));
    // The turn runs again after a crash: its first call has the same key.
    const again = await tools.handle(ctx, call(ctx, 1, { tool: 'send_message', input: { text: 'Working on it.' } }), never);
    assert.deepEqual(again, first);
    assert.equal(rows(ctx).length, 1);
    await tools.handle(ctx, call(ctx, 2, { tool: 'send_message', input: { text: 'Done.' } }), never);
    assert.deepEqual(rows(ctx).map((m) => m.text), ['Working on it.', 'Done.']);
  });

  it('send_file copies the file to host-owned storage: a later change in the workspace does not reach the sent copy', async () => {
    const ctx = turn();
    mkdirSync(join(ctx.workspace, 'out'));
    writeFileSync(join(ctx.workspace, 'out', 'report.txt'), 'first version');
    const r = await tools.handle(ctx, call(ctx, 1, { tool: 'send_file', input: { path: '/workspace/out/report.txt', caption: 'The report' } }), never);
    assert.deepEqual(r, { ok: true, text: 'Sent report.txt (13 bytes).' });
    writeFileSync(join(ctx.workspace, 'out', 'report.txt'), 'changed afterwards');
    const [m] = rows(ctx);
    assert.equal(m.text, 'The report');
    const files = new Outbox(store.db).files(m.id, join(dir, 'attachments'));
    assert.deepEqual(files.map((f) => [f.name, f.size]), [['report.txt', 13]]);
    assert.equal(readFileSync(files[0].hostPath, 'utf8'), 'first version');
    assert.ok(!files[0].hostPath.startsWith(ctx.workspace));
  });

  it('send_file refuses links, FIFOs, paths outside the workspace, files over the channel limit, and channels without files', async () => {
    const ctx = turn();
    symlinkSync('/etc/passwd', join(ctx.workspace, 'passwd'));
    mkdirSync(join(dir, 'secret'));
    writeFileSync(join(dir, 'secret', 'key'), 'host secret');
    symlinkSync(join(dir, 'secret'), join(ctx.workspace, 'linked-dir'));
    execFileSync('mkfifo', [join(ctx.workspace, 'pipe')]);
    writeFileSync(join(ctx.workspace, 'big.bin'), Buffer.alloc(2048));
    const attempt = async (path: string) => tools.handle(ctx, call(ctx, 100 + path.length, { tool: 'send_file', input: { path } }), never);
    for (const [path, why] of [
      ['passwd', /symlink|link/i], ['/workspace/linked-dir/key', /symlink|link/i], ['pipe', /not a regular file/],
      ['/etc/passwd', /outside \/workspace/], ['../secret/key', /without "\.\."/], ['big.bin', /over the limit of 1024/],
      ['missing.txt', /missing\.txt/],
    ] as const) {
      const r = await attempt(path);
      assert.equal(r.ok, false, `${path} was sent`);
      if (!r.ok) {
        assert.match(r.error, why, path);
        assert.ok(!r.error.includes(ctx.workspace), `the host path leaks in: ${r.error}`);
      }
    }
    assert.equal(rows(ctx).length, 0);
    const other = turn('nofiles');
    writeFileSync(join(other.workspace, 'a.txt'), 'x');
    const r = await tools.handle(other, call(other, 1, { tool: 'send_file', input: { path: 'a.txt' } }), never);
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, /cannot send files/);
  });

  it('ask_user sends the question with buttons where the channel has them and returns the answer', async () => {
    const ctx = turn('buttons');
    const pending = tools.handle(ctx, call(ctx, 1, { tool: 'ask_user', input: { question: 'Which format?', choices: ['PDF', 'HTML'] } }), never);
    const [m] = rows(ctx);
    assert.equal(m.text, 'Which format?');
    assert.deepEqual(m.buttons, [{ label: 'PDF', value: 'PDF' }, { label: 'HTML', value: 'HTML' }]);
    const q = tools.questions.openIn(ctx.conversation.id)!;
    assert.equal(m.questionId, q.id);
    assert.ok(events.some((e) => e.type === 'question' && e.questionId === q.id));
    assert.equal(tools.answer(q.id, 'HTML', 'buttons:me'), true);
    assert.deepEqual(await pending, { ok: true, text: 'The user answered: HTML' });
    assert.equal(tools.answer(q.id, 'PDF', 'buttons:me'), false, 'a question is answered once');
    // Asked again under the same key (a re-run): the answer, and no second question.
    assert.deepEqual(await tools.handle(ctx, call(ctx, 1, { tool: 'ask_user', input: { question: 'Which format?', choices: ['PDF', 'HTML'] } }), never),
      { ok: true, text: 'The user answered: HTML' });
    assert.equal(rows(ctx).length, 1);
  });

  it('ask_user lists the choices in the text without buttons, and takes a number as the choice', async () => {
    const ctx = turn();
    const pending = tools.handle(ctx, call(ctx, 1, { tool: 'ask_user', input: { question: 'Ship it?', choices: ['yes', 'no'] } }), never);
    const [m] = rows(ctx);
    assert.match(m.text, /^Ship it\?\n\n1\. yes\n2\. no\n/);
    assert.deepEqual(m.buttons, []);
    tools.answer(tools.questions.openIn(ctx.conversation.id)!.id, '2', 'chat:me');
    assert.deepEqual(await pending, { ok: true, text: 'The user chose: no' });
  });

  it('ask_user ends with the turn: the question is cancelled and nothing is recorded, so a re-run asks again', async () => {
    const ctx = turn();
    const ended = new AbortController();
    const pending = tools.handle(ctx, call(ctx, 1, { tool: 'ask_user', input: { question: 'Still there?' } }), ended.signal);
    const q = tools.questions.openIn(ctx.conversation.id)!;
    ended.abort();
    const r = await pending;
    assert.equal(r.ok, false);
    assert.equal(tools.questions.get(q.id)!.state, 'cancelled');
    assert.equal(tools.answer(q.id, 'yes', 'chat:me'), false);
  });

  it('ask_user gives up after tools.askTimeoutSec with a clear result', async () => {
    const quick = new HostTools({
      db: store.db, attachmentRoot: join(dir, 'attachments'), capabilities: (name) => channelCaps[name],
      deliver: () => {}, emit: () => {}, askTimeoutMs: 50,
    });
    const ctx = turn();
    const r = await quick.handle(ctx, call(ctx, 1, { tool: 'ask_user', input: { question: 'Anyone?' } }), never);
    assert.equal(r.ok, false);
    assert.match((r as { error: string }).error, /did not answer/);
    assert.equal(quick.questions.openIn(ctx.conversation.id), undefined);
  });
});

describe('compose_mail on the host: only for the owner, only after the owner confirms, never twice', () => {
  let dir: string;
  let store: Store;
  let n = 0;
  const OWNER = 'owner';
  const DRAFT = { to: ['bob@example.com'], subject: 'Hi', text: 'Hello Bob' };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nch-'));
    store = new Store(openDatabase(join(dir, 'store.db')));
  });
  after(() => { store.db.close(); rmSync(dir, { recursive: true, force: true }); });

  /** A mail channel that records what it is asked to compose; `hold` keeps the send from finishing. */
  function mailChannel(name: string, hold?: Promise<never>) {
    const sent: Array<{ to: string[]; subject: string; text: string }> = [];
    return { sent, channel: { name, compose: async (to: string[], subject: string, text: string) => {
      sent.push({ to, subject, text });
      if (hold) await hold;
      return { platformIds: [`<${sent.length}@example.test>`] };
    } } };
  }
  /** Host tools on the shared store with these mail channels running, and the audit events they record. */
  function hostTools(channels: Array<{ name: string }>) {
    const audited: AuditEvent[] = [];
    const tools = new HostTools({
      db: store.db, attachmentRoot: join(dir, 'attachments'), capabilities: () => caps(),
      deliver: () => {}, emit: () => {}, askTimeoutMs: 60_000, audit: (e) => audited.push(e),
      isOwner: (_channel, sender) => sender === OWNER,
      channel: (name) => channels.find((c) => c.name === name),
    });
    return { tools, audited };
  }
  function turn(sender = OWNER): CallContext {
    const conversation = store.conversation({ channel: 'chat', chat: `m${++n}`, thread: '' });
    const { message } = store.acceptInbound(conversation.id, { sender, text: 'mail Bob' });
    return { conversation, message, workspace: dir };
  }
  const compose = (ctx: CallContext, input: object = DRAFT): HostToolCall => ({ id: String(ctx.message.id), call: 1, tool: 'compose_mail', input } as HostToolCall);
  const never = new AbortController().signal;
  const error = (r: { ok: boolean; error?: string }) => r.error ?? '';
  /** Waits for the draft to be asked about, then answers it. */
  async function answer(tools: HostTools, ctx: CallContext, text: string, by = `chat:${OWNER}`) {
    let q;
    while (!(q = tools.questions.openIn(ctx.conversation.id))) await new Promise((r) => setImmediate(r));
    assert.equal(tools.answer(q.id, text, by), true);
    return q;
  }

  it('is refused in a conversation with someone who is not the owner: nothing is asked or sent', async () => {
    const mail = mailChannel('email');
    const { tools } = hostTools([mail.channel]);
    const ctx = turn('stranger');
    const r = await tools.handle(ctx, compose(ctx), never);
    assert.equal(r.ok, false);
    assert.match(error(r), /only available in the owner's own conversations/);
    assert.equal(tools.questions.openIn(ctx.conversation.id), undefined);
    assert.equal(store.outboundFor(ctx.message.id).length, 0);
    assert.deepEqual(mail.sent, []);
  });

  it('is refused without a running mail channel, and names the channel when `via` asks for one that is not running', async () => {
    const none = hostTools([]).tools;
    const ctx = turn();
    assert.match(error(await none.handle(ctx, compose(ctx), never)), /No mail channel \(email or gmail\) is running.*nanoclaw setup email/);
    const mail = mailChannel('email');
    const emailOnly = hostTools([mail.channel, { name: 'telegram' }]).tools;
    const other = turn();
    assert.match(error(await emailOnly.handle(other, compose(other, { ...DRAFT, via: 'gmail' }), never)), /gmail channel is not running.*send through email/);
    const both = hostTools([mail.channel, mailChannel('gmail').channel]).tools;
    const third = turn();
    assert.match(error(await both.handle(third, compose(third), never)), /Both email and gmail are running: name the one .* in `via`/);
    assert.deepEqual(mail.sent, []);
    assert.equal(store.outboundFor(ctx.message.id).length + store.outboundFor(other.message.id).length + store.outboundFor(third.message.id).length, 0);
  });

  it('shows the owner the draft and asks; "Don\'t send" sends nothing and is audited without the body', async () => {
    const mail = mailChannel('email');
    const { tools, audited } = hostTools([mail.channel]);
    const ctx = turn();
    const pending = tools.handle(ctx, compose(ctx), never);
    await answer(tools, ctx, "Don't send");
    const r = await pending;
    assert.deepEqual(r, { ok: true, text: 'The mail was not sent: the owner answered "Don\'t send" instead of "Send".' });
    const [asked] = store.outboundFor(ctx.message.id);
    assert.match(asked.text, /^Send this mail through email\?\n\nTo: `bob@example\.com`\nSubject: `Hi`\n\nHello Bob\n\n1\. Send\n2\. Don't send\n/);
    assert.deepEqual(mail.sent, []);
    const event = audited.find((e) => e.type === 'mail.composed')!;
    assert.deepEqual(event.data, { via: 'email', to: ['bob@example.com'], subject: 'Hi', sent: false });
    assert.ok(!JSON.stringify(audited).includes('Hello Bob'), 'the body is never audited');
  });

  it('an answer "Send" from someone else in the conversation (a group member) does not send', async () => {
    const mail = mailChannel('email');
    const { tools } = hostTools([mail.channel]);
    const ctx = turn();
    const pending = tools.handle(ctx, compose(ctx), never);
    await answer(tools, ctx, 'Send', 'chat:someone');
    assert.match((await pending as { text: string }).text, /not sent/);
    assert.deepEqual(mail.sent, []);
  });

  it('"Send" has the channel compose the mail once; the same key again (a re-run turn) does not send it again', async () => {
    const mail = mailChannel('email');
    const { tools, audited } = hostTools([mail.channel]);
    const ctx = turn();
    const pending = tools.handle(ctx, compose(ctx), never);
    await answer(tools, ctx, ' send ');
    assert.deepEqual(await pending, { ok: true, text: 'Sent to bob@example.com through email.' });
    assert.deepEqual(mail.sent, [DRAFT]);
    assert.deepEqual(audited.find((e) => e.type === 'mail.composed')!.data, { via: 'email', to: ['bob@example.com'], subject: 'Hi', sent: true });
    const again = await tools.handle(ctx, compose(ctx), never);
    assert.deepEqual(again, { ok: true, text: 'Sent to bob@example.com through email.' });
    assert.equal(mail.sent.length, 1, 'sent once');
    assert.equal(store.outboundFor(ctx.message.id).length, 1, 'asked once');
  });

  it('a mail whose sending was cut short (the gateway stopped mid-send) is not sent again by the re-run', async () => {
    const stuck = mailChannel('email', new Promise<never>(() => {}));
    const first = hostTools([stuck.channel]).tools;
    const ctx = turn();
    void first.handle(ctx, compose(ctx), never);
    await answer(first, ctx, 'Send');
    while (!stuck.sent.length) await new Promise((r) => setImmediate(r));
    // The restarted gateway runs the turn again: same message, same call number.
    const mail = mailChannel('email');
    const r = await hostTools([mail.channel]).tools.handle(ctx, compose(ctx), never);
    assert.equal(r.ok, false);
    assert.match(error(r), /whether it went out is not known.*sent mail/);
    assert.deepEqual(mail.sent, []);
  });
});
