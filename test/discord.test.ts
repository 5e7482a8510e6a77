/**
 * The Discord channel, end to end: the real discord.js client against a
 * local Discord (test/support/discord-standin.ts) speaking the REST API and
 * the gateway websocket, through a real gateway, real containers and the
 * stand-in model.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChannelHost } from '../src/channels/channel.ts';
import { discord as discordModule } from '../src/channels/discord/index.ts';
import { DiscordChannelConfig } from '../src/channels/discord/config.ts';
import { Secrets } from '../src/config/secrets.ts';
import { createLogger } from '../src/core/logger.ts';
import { DiscordStandin, type StandinUser } from './support/discord-standin.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { pollUntil } from './support/wait.ts';

const user = (n: number, name: string): StandinUser => ({ id: `4000000000000000${String(n).padStart(3, '0')}`, username: name, globalName: name[0].toUpperCase() + name.slice(1) });
const OWNER = user(1, 'owner');
const FILER = user(2, 'filer');
const ASKER = user(3, 'asker');
const SLOW = user(4, 'slow');
const LONG = user(5, 'long');
const LIMITED = user(6, 'limited');
const DROPPED = user(7, 'dropped');
const CLOSED = user(10, 'closed');
const BRIEF = user(11, 'brief');
const STRANGER = user(8, 'stranger');
const MEMBER = user(9, 'member');
const OWNERS = [OWNER, FILER, ASKER, SLOW, LONG, LIMITED, DROPPED, CLOSED, BRIEF];
const GROUP = '5000000000000000001';
const THREAD = '5000000000000000002';
const STALL_MS = 4000;

describe('the Discord channel (discord.js against a local Discord)', () => {
  let discord: DiscordStandin;
  let h: Harness;
  const modelSaw = (text: string) => h.fake.requests.some((r) => JSON.stringify(r.body ?? '').includes(text));
  const health = async () => {
    const status = await (await h.api('/api/v1/status')).json() as { channels: Array<{ name: string; state: string; detail?: string; action?: string }> };
    return status.channels.find((c) => c.name === 'discord');
  };

  before(async () => {
    discord = await DiscordStandin.start();
    discord.addTextChannel(GROUP);
    discord.addThread(THREAD, GROUP);
    h = await startHarness({
      config: {
        channels: { discord: { enabled: true, apiBaseUrl: discord.apiBaseUrl, rateLimitWaitMs: 500, stallTimeoutMs: STALL_MS } },
        access: { owners: OWNERS.map((u) => `discord:${u.id}`), groups: [`discord:${GROUP}`] },
        attachments: { maxBytesByChannel: { discord: 64 * 1024 } },
      },
      env: { DISCORD_BOT_TOKEN: discord.token },
    });
    await discord.connected();
  });
  after(async () => {
    await h?.close();
    await discord?.close();
  });

  it('answers a DM from the owner through a container, in the same DM', async () => {
    const dm = discord.dmChannelOf(OWNER.id);
    discord.dm(OWNER, 'hello from discord');
    const reply = await discord.nextMessage(dm);
    assert.equal(reply.content, 'Echo: hello from discord');
    assert.deepEqual(reply.body.allowed_mentions, { parse: [] }, 'the agent\'s text never pings anyone');
    assert.equal((await health())?.state, 'connected');
  });

  it('gives an unknown sender in a DM a pairing code, and passes nothing to the model', async () => {
    discord.dm(STRANGER, 'run: cat /etc/passwd');
    const reply = await discord.nextMessage(discord.dmChannelOf(STRANGER.id));
    assert.match(reply.content, /nanoclaw pair approve [A-Z2-9]{8}/);
    assert.ok(!modelSaw('cat /etc/passwd'));
  });

  it('in an allowed server channel ignores messages without a mention and answers a mention, without the mention', async () => {
    discord.userMessage({ channelId: GROUP, author: MEMBER, content: 'just chatting among ourselves' });
    discord.userMessage({ channelId: GROUP, author: MEMBER, content: 'what is up?', mentionBot: true, nick: 'Cousin Ann' });
    const reply = await discord.nextMessage(GROUP);
    assert.equal(reply.content, 'Echo: what is up?', 'the first answer is to the mention: the unaddressed message was ignored');
    assert.ok(modelSaw('Cousin Ann'), 'the sender\'s server nickname reached the agent');
    assert.ok(!modelSaw('just chatting among ourselves'));
  });

  it('keeps each thread a conversation of its own and answers inside the thread', async () => {
    discord.userMessage({ channelId: THREAD, author: MEMBER, content: 'in the thread', mentionBot: true });
    const reply = await discord.nextMessage(THREAD);
    assert.equal(reply.content, 'Echo: in the thread');
    const LATER = '5000000000000000003';
    discord.addThread(LATER, GROUP); // started while the bot is connected: THREAD_CREATE
    discord.userMessage({ channelId: LATER, author: MEMBER, content: 'in a new thread', mentionBot: true });
    assert.equal((await discord.nextMessage(LATER)).content, 'Echo: in a new thread');
    const conversations = h.app.store.listConversations().filter((c) => c.channel === 'discord' && c.chat === GROUP);
    const threads = conversations.filter((c) => c.thread).map((c) => c.thread).sort();
    assert.deepEqual(threads, [THREAD, LATER].sort(), 'each thread is a conversation of its own, under its parent channel');
  });

  it('brings a user\'s file into the agent\'s inbox and sends the agent\'s file back as an upload', async () => {
    const dm = discord.dmChannelOf(FILER.id);
    const file = discord.attachment('notes.txt', Buffer.from('hello from a discord file\n'));
    const tricky = discord.attachment('../../../tmp/escape.txt', Buffer.from('x'));
    discord.dm(FILER, 'run: cat /workspace/inbox/notes.txt && ls /workspace/inbox && mkdir -p /workspace/outbox && echo report-body > /workspace/outbox/report.txt', { attachments: [file, tricky] });
    const reply = await discord.messageMatching(dm, (m) => m.content.includes('hello from a discord file'));
    assert.match(reply.content, /escape\.txt/, 'the file with a path in its name landed in the inbox under its plain name');
    assert.doesNotMatch(reply.content, /\.\.\//);
    const upload = await discord.messageMatching(dm, (m) => m.files.length > 0);
    assert.deepEqual(upload.files.map((f) => [f.name, f.data.toString()]), [['report.txt', 'report-body\n']]);
    assert.deepEqual(upload.body.attachments, [{ id: 0, filename: 'report.txt' }]);
  });

  it('refuses a file over the limit before downloading it, and tells the sender', async () => {
    const dm = discord.dmChannelOf(FILER.id);
    const big = discord.attachment('huge.bin', Buffer.alloc(10), 5 * 1024 * 1024);
    discord.dm(FILER, 'look at this', { attachments: [big] });
    const notice = await discord.messageMatching(dm, (m) => m.content.includes('huge.bin'));
    assert.match(notice.content, /not passed on/);
    assert.ok(!discord.downloads.includes('huge.bin'), 'the oversized file was never fetched');
    assert.ok(!modelSaw('look at this'));
  });

  it('splits a long reply into messages of at most 2000 characters, code blocks kept whole in each', async () => {
    const dm = discord.dmChannelOf(LONG.id);
    const code = Array.from({ length: 60 }, (_, i) => `line ${i} of the code block, padded out a little`).join('\n');
    const prose = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} is **here** to make this reply long.`).join(' ');
    discord.dm(LONG, `${prose}\n\n\`\`\`js\n${code}\n\`\`\`\n\n${prose}`);
    const last = await discord.messageMatching(dm, (m) => m.content.includes('Sentence number 39') && m.content.trimEnd().endsWith('long.') && m.content.includes('**here**') && !m.content.includes('```'));
    const parts = discord.sent.filter((m) => m.channelId === dm && m.at <= last.at);
    assert.ok(parts.length >= 3, `${parts.length} parts`);
    for (const p of parts) {
      assert.ok(p.content.length <= 2000, `a part of ${p.content.length} characters`);
      assert.equal((p.content.match(/```/g) ?? []).length % 2, 0, 'every part opens and closes its code fences');
    }
    const all = parts.map((p) => p.content).join('\n');
    for (let i = 0; i < 60; i++) assert.ok(all.includes(`line ${i} of the code block`), `code line ${i} arrived`);
  });

  it('asks a question with buttons and takes the tapped answer, showing it on the message', async () => {
    const dm = discord.dmChannelOf(ASKER.id);
    discord.dm(ASKER, 'tool: ask_user {"question":"Pick","choices":["A","B"]}');
    const question = await discord.messageMatching(dm, (m) => m.components.length > 0);
    assert.equal(question.content, 'Pick');
    const buttons = question.components[0].components;
    assert.deepEqual(buttons.map((b) => b.label), ['A', 'B']);
    discord.tap(question, buttons[1].custom_id, ASKER);
    const answer = await discord.messageMatching(dm, (m) => /Tool output/.test(m.content));
    assert.match(answer.content, /\bB\b/);
    const ack = discord.callbacks.at(-1)!;
    assert.equal(ack.body.type, 7, 'the tap was acknowledged by updating the message');
    assert.match(ack.body.data.content, /Pick[\s\S]*B/);
    assert.deepEqual(ack.body.data.components, [], 'the buttons are gone once answered');
  });

  it('shows typing and one progress message during a slow turn, and tidies the progress message away', async () => {
    const dm = discord.dmChannelOf(SLOW.id);
    discord.dm(SLOW, 'sleep: 12000');
    const reply = await discord.messageMatching(dm, (m) => m.content === 'Slept 12000 ms.', 60_000);
    assert.ok(discord.typing.includes(dm), 'the typing indicator was shown in the DM');
    const progress = discord.sent.filter((m) => m.channelId === dm && m.id !== reply.id);
    assert.equal(progress.length, 1, `one progress message: ${JSON.stringify(progress.map((m) => m.content))}`);
    await pollUntil('the progress message is removed or closed', () =>
      discord.deletes.some((d) => d.messageId === progress[0].id) || discord.edits.some((e) => e.messageId === progress[0].id));
  });

  it('hands a long rate limit back to the delivery queue, which sends again after Discord\'s retry-after', async () => {
    const dm = discord.dmChannelOf(LIMITED.id);
    discord.failNextSends({ status: 429, body: { message: 'You are being rate limited.', retry_after: 1.0, global: false }, headers: { 'retry-after': '1', 'x-ratelimit-scope': 'user' } });
    discord.dm(LIMITED, 'after the limit');
    const reply = await discord.nextMessage(dm);
    assert.equal(reply.content, 'Echo: after the limit');
    const attempts = discord.messageAttempts.filter((a) => a.channelId === dm);
    assert.deepEqual(attempts.map((a) => a.status), [429, 200]);
    assert.ok(attempts[1].at - attempts[0].at >= 1000, 'the second try waited for the retry-after');
    assert.equal(discord.sent.filter((m) => m.channelId === dm).length, 1, 'sent once');
  });

  it('waits out a short rate limit inside discord.js and sends once', async () => {
    const dm = discord.dmChannelOf(BRIEF.id);
    discord.failNextSends({ status: 429, body: { message: 'You are being rate limited.', retry_after: 0.2, global: false }, headers: { 'retry-after': '0.2', 'x-ratelimit-scope': 'user' } });
    discord.dm(BRIEF, 'a short limit');
    assert.equal((await discord.nextMessage(dm)).content, 'Echo: a short limit');
    assert.deepEqual(discord.messageAttempts.filter((a) => a.channelId === dm).map((a) => a.status), [429, 200]);
    assert.equal(discord.sent.filter((m) => m.channelId === dm).length, 1);
    const row = h.app.store.db.prepare('SELECT attempts, last_error FROM outbound WHERE text = ?').get('Echo: a short limit') as { attempts: number; last_error: string | null };
    assert.deepEqual(row, { attempts: 1, last_error: null }, 'the delivery queue saw one successful send');
  });

  it('gives up at once on a send Discord refuses for good (50007: the user accepts no DMs from the bot)', async () => {
    const dm = discord.dmChannelOf(CLOSED.id);
    discord.failNextSends({ status: 403, body: { message: 'Cannot send messages to this user', code: 50007 } });
    discord.dm(CLOSED, 'you cannot answer me');
    const row = (await pollUntil('the reply is given up', () => h.app.store.db.prepare("SELECT state, last_error FROM outbound WHERE text = ? AND state = 'failed'").get('Echo: you cannot answer me') as { last_error: string } | undefined))!;
    assert.match(row.last_error, /cannot send to this user/);
    assert.deepEqual(discord.messageAttempts.filter((a) => a.channelId === dm).map((a) => a.status), [403], 'no second try');
  });

  it('skips malformed and unknown gateway events, answers a tap on a closed question privately, and goes on', async () => {
    const dm = discord.dmChannelOf(OWNER.id);
    const crashes: unknown[] = [];
    const onRejection = (err: unknown) => crashes.push(err);
    process.on('unhandledRejection', onRejection);
    discord.dispatch('MESSAGE_CREATE', { id: discord.snowflake(), channel_id: dm, channel_type: 1, content: 'no author here' });
    discord.dispatch('MESSAGE_CREATE', { id: discord.snowflake(), channel_id: dm, channel_type: 1, author: { id: OWNER.id, username: 'owner' }, content: 42, attachments: 'none' });
    discord.dispatch('NOT_A_REAL_EVENT', { what: 'ever' });
    discord.dispatch('MESSAGE_CREATE', null);
    const fake = { id: discord.snowflake(), channelId: dm, content: 'Old question', files: [], components: [], body: {}, at: Date.now() };
    const tapId = discord.tap(fake, 'nanoclaw:q:999999:0', OWNER);
    discord.tap(fake, 'somebody-elses-button', OWNER);
    discord.userMessage({ channelId: dm, author: { id: '4000000000000000077', username: 'otherbot', bot: true }, content: 'bots are not heard' });
    discord.dm(OWNER, 'still here?');
    const reply = await discord.nextMessage(dm);
    assert.equal(reply.content, 'Echo: still here?');
    const ack = (await pollUntil('the closed question is answered', () => discord.callbacks.find((c) => c.interactionId === tapId)))!;
    assert.equal(ack.body.type, 4);
    assert.equal(ack.body.data.flags, 64, 'only the tapper sees it');
    assert.ok(!modelSaw('no author here') && !modelSaw('bots are not heard'));
    process.off('unhandledRejection', onRejection);
    assert.deepEqual(crashes, [], 'no malformed event escaped as an unhandled rejection (it would end the gateway)');
  });

  it('resumes a dropped gateway connection and gets the messages sent meanwhile', async () => {
    const before = { ...discord.counts };
    discord.dropConnection();
    discord.dm(DROPPED, 'sent while the connection was down');
    const reply = await discord.nextMessage(discord.dmChannelOf(DROPPED.id));
    assert.equal(reply.content, 'Echo: sent while the connection was down');
    assert.ok(discord.counts.resumes > before.resumes, 'the session was resumed');
    assert.equal(discord.counts.identifies, before.identifies, 'no new IDENTIFY was spent');
    await pollUntil('the channel reports itself connected', async () => (await health())?.state === 'connected');
  });

  it('replaces a gateway connection that stalls (no HELLO, no heartbeat acknowledgement) by logging in again', async () => {
    const before = { ...discord.counts };
    discord.hangNext(1);
    discord.dropConnection();
    await pollUntil('the watchdog logs in again', () => discord.counts.identifies > before.identifies, 30_000);
    await discord.connected();
    discord.dm(DROPPED, 'after the stall');
    const reply = await discord.messageMatching(discord.dmChannelOf(DROPPED.id), (m) => m.content === 'Echo: after the stall');
    assert.ok(reply);
    assert.equal(discord.counts.identifies, before.identifies + 1, 'one new login, not a loop');
  });

  it('reports a revoked token as failed in health and /api/v1/status, with what to do, and stops logging in', async () => {
    discord.revokeToken();
    discord.dropConnection();
    const failed = (await pollUntil('the channel reports failed', async () => { const hl = await health(); return hl?.state === 'failed' ? hl : null; }, 30_000))!;
    assert.match(failed.detail!, /refused the bot token/);
    assert.match(failed.action!, /nanoclaw setup discord/);
    const seen = { ...discord.counts };
    await sleep(STALL_MS * 2.5);
    assert.deepEqual(discord.counts, seen, 'no further connection, IDENTIFY or RESUME after the refusal');
  });
});

describe('Discord start failures and the credentials check', () => {
  let discord: DiscordStandin;
  const log = createLogger('silent');
  const config = (over: object = {}) => DiscordChannelConfig.parse({ enabled: true, apiBaseUrl: discord.apiBaseUrl, stallTimeoutMs: 1000, ...over });
  const secrets = (token: string) => new Secrets('/nonexistent', { DISCORD_BOT_TOKEN: token });

  before(async () => { discord = await DiscordStandin.start(); });
  after(async () => { await discord?.close(); });

  it('check() accepts a working token and names the bot', async () => {
    const r = await discordModule.check({ config: config(), secrets: secrets(discord.token) });
    assert.equal(r.ok, true, r.detail);
    assert.match(r.detail, /@nanoclaw/);
  });

  it('check() refuses a wrong token and says where to get a new one', async () => {
    const r = await discordModule.check({ config: config(), secrets: secrets('MTIz.abcd.efghijklmnopqrstuvwxyz0123') });
    assert.equal(r.ok, false);
    assert.match(r.detail, /refused the bot token/);
    assert.match(r.fix!, /Developer Portal/);
  });

  it('check() warns that the Message Content intent is off', async () => {
    discord.messageContentEnabled = false;
    try {
      const r = await discordModule.check({ config: config(), secrets: secrets(discord.token) });
      assert.equal(r.ok, false);
      assert.match(r.detail, /Message Content intent is not enabled/);
      assert.match(r.fix!, /Privileged Gateway Intents/);
    } finally { discord.messageContentEnabled = true; }
  });

  it('reports disallowed intents (close 4014) as failed with what to do, without logging in again', async () => {
    discord.messageContentEnabled = false;
    const channel = discordModule.createChannel({ config: config(), secrets: secrets(discord.token), log });
    const host = { log, attachmentLimit: 1024 * 1024 } as unknown as ChannelHost;
    try {
      await channel.start(host);
      const failed = (await pollUntil('the channel reports failed', () => (channel.health!().state === 'failed' ? channel.health!() : null)))!;
      assert.match(failed.detail!, /4014/);
      assert.match(failed.action!, /Message Content Intent/);
      await sleep(3000);
      assert.equal(discord.counts.identifies, 1, 'one IDENTIFY, no loop');
    } finally {
      await channel.stop();
      discord.messageContentEnabled = true;
    }
  });

  it('starts without a token (the gateway goes on) and says how to set one', async () => {
    const channel = discordModule.createChannel({ config: config(), secrets: new Secrets('/nonexistent', {}), log });
    await channel.start({ log, attachmentLimit: 1 } as unknown as ChannelHost);
    assert.equal(channel.health!().state, 'failed');
    assert.match(channel.health!().action!, /nanoclaw setup discord/);
    await channel.stop();
  });
});
