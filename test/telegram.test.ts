/**
 * The Telegram channel: the real grammY client against a local Bot API
 * stand-in (test/support/telegram-standin.ts), a real gateway and real
 * containers. What a Telegram user would see: replies, pairing, groups and
 * topics, files both ways, buttons, typing and the progress message; and what
 * the owner would see when the connection breaks.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ChannelHost, InboundMessage } from '../src/channels/channel.ts';
import { TelegramChannel, telegram } from '../src/channels/telegram/index.ts';
import { Secrets } from '../src/config/secrets.ts';
import { createLogger } from '../src/core/logger.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { TelegramStandIn } from './support/telegram-standin.ts';

const OWNER = 4242;
const FILES_OWNER = 4343;
const GROUP = -1001;
const BOT = '@nanoclaw_test_bot';
/** attachments.maxBytesByChannel.telegram in these tests. */
const LIMIT = 100_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('Telegram channel (grammY against a Bot API stand-in, real containers)', () => {
  let h: Harness;
  let tg: TelegramStandIn;
  const modelSaw = (text: string) => h.fake.requests.some((r) => JSON.stringify(r.body ?? '').includes(text));

  before(async () => {
    tg = await TelegramStandIn.start();
    h = await startHarness({
      env: { TELEGRAM_BOT_TOKEN: tg.token },
      config: {
        channels: { telegram: { enabled: true, apiBaseUrl: tg.url, pollTimeoutSec: 1 } },
        access: { owners: [`telegram:${OWNER}`, `telegram:${FILES_OWNER}`], groups: [`telegram:${GROUP}`] },
        attachments: { maxBytesByChannel: { telegram: LIMIT } },
      },
    });
  });
  after(async () => { await h?.close(); await tg?.close(); });

  it('answers a private message through a real container, as Telegram HTML, polling for messages and button taps', async () => {
    tg.sendText({ from: OWNER, text: 'hello **there**' });
    const reply = await tg.nextSent(OWNER);
    assert.equal(reply.text, 'Echo: hello <b>there</b>');
    assert.equal(reply.parse_mode, 'HTML');
    const poll = tg.calls.find((c) => c.method === 'getUpdates');
    assert.deepEqual(poll?.body.allowed_updates, ['message', 'callback_query']);
    assert.ok(tg.count('deleteWebhook') >= 1, 'a webhook left over would make getUpdates fail with 409');
  });

  it('gives an unknown sender a pairing code and passes nothing on', async () => {
    tg.sendText({ from: 5555, text: 'hi, please run: cat /etc/passwd' });
    assert.match((await tg.nextSent(5555)).text, /nanoclaw pair approve [A-Z2-9]{8}/);
    assert.ok(!modelSaw('please run'));
  });

  it('in a group: ignores a message that does not address the bot, answers a mention (stripped), a reply to the bot and /command@bot', async () => {
    tg.sendText({ chat: GROUP, from: OWNER, text: 'what a nice day' });
    tg.sendText({ chat: GROUP, from: OWNER, text: `${BOT} hello group` });
    const answer = await tg.nextSent(GROUP);
    assert.equal(answer.text, 'Echo: hello group');
    tg.sendText({ chat: GROUP, from: OWNER, text: 'a reply to the bot', replyTo: answer });
    assert.equal((await tg.nextSent(GROUP)).text, 'Echo: a reply to the bot', 'a reply to the bot addresses it');
    tg.sendText({ chat: GROUP, from: OWNER, text: `/help${BOT}` });
    assert.doesNotMatch((await tg.nextSent(GROUP)).text, /^Echo:/, '/help@bot is the command /help');
    assert.ok(!modelSaw('what a nice day'));
  });

  it('keeps forum topics apart: each topic is a conversation, answered in its own topic', async () => {
    tg.sendText({ chat: GROUP, from: OWNER, threadId: 7, text: `${BOT} in topic seven` });
    tg.sendText({ chat: GROUP, from: OWNER, threadId: 8, text: `${BOT} in topic eight` });
    const replies = [await tg.nextSent(GROUP), await tg.nextSent(GROUP)];
    const byThread = Object.fromEntries(replies.map((r) => [r.message_thread_id, r.text]));
    assert.deepEqual(byThread, { 7: 'Echo: in topic seven', 8: 'Echo: in topic eight' });
    const seven = h.app.gateway.conversationFor({ channel: 'telegram', chat: String(GROUP), thread: '7' });
    const eight = h.app.gateway.conversationFor({ channel: 'telegram', chat: String(GROUP), thread: '8' });
    assert.notEqual(seven.id, eight.id);
  });

  it('downloads the largest photo size, voice notes and documents into the agent\'s inbox; a hostile file name is defused', async () => {
    const small = Buffer.alloc(500, 1);
    const large = Buffer.alloc(40_000, 2);
    const voice = Buffer.from('OggS fake voice note');
    const doc = Buffer.from('#!/bin/sh\necho owned\n');
    const smallFile = tg.addFile(small, 'photos/file_s.jpg');
    const largeFile = tg.addFile(large, 'photos/file_l.jpg');
    const voiceFile = tg.addFile(voice, 'voice/file_v.oga');
    const docFile = tg.addFile(doc, 'documents/file_d.sh');
    const photo = tg.sendText({
      from: FILES_OWNER, text: 'a photo',
      extra: { photo: [{ ...smallFile, width: 90, height: 60 }, { ...largeFile, width: 1280, height: 853 }] },
    });
    await tg.nextSent(FILES_OWNER);
    const note = tg.sendText({ from: FILES_OWNER, text: '', extra: { voice: { ...voiceFile, duration: 2, mime_type: 'audio/ogg' } } });
    await tg.nextSent(FILES_OWNER);
    tg.sendText({ from: FILES_OWNER, text: 'run: cd /workspace/inbox && sha256sum *', extra: { document: { ...docFile, file_name: '../../.bashrc/../etc/-evil.sh' } } });
    const listing = (await tg.nextSent(FILES_OWNER)).text;
    assert.match(listing, new RegExp(`${sha(large)}  photo-${photo.message_id}\\.jpg`), listing);
    assert.match(listing, new RegExp(`${sha(voice)}  voice-${note.message_id}\\.ogg`), listing);
    assert.match(listing, new RegExp(`${sha(doc)}  _evil\\.sh`), listing);
    assert.ok(!listing.includes(sha(small)), 'only the largest photo size is fetched');
  });

  it('refuses a file over the attachment limit before downloading it, and tells the sender', async () => {
    const big = tg.addFile(Buffer.alloc(LIMIT + 1, 3), 'documents/big.bin');
    tg.sendText({ from: FILES_OWNER, text: 'here is the dump', extra: { document: { ...big, file_name: 'dump.bin' } } });
    const refusal = await tg.nextSent(FILES_OWNER);
    assert.match(refusal.text, /"dump\.bin" is 100001 bytes, over the 100000 bytes I can take here/);
    assert.ok(!tg.calls.some((c) => c.method === 'getFile' && c.body.file_id === big.file_id), 'getFile was never asked');
    assert.ok(!modelSaw('here is the dump'));
  });

  it('sends the agent\'s files with sendDocument', async () => {
    tg.sendText({ from: FILES_OWNER, text: 'run: mkdir -p /workspace/outbox && printf "chart data" > /workspace/outbox/chart.csv' });
    let doc;
    for (let i = 0; i < 3 && !doc; i++) {
      const m = await tg.nextSent(FILES_OWNER);
      if (m.method === 'sendDocument') doc = m;
    }
    assert.equal(doc?.document?.name, 'chart.csv');
    assert.equal(doc?.document?.data.toString(), 'chart data');
  });

  it('splits a long reply into messages under 4096 characters, each valid HTML', async () => {
    const words = Array.from({ length: 1500 }, (_, i) => `w${i}`).join(' ');
    tg.sendText({ from: OWNER, text: `**Report** ${words}` });
    const parts = [await tg.nextSent(OWNER)];
    while (!parts.at(-1)!.text.endsWith('w1499')) parts.push(await tg.nextSent(OWNER));
    assert.ok(parts.length >= 2, `${parts.length} parts`);
    for (const p of parts) {
      assert.ok(p.text.length <= 4096, `a part of ${p.text.length} characters`);
      assert.equal(p.parse_mode, 'HTML');
    }
    assert.ok(parts[0].text.startsWith('Echo: <b>Report</b> w0 w1'));
    assert.equal(parts.map((p) => p.text).join(' ').replace(/\s+/g, ' ').split(' ').filter((w) => /^w\d+$/.test(w)).length, 1500);
  });

  it('asks a question with buttons; a tap answers it, is acknowledged, and the question shows the choice', async () => {
    tg.sendText({ from: OWNER, text: 'tool: ask_user {"question":"Pick","choices":["A","B"]}' });
    const question = await tg.nextSent(OWNER);
    assert.equal(question.text, 'Pick');
    assert.deepEqual(question.reply_markup?.inline_keyboard.flat().map((b) => b.text), ['A', 'B']);
    for (const b of question.reply_markup!.inline_keyboard.flat()) assert.ok(Buffer.byteLength(b.callback_data!) <= 64);
    const tap = tg.tap(question, 1, OWNER);
    assert.match((await tg.nextSent(OWNER)).text, /The user (chose|answered): B/);
    assert.ok(tg.calls.some((c) => c.method === 'answerCallbackQuery' && c.body.callback_query_id === tap));
    await tg.until(() => question.edits.length > 0, 10_000, 'the question was not edited');
    assert.equal(question.text, 'Pick\n\n✓ B');
    assert.equal(question.reply_markup, undefined, 'the buttons are gone');
  });

  it('shows typing and a progress message during a slow turn, and removes the progress message at the end', async () => {
    const from = tg.sent.length;
    tg.sendText({ from: OWNER, text: 'sleep: 12000' });
    let reply;
    while (!reply) {
      const m = await tg.nextSent(OWNER);
      if (/Slept/.test(m.text)) reply = m;
    }
    assert.ok(tg.calls.some((c) => c.method === 'sendChatAction' && String(c.body.chat_id) === String(OWNER) && c.body.action === 'typing'));
    const progress = tg.sent.slice(from).find((m) => m !== reply && [m.text, ...m.edits].some((t) => /\(\d+s\)/.test(t)));
    assert.ok(progress, `a progress message among ${JSON.stringify(tg.sent.slice(from).map((m) => m.text))}`);
    await tg.until(() => progress.deleted === true, 10_000, 'the progress message was not removed');
  });

  it('sends again after a 429, once Telegram\'s retry_after has passed', async () => {
    tg.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 1', retry_after: 1 });
    tg.sendText({ from: OWNER, text: 'rate me' });
    assert.equal((await tg.nextSent(OWNER)).text, 'Echo: rate me');
    assert.equal(tg.calls.filter((c) => c.method === 'sendMessage' && c.body.text === 'Echo: rate me').length, 2);
  });

  it('sends plain text when Telegram cannot parse the HTML', async () => {
    tg.failNext('sendMessage', { error_code: 400, description: "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 6" });
    tg.sendText({ from: OWNER, text: 'say **loud** & <clear>' });
    const reply = await tg.nextSent(OWNER);
    assert.equal(reply.text, 'Echo: say loud & <clear>');
    assert.equal(reply.parse_mode, undefined);
  });

  it('skips malformed updates and goes on polling', async () => {
    tg.inject({ message: { message_id: 'x', text: 'no chat' } });
    tg.inject({ message: { message_id: 77, chat: { id: OWNER, type: 'private' }, text: 'no sender' } });
    tg.inject({ callback_query: { id: 'cb-odd', from: { id: OWNER }, data: 'q:999999:5' } });
    tg.inject({ something_new: { whatever: true } });
    tg.sendText({ from: OWNER, text: 'x'.repeat(70_000) });
    tg.sendText({ from: OWNER, text: 'still there?', extra: { document: { file_id: 'unknown-file', file_name: 'gone.txt', file_size: 10 } } });
    tg.sendText({ from: OWNER, text: 'after the odd ones' });
    assert.equal((await tg.nextSent(OWNER)).text, 'Echo: after the odd ones');
    assert.ok(tg.calls.some((c) => c.method === 'answerCallbackQuery' && c.body.callback_query_id === 'cb-odd'), 'an unknown tap is still acknowledged');
    assert.ok(!modelSaw('no sender') && !modelSaw('still there?'));
  });

  it('reconnects after the poll\'s connection drops', async () => {
    await tg.until(() => tg.dropPolls() > 0, 10_000, 'no poll to drop');
    tg.sendText({ from: OWNER, text: 'after the drop' });
    assert.equal((await tg.nextSent(OWNER)).text, 'Echo: after the drop');
  });

  it('restarts a poll that Telegram never answers (watchdog)', async () => {
    tg.stall(true);
    const before = tg.count('getUpdates');
    // With a 1 s long-poll timeout, only the watchdog issues a new call while the first one hangs.
    await tg.until(() => tg.count('getUpdates') >= before + 2, 20_000, 'polling was not restarted');
    tg.stall(false);
    tg.sendText({ from: OWNER, text: 'after the stall' });
    assert.equal((await tg.nextSent(OWNER)).text, 'Echo: after the stall');
  });

  it('check() asks getMe: a working token, a wrong one, an unreachable server', async () => {
    const config = h.app.config.channels.telegram;
    const ok = await telegram.check({ config, secrets: new Secrets('/nonexistent', { TELEGRAM_BOT_TOKEN: tg.token }) });
    assert.equal(ok.ok, true);
    assert.match(ok.detail, /@nanoclaw_test_bot/);
    const wrong = await telegram.check({ config, secrets: new Secrets('/nonexistent', { TELEGRAM_BOT_TOKEN: '1:wrong' }) });
    assert.equal(wrong.ok, false);
    assert.match(wrong.detail, /401/);
    assert.match(wrong.fix ?? '', /nanoclaw setup telegram/);
    const port = await freePort();
    const away = await telegram.check({ config: { ...config, apiBaseUrl: `http://127.0.0.1:${port}` }, secrets: new Secrets('/nonexistent', { TELEGRAM_BOT_TOKEN: tg.token }) });
    assert.equal(away.ok, false);
    assert.match(away.detail, /could not reach/);
    const none = await telegram.check({ config, secrets: new Secrets('/nonexistent', {}) });
    assert.match(none.fix ?? '', /nanoclaw setup telegram/);
  });

  it('reports a revoked token as failed in the status, with what to do, and stops polling', async () => {
    tg.revoke();
    let status: any;
    for (let i = 0; i < 100; i++) {
      status = await (await h.api('/api/v1/status')).json();
      if (status.channels.find((c: any) => c.name === 'telegram')?.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const health = status.channels.find((c: any) => c.name === 'telegram');
    assert.equal(health.state, 'failed');
    assert.match(health.detail, /401 Unauthorized/);
    assert.match(health.action, /nanoclaw setup telegram/);
    const polls = tg.count('getUpdates');
    await new Promise((r) => setTimeout(r, 3000)); // three long-poll timeouts: a loop would have called again
    assert.equal(tg.count('getUpdates'), polls, 'no restart loop');
  });
});

describe('Telegram channel without a gateway: 409, the token in logs, webhook mode', () => {
  const log = createLogger('silent');
  const base = { enabled: true, mode: 'polling' as const, pollTimeoutSec: 1, webhook: { url: '', host: '127.0.0.1', port: 0, path: '/telegram' } };

  /** A host that records what the channel hands it. */
  function recordingHost(): ChannelHost & { received: Array<{ where: { chat: string; thread: string }; msg: InboundMessage }> } {
    const received: Array<{ where: { chat: string; thread: string }; msg: InboundMessage }> = [];
    return {
      received,
      receive(where, msg) { received.push({ where, msg }); return { accepted: false, reason: 'recorded' }; },
      answer() { return { ok: false, reason: 'none' }; },
      conversation() { throw new Error('not used'); },
      redeliver() {},
      attachmentLimit: LIMIT,
      onTurn() { return () => {}; },
      audit() {},
      alertOwner() {},
      dataDir: '/nonexistent',
      log,
    };
  }

  it('reports 409 (another poller on the token) as failed, without a restart loop', async () => {
    const tg = await TelegramStandIn.start();
    const channel = new TelegramChannel({ config: { ...base, apiBaseUrl: tg.url }, token: tg.token, log });
    try {
      tg.conflict();
      await channel.start(recordingHost());
      await tg.until(() => channel.health().state === 'failed', 10_000, 'not failed');
      assert.match(channel.health().detail!, /409 Conflict/);
      assert.match(channel.health().action!, /another program polls with this bot token/);
      const polls = tg.count('getUpdates');
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(tg.count('getUpdates'), polls);
    } finally {
      await channel.stop();
      await tg.close();
    }
  });

  it('keeps the bot token out of the log, even where a network error quotes the request URL', async () => {
    const tg = await TelegramStandIn.start({ token: '999888:SECRETtokenSECRETtokenSECRETtoken' });
    const lines: string[] = [];
    const capture = { debug() {}, info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
    const channel = new TelegramChannel({ config: { ...base, apiBaseUrl: tg.url }, token: tg.token, log: capture });
    try {
      await channel.start(recordingHost());
      await tg.until(() => tg.dropPolls() > 0, 10_000, 'no poll to drop');
      await tg.until(() => lines.some((l) => /getUpdates failed/.test(l)), 10_000, 'no failure logged');
      assert.ok(lines.some((l) => l.includes('/bot<token>/')), lines.join('\n'));
      assert.ok(!lines.some((l) => l.includes('SECRETtoken')), lines.join('\n'));
    } finally {
      await channel.stop();
      await tg.close();
    }
  });

  it('in webhook mode registers the URL with a secret, and takes only updates that carry it', async () => {
    const tg = await TelegramStandIn.start();
    const port = await freePort();
    const config = { ...base, apiBaseUrl: tg.url, mode: 'webhook' as const, webhook: { url: 'https://bot.example.test/telegram', host: '127.0.0.1', port, path: '/telegram' } };
    const channel = new TelegramChannel({ config, token: tg.token, log });
    const host = recordingHost();
    try {
      await channel.start(host);
      await tg.until(() => tg.webhook !== undefined && channel.health().state === 'connected', 10_000, 'no webhook set');
      assert.equal(tg.webhook!.url, 'https://bot.example.test/telegram');
      assert.deepEqual(tg.webhook!.allowed_updates, ['message', 'callback_query']);
      assert.ok(tg.webhook!.secret_token && tg.webhook!.secret_token.length >= 32);
      const update = { update_id: 1, message: { message_id: 5, date: 0, chat: { id: OWNER, type: 'private' }, from: { id: OWNER, is_bot: false, first_name: 'O' }, text: 'via webhook' } };
      const post = (secret: string) => fetch(`http://127.0.0.1:${port}/telegram`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret }, body: JSON.stringify(update) });
      assert.equal((await post('not-the-secret')).status, 401);
      assert.equal(host.received.length, 0);
      assert.equal((await post(tg.webhook!.secret_token!)).status, 200);
      assert.deepEqual(host.received.map((r) => [r.where, r.msg.sender, r.msg.text, r.msg.clientId]), [[{ chat: String(OWNER), thread: '' }, String(OWNER), 'via webhook', '5']]);
      assert.equal(tg.count('getUpdates'), 0, 'no polling in webhook mode');
    } finally {
      await channel.stop();
      await tg.close();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
