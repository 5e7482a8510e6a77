/**
 * The Slack channel end to end: the real Slack SDK (Socket Mode client and WebClient) in a real
 * gateway, with real agent containers and the stand-in model, against a local Slack that speaks
 * the Web API and Socket Mode (test/support/slack-standin.ts). What a Slack user would see is
 * what is checked: the messages, threads, files and buttons the bot posts.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { slack } from '../src/channels/slack/index.ts';
import { SlackChannelConfig } from '../src/channels/slack/config.ts';
import { signSlackRequest } from '../src/channels/slack/signature.ts';
import { Secrets } from '../src/config/secrets.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { SlackStandIn } from './support/slack-standin.ts';
import { pollUntil } from './support/wait.ts';

const OWNER = 'UOWNER01';
const FRIEND = 'UFRIEND1';
const GROUP = 'CGROUP01';
const BOT = `<@${SlackStandIn.BOT_USER}>`;
const TOKENS = { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_APP_TOKEN: 'xapp-test' };

/** The slack entry of GET /api/v1/status. */
async function slackStatus(h: Harness): Promise<any> {
  const body = await (await h.api('/api/v1/status')).json() as any;
  return body.channels.find((c: any) => c.name === 'slack');
}

describe('slack channel (Socket Mode, real SDK, real containers)', () => {
  let h: Harness;
  let sl: SlackStandIn;
  const modelSaw = (text: string) => h.fake.requests.some((r) => JSON.stringify(r.body ?? '').includes(text));
  const inboundFor = (ts: string) => h.app.store.db.prepare('SELECT i.*, c.chat, c.thread FROM inbound i JOIN conversations c ON c.id = i.conversation_id WHERE c.channel = ? AND i.client_id = ?').all('slack', ts) as any[];

  before(async () => {
    sl = await SlackStandIn.start();
    sl.users.set(OWNER, { name: 'owner', real_name: 'Olga Owner', display_name: 'olga' });
    h = await startHarness({
      env: TOKENS,
      config: {
        channels: { slack: { enabled: true, apiBaseUrl: sl.apiUrl } },
        access: { owners: [`slack:${OWNER}`, `slack:${FRIEND}`], groups: [`slack:${GROUP}`] },
        attachments: { maxBytesByChannel: { slack: 64 * 1024 } },
      },
    });
    await sl.until(() => sl.openSockets === 1, 'the channel connected over Socket Mode');
  });
  after(async () => { await h?.close(); await sl?.close(); });

  it('answers a direct message through a real container, top-level, and acknowledges the event once it is stored', async () => {
    const { ts, acked } = sl.userSays({ user: OWNER, channel: 'DOWNER01', text: 'hello &amp; welcome' });
    await acked;
    const [stored] = inboundFor(ts);
    assert.ok(stored, 'the message was stored before the ack');
    assert.equal(stored.text, 'hello & welcome', 'Slack\'s escaping is undone');
    assert.equal(stored.sender, OWNER);
    assert.equal(stored.sender_name, 'olga', 'the display name comes from users.info');
    assert.deepEqual([stored.chat, stored.thread], ['DOWNER01', '']);
    const reply = await sl.nextMessage((m) => m.channel === 'DOWNER01', { from: 0 });
    assert.equal(reply.text, 'Echo: hello &amp; welcome', 'the reply is mrkdwn, escaped for Slack');
    assert.equal(reply.thread_ts, undefined, 'a DM is answered top-level');
  });

  it('ignores an unaddressed channel message; a mention starts a thread that is its own conversation, and replies in it need no mention', async () => {
    const quiet = sl.userSays({ user: FRIEND, channel: GROUP, text: 'lunch anyone?' });
    assert.deepEqual(await quiet.acked, {}, 'the ignored message is still acknowledged');
    const first = sl.userSays({ user: FRIEND, channel: GROUP, text: `${BOT} first question`, alsoAppMention: true });
    const reply1 = await sl.nextMessage((m) => m.channel === GROUP && m.thread_ts === first.ts);
    assert.equal(reply1.text, 'Echo: first question', 'the leading mention is stripped');
    const followUp = sl.userSays({ user: FRIEND, channel: GROUP, text: 'and a follow-up', thread_ts: first.ts });
    const reply2 = await sl.nextMessage((m) => m.channel === GROUP && m.thread_ts === first.ts && m.ts !== reply1.ts);
    assert.equal(reply2.text, 'Echo: and a follow-up');
    const second = sl.userSays({ user: FRIEND, channel: GROUP, text: `${BOT} another topic` });
    const reply3 = await sl.nextMessage((m) => m.channel === GROUP && m.thread_ts === second.ts);
    assert.equal(reply3.text, 'Echo: another topic');
    const inside = sl.userSays({ user: FRIEND, channel: GROUP, text: `hey ${BOT}, can you help?` });
    const reply4 = await sl.nextMessage((m) => m.channel === GROUP && m.thread_ts === inside.ts);
    assert.equal(reply4.text, 'Echo: hey @nanoclaw, can you help?', 'a mention inside the text reads as the bot\'s name');

    const [a] = inboundFor(first.ts);
    const [b] = inboundFor(followUp.ts);
    const [c] = inboundFor(second.ts);
    assert.equal(inboundFor(first.ts).length, 1, 'the message and app_mention events of one message are filed once');
    assert.equal(a.conversation_id, b.conversation_id, 'the thread is one conversation');
    assert.notEqual(a.conversation_id, c.conversation_id, 'another thread is another conversation');
    assert.deepEqual(inboundFor(quiet.ts), []);
    assert.ok(!modelSaw('lunch anyone?'));
    assert.equal(sl.posted.filter((m) => m.thread_ts === quiet.ts).length, 0);
  });

  it('ignores bot messages, its own messages and edits', async () => {
    const acks = await Promise.all([
      sl.userSays({ user: 'UOTHERBOT', channel: 'DOWNER01', text: 'from a bot', bot_id: 'B999', subtype: 'bot_message' }).acked,
      sl.userSays({ user: SlackStandIn.BOT_USER, channel: 'DOWNER01', text: 'my own words' }).acked,
      sl.injectEvent({ type: 'message', subtype: 'message_changed', channel: 'DOWNER01', ts: sl.nextTs(), message: { user: OWNER, text: 'edited text' } }),
    ]);
    assert.equal(acks.length, 3);
    const { ts } = sl.userSays({ user: OWNER, channel: 'DOWNER01', text: 'after the noise' });
    await sl.nextMessage((m) => m.channel === 'DOWNER01' && m.text === 'Echo: after the noise');
    assert.ok(inboundFor(ts).length === 1);
    for (const t of ['from a bot', 'my own words', 'edited text']) assert.ok(!modelSaw(t), `${t} never reached the model`);
  });

  it('gives an unknown sender in a DM a pairing code, and passes nothing on', async () => {
    sl.userSays({ user: 'USTRANGER', channel: 'DSTRANGE', text: 'let me in' });
    const answer = await sl.nextMessage((m) => m.channel === 'DSTRANGE');
    assert.match(answer.text, /nanoclaw pair approve [A-Z2-9]{8}/);
    assert.ok(!modelSaw('let me in'));
  });

  it('downloads a shared file with the bot token into the agent\'s inbox, and refuses one over the limit before downloading it', async () => {
    const file = sl.hostFile('note.txt', Buffer.from('hello from a file'));
    sl.userSays({ user: OWNER, channel: 'DFILES01', text: 'run: cat /workspace/inbox/note.txt', files: [file] });
    const reply = await sl.nextMessage((m) => m.channel === 'DFILES01');
    assert.match(reply.text, /hello from a file/);
    assert.deepEqual(sl.downloads.filter((d) => d.id === file.id).map((d) => d.authorization), ['Bearer xoxb-test']);

    const big = sl.hostFile('movie.mp4', Buffer.from('small really'), { declaredSize: 10 * 1024 * 1024 });
    const { ts, acked } = sl.userSays({ user: OWNER, channel: 'DFILES01', text: 'see this', files: [big] });
    await acked;
    const refusal = await sl.nextMessage((m) => m.channel === 'DFILES01', { method: 'chat.postEphemeral', from: 0 });
    assert.equal(refusal.user, OWNER, 'only the sender is told');
    assert.match(refusal.text, /"movie\.mp4" is 10485760 bytes, over the limit of 65536 bytes/);
    assert.deepEqual(sl.downloads.filter((d) => d.id === big.id), [], 'nothing was downloaded');
    assert.deepEqual(inboundFor(ts), []);
  });

  it('uploads the agent\'s files with files.uploadV2 into the conversation\'s thread', async () => {
    const { ts } = sl.userSays({ user: OWNER, channel: GROUP, text: `${BOT} run: mkdir -p /workspace/outbox && printf "chart data" > /workspace/outbox/chart.csv` });
    await sl.until(() => sl.uploads.some((u) => u.thread_ts === ts), 'the file was uploaded');
    const upload = sl.uploads.find((u) => u.thread_ts === ts)!;
    assert.deepEqual([upload.filename, upload.data.toString(), upload.channel], ['chart.csv', 'chart data', GROUP]);
    assert.ok(sl.calls.some((c) => c.method === 'files.getUploadURLExternal' && c.params.filename === 'chart.csv' && c.params.length === '10'));
  });

  it('splits a long reply into messages of at most 4000 characters, in Slack mrkdwn', async () => {
    const words = Array.from({ length: 900 }, (_, i) => `w${i}`).join(' ');
    const from = sl.posted.length;
    sl.userSays({ user: OWNER, channel: 'DLONG001', text: `**bold** and [a link](https://example.com/a) ${words}` });
    await sl.until(() => sl.posted.slice(from).some((m) => m.channel === 'DLONG001' && m.text.includes('w899')), 'the last part arrived');
    const parts = sl.posted.slice(from).filter((m) => m.channel === 'DLONG001' && m.method === 'chat.postMessage');
    assert.ok(parts.length >= 2, `${parts.length} part(s)`);
    for (const p of parts) assert.ok(p.text.length <= 4000, `a part of ${p.text.length} characters`);
    assert.match(parts[0].text, /^Echo: \*bold\* and <https:\/\/example\.com\/a\|a link> w0 w1/);
    assert.equal(parts.map((p) => p.text).join(' ').match(/\bw\d+\b/g)?.length, 900, 'every word arrived once');
  });

  it('asks with buttons; a tap answers the question, is acknowledged, and the message then shows the choice', async () => {
    sl.userSays({ user: OWNER, channel: 'DASK0001', text: 'tool: ask_user {"question":"Pick","choices":["A","B"]}' });
    const question = await sl.nextMessage((m) => m.channel === 'DASK0001' && !!m.blocks);
    assert.equal(question.text, 'Pick');
    const buttons = question.blocks!.filter((b) => b.type === 'actions').flatMap((b) => b.elements);
    assert.deepEqual(buttons.map((b: any) => b.text.text), ['A', 'B']);
    const from = sl.posted.length;
    assert.deepEqual(await sl.tap(question, 1, OWNER), {}, 'the tap was acknowledged');
    const final = await sl.nextMessage((m) => m.channel === 'DASK0001' && !m.blocks, { from });
    assert.match(final.text, /answered: B|chose: B/);
    const update = await sl.nextMessage((m) => m.ts === question.ts, { method: 'chat.update', from });
    assert.match(update.text, /chose \*B\*/);
    assert.ok(!JSON.stringify(update.blocks).includes('"actions"'), 'the buttons are gone');
  });

  it('shows a progress message during a slow turn, edits it in place and deletes it when the answer comes', async () => {
    const from = sl.posted.length;
    sl.userSays({ user: OWNER, channel: 'DSLOW001', text: 'sleep: 12000' });
    const final = await sl.nextMessage((m) => m.channel === 'DSLOW001' && /Slept 12000 ms/.test(m.text), { from });
    const mine = sl.posted.slice(from).filter((m) => m.channel === 'DSLOW001');
    const progress = mine.find((m) => m.method === 'chat.postMessage' && m.ts !== final.ts);
    assert.ok(progress, 'a progress message was posted');
    await sl.until(() => sl.posted.some((m) => m.method === 'chat.delete' && m.ts === progress!.ts), 'the progress message was deleted');
    assert.ok(sl.posted.some((m) => m.method === 'chat.update' && m.ts === progress!.ts), 'it was edited in place');
  });

  it('reconnects after the Socket Mode connection drops, and after Slack asks it to', async () => {
    for (const how of ['terminate', 'disconnect'] as const) {
      const before = sl.connections;
      sl.drop(how);
      await sl.until(() => sl.connections > before && sl.openSockets === 1, `a new connection after ${how}`);
      await pollUntil('the channel reports connected', async () => (await slackStatus(h)).state === 'connected');
      sl.userSays({ user: OWNER, channel: 'DRECON01', text: `back after ${how}` });
      assert.equal((await sl.nextMessage((m) => m.channel === 'DRECON01' && m.text.includes(how))).text, `Echo: back after ${how}`);
    }
  });

  it('notices a connection that stopped answering pings and opens a new one', async () => {
    const before = sl.connections;
    sl.stall();
    await sl.until(() => sl.connections > before, 'a new connection after the stall', 90_000);
    await pollUntil('the channel reports connected', async () => (await slackStatus(h)).state === 'connected', 15_000);
    sl.userSays({ user: OWNER, channel: 'DSTALL01', text: 'after the stall' });
    assert.equal((await sl.nextMessage((m) => m.channel === 'DSTALL01')).text, 'Echo: after the stall');
  });

  it('retries a rate-limited send after Slack\'s Retry-After, and gives up at once on a channel that is gone', async () => {
    sl.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    const start = sl.calls.length;
    sl.userSays({ user: OWNER, channel: 'DRATE001', text: 'slow down' });
    await sl.nextMessage((m) => m.channel === 'DRATE001');
    const posts = sl.calls.slice(start).filter((c) => c.method === 'chat.postMessage');
    assert.deepEqual(posts.map((c) => c.status), [429, 200]);
    assert.ok(posts[1].at - posts[0].at >= 1000, 'the retry waited for Retry-After');

    sl.failNext('chat.postMessage', { error: 'channel_not_found' });
    const mark = sl.calls.length;
    const { ts } = sl.userSays({ user: OWNER, channel: 'DGONE001', text: 'into the void' });
    await pollUntil('the reply failed', () => (h.app.store.db.prepare("SELECT o.state FROM outbound o JOIN inbound i ON i.conversation_id = o.conversation_id WHERE i.client_id = ? AND o.state = 'failed'").get(ts)));
    assert.equal(sl.calls.slice(mark).filter((c) => c.method === 'chat.postMessage' && c.params.channel === 'DGONE001').length, 1, 'not retried');
  });

  it('skips malformed envelopes and events without crashing, and keeps answering', async () => {
    // Not envelopes at all: dropped before the SDK reads them (it would throw on them).
    sl.sendFrame('this is not JSON');
    sl.sendFrame(JSON.stringify({ type: 'events_api', envelope_id: 'e1' }));
    sl.sendFrame(JSON.stringify({ type: 'events_api', envelope_id: 'e2', payload: { event: null } }));
    sl.sendFrame(JSON.stringify([1, 2, 3]));
    // Envelopes with events that make no sense: acknowledged and skipped.
    await sl.injectEvent({ type: 'message', text: 'no channel or user' });
    await sl.injectEvent({ type: 'message', channel: '../../etc', user: OWNER, ts: 'abc', text: 'bad ids' });
    await sl.injectEvent({ type: 'message', channel: 'DMALF001', user: OWNER, ts: sl.nextTs(), text: 'x'.repeat(50_000) });
    await sl.injectEvent({ type: 'message', channel: 'DMALF001', user: OWNER, ts: sl.nextTs(), text: 'evil file', files: [{ id: 'F1', name: '../../etc/passwd', size: 5, url_private_download: 'https://evil.example.com/steal' }] });
    await sl.injectEnvelope({ type: 'interactive', payload: { type: 'block_actions', user: { id: OWNER }, channel: { id: 'DMALF001' }, actions: [{ value: '{"q":"nope"}' }] } });
    await sl.injectEnvelope({ type: 'slash_commands', payload: { command: '/x' } });
    sl.userSays({ user: OWNER, channel: 'DMALF001', text: 'still there?' });
    assert.equal((await sl.nextMessage((m) => m.channel === 'DMALF001' && m.method === 'chat.postMessage' && m.text.startsWith('Echo'))).text, 'Echo: still there?');
    assert.ok(!modelSaw('evil file'), 'a file from a foreign host is not fetched with the token, and its message is refused');
    assert.equal((await slackStatus(h)).state, 'connected');
  });
});

describe('slack channel: credentials Slack refuses', () => {
  let sl: SlackStandIn;
  let h: Harness | undefined;
  before(async () => { sl = await SlackStandIn.start(); });
  after(async () => { await h?.close(); await sl?.close(); });

  it('reports a revoked bot token in health and GET /api/v1/status, with what to do, and does not retry in a loop', async () => {
    sl.revoked.add('xoxb-test');
    h = await startHarness({ env: TOKENS, config: { channels: { slack: { enabled: true, apiBaseUrl: sl.apiUrl } } } });
    const status = await slackStatus(h);
    assert.equal(status.state, 'failed');
    assert.match(status.detail, /token_revoked/);
    assert.match(status.action, /nanoclaw setup slack/);
    await sleep(3000);
    assert.equal(sl.calls.filter((c) => c.method === 'auth.test').length, 1, 'asked once');
    assert.equal(sl.connections, 0);
    assert.equal((await h.api('/api/v1/health')).status, 200, 'the gateway runs');
  });

  it('check() asks Slack about both tokens and says how to fix what fails', async () => {
    sl.revoked.clear();
    const config = SlackChannelConfig.parse({ enabled: true, apiBaseUrl: sl.apiUrl });
    const ok = await slack.check({ config, secrets: new Secrets('/nonexistent', TOKENS) });
    assert.equal(ok.ok, true, ok.detail);
    assert.match(ok.detail, /nanoclaw in Stand-in Team; Socket Mode works/);
    const badApp = await slack.check({ config, secrets: new Secrets('/nonexistent', { ...TOKENS, SLACK_APP_TOKEN: 'xapp-wrong' }) });
    assert.equal(badApp.ok, false);
    assert.match(badApp.detail, /app token \(SLACK_APP_TOKEN\): Slack answered "invalid_auth"/);
    assert.match(badApp.fix!, /nanoclaw setup slack/);
    const none = await slack.check({ config, secrets: new Secrets('/nonexistent', {}) });
    assert.deepEqual([none.ok, none.detail], [false, 'SLACK_BOT_TOKEN is not set']);
    const unreachable = await slack.check({ config: { ...config, apiBaseUrl: 'http://127.0.0.1:9/api/' }, secrets: new Secrets('/nonexistent', TOKENS) });
    assert.equal(unreachable.ok, false);
    assert.match(unreachable.detail, /could not check the bot token/);
  });
});

describe('slack channel: HTTP events mode', () => {
  let sl: SlackStandIn;
  let h: Harness;
  let url: string;
  const secret = '8f742231b10e8888abcd99yyyzzz85a5';
  const post = (body: string, opts: { type?: string; timestamp?: number; sign?: string } = {}) => {
    const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    return fetch(url, { method: 'POST', body, headers: {
      'content-type': opts.type ?? 'application/json', 'x-slack-request-timestamp': ts, 'x-slack-signature': opts.sign ?? signSlackRequest(secret, ts, body),
    } });
  };

  before(async () => {
    sl = await SlackStandIn.start();
    const port = await new Promise<number>((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as any).port; s.close(() => resolve(p)); }); });
    url = `http://127.0.0.1:${port}/slack/events`;
    h = await startHarness({
      env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: secret },
      config: { channels: { slack: { enabled: true, apiBaseUrl: sl.apiUrl, mode: 'http', http: { port } } }, access: { owners: [`slack:${OWNER}`] } },
    });
  });
  after(async () => { await h?.close(); await sl?.close(); });

  it('answers Slack\'s url_verification challenge and refuses unsigned, wrongly signed or stale requests', async () => {
    const challenge = JSON.stringify({ type: 'url_verification', token: 'x', challenge: 'abc123' });
    const ok = await post(challenge);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { challenge: 'abc123' });
    assert.equal((await post(challenge, { sign: 'v0=' + '0'.repeat(64) })).status, 401);
    assert.equal((await post(challenge, { timestamp: Math.floor(Date.now() / 1000) - 600 })).status, 401);
    assert.equal((await fetch(url, { method: 'POST', body: challenge })).status, 401);
    assert.equal((await fetch(url.replace('/slack/events', '/other'), { method: 'POST', body: challenge })).status, 404);
  });

  it('files a signed event and answers through the Web API', async () => {
    const ts = sl.nextTs();
    const res = await post(JSON.stringify({ type: 'event_callback', team_id: 'T0TEAM', event_id: 'Ev1', event: { type: 'message', channel: 'DHTTP001', channel_type: 'im', user: OWNER, text: 'over http', ts } }));
    assert.equal(res.status, 200);
    assert.equal((await slackStatus(h)).state, 'connected');
    const reply = await sl.nextMessage((m) => m.channel === 'DHTTP001', { from: 0 });
    assert.equal(reply.text, 'Echo: over http');
  });

  it('takes a signed button tap (form-encoded payload) as the answer', async () => {
    const event = { type: 'message', channel: 'DHTTP002', channel_type: 'im', user: OWNER, text: 'tool: ask_user {"question":"Which?","choices":["X","Y"]}', ts: sl.nextTs() };
    assert.equal((await post(JSON.stringify({ type: 'event_callback', event_id: 'Ev2', event }))).status, 200);
    const question = await sl.nextMessage((m) => m.channel === 'DHTTP002' && !!m.blocks, { from: 0 });
    const [button] = question.blocks!.find((b) => b.type === 'actions').elements;
    const payload = { type: 'block_actions', user: { id: OWNER }, channel: { id: 'DHTTP002' }, container: { message_ts: question.ts, channel_id: 'DHTTP002' }, message: { ts: question.ts, text: question.text }, actions: [{ action_id: button.action_id, value: button.value, text: button.text }] };
    const from = sl.posted.length;
    const tap = await post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), { type: 'application/x-www-form-urlencoded' });
    assert.equal(tap.status, 200);
    const final = await sl.nextMessage((m) => m.channel === 'DHTTP002' && !m.blocks, { from });
    assert.match(final.text, /answered: X|chose: X/);
  });
});
