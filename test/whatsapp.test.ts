/**
 * The WhatsApp channel: the real Baileys socket, pointed at a local
 * websocket server (test/support/whatsapp-standin.ts) for connecting,
 * dropping and reconnecting; inbound messages through the socket's own event
 * emitter in WhatsApp's payload shapes; outbound recorded on the socket's own
 * sendMessage and sendPresenceUpdate; a real gateway and real containers.
 * WhatsApp's own protocol (the Noise handshake with its pinned key, Signal
 * sessions) cannot be stood in for: docs/channels/whatsapp.md says what that
 * leaves untested.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { ChannelHost } from '../src/channels/channel.ts';
import { AuthStore, linkDevice, sessionDir, whatsapp, WhatsappChannel, WhatsappChannelConfig } from '../src/channels/whatsapp/index.ts';
import { createLogger } from '../src/core/logger.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { OWN, WhatsappStandIn } from './support/whatsapp-standin.ts';

const FRIEND = '15552223333';
const GROUP = '120363041234567890@g.us';
const LIMIT = 100_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const jid = (n: string) => `${n}@s.whatsapp.net`;
const log = createLogger(process.env.NANOCLAW_LOG ?? 'silent');
const temps: string[] = [];
const tempDir = () => { const d = mkdtempSync(join(tmpdir(), 'nct-wa-')); temps.push(d); return d; };
after(() => { for (const d of temps) rmSync(d, { recursive: true, force: true }); });
const until = async (cond: () => boolean) => { while (!cond()) await new Promise((r) => setTimeout(r, 20)); };

describe('WhatsApp channel (real Baileys socket, local websocket server, real containers)', { timeout: 180_000 }, () => {
  let h: Harness;
  let wa: WhatsappStandIn;
  let channel: WhatsappChannel;
  const modelSaw = (text: string) => h.fake.requests.some((r) => JSON.stringify(r.body ?? '').includes(text));

  before(async () => {
    wa = await WhatsappStandIn.start();
    h = await startHarness({
      config: {
        access: { owners: [`whatsapp:${OWN.number}`, `whatsapp:${FRIEND}`], groups: [`whatsapp:${GROUP}`] },
        attachments: { maxBytesByChannel: { whatsapp: LIMIT } },
      },
    });
    await WhatsappStandIn.linkSession(sessionDir(join(h.home, 'channels', 'whatsapp')));
    channel = new WhatsappChannel({ config: WhatsappChannelConfig.parse({ enabled: true, apiBaseUrl: wa.url, pairStrangers: true }), log, makeSocket: wa.makeSocket, link: wa.link });
    await h.app.gateway.startChannel(channel);
    await wa.waitForConnections(1);
    wa.open();
  });
  after(async () => { await h?.close(); await wa?.close(); });

  it('connects the real Baileys socket to the configured websocket address, which gets the WhatsApp Web hello', async () => {
    await until(() => wa.hellos.length >= 1);
    assert.equal(wa.hellos[0].subarray(0, 2).toString(), 'WA', 'the client hello starts with the WA header');
    assert.equal(channel.health().state, 'connected');
  });

  it('answers a direct message through a real container, in WhatsApp markers, via the socket\'s sendMessage', async () => {
    wa.sendText({ from: FRIEND, text: 'hello **there**' });
    const reply = await wa.nextSent(jid(FRIEND));
    assert.equal(reply.content.text, 'Echo: hello *there*');
  });

  it('answers the owner in the chat with themselves, and skips the echo of its own reply', async () => {
    wa.sendText({ from: OWN.number, text: 'note to self', fromMe: true });
    const reply = await wa.nextSent(jid(OWN.number));
    assert.equal(reply.content.text, 'Echo: note to self');
    const requests = h.fake.requests.length;
    // WhatsApp echoes the account's own sends back; the channel knows their ids.
    const sentId = (await channel.send(h.app.gateway.conversationFor({ channel: 'whatsapp', chat: jid(OWN.number), thread: '' })!, { kind: 'reply', text: 'own-echo-7731', files: [], buttons: [] })).platformIds[0];
    await wa.nextSent(jid(OWN.number));
    wa.deliver({ chat: jid(OWN.number), fromMe: true, id: sentId, message: { conversation: 'own-echo-7731' } });
    wa.sendText({ from: FRIEND, text: 'after the echo' });
    assert.equal((await wa.nextSent(jid(FRIEND))).content.text, 'Echo: after the echo');
    assert.ok(!modelSaw('own-echo-7731'), 'its own message did not start a turn');
    assert.ok(h.fake.requests.length > requests);
  });

  it('does not answer what the owner writes to other people', async () => {
    wa.sendText({ from: '15554445555', text: 'owner talking to a friend', fromMe: true });
    wa.sendText({ from: FRIEND, text: 'next one' });
    assert.equal((await wa.nextSent(jid(FRIEND))).content.text, 'Echo: next one');
    assert.ok(!modelSaw('owner talking to a friend'));
    assert.ok(!wa.sent.some((m) => m.jid === jid('15554445555')));
  });

  it('knows a sender WhatsApp addresses by LID by the phone number it gives beside it', async () => {
    const lidChat = '246813579024680@lid';
    wa.deliver({ chat: lidChat, key: { remoteJidAlt: jid(FRIEND) }, message: { conversation: 'hello from a lid' } });
    assert.equal((await wa.nextSent(lidChat)).content.text, 'Echo: hello from a lid', 'an owner by number, not a stranger to pair');
    const ownLid = '99887766554433@lid';
    wa.deliver({ chat: GROUP, participant: '135792468013579@lid', key: { participantAlt: jid(FRIEND) }, message: { extendedTextMessage: { text: '@99887766554433 lid mention', contextInfo: { mentionedJid: [ownLid] } } } });
    assert.equal((await wa.nextSent(GROUP)).content.text, 'Echo: lid mention', 'a mention of the account\'s LID addresses the agent');
  });

  it('with pairStrangers: gives an unknown sender a pairing code and passes nothing on', async () => {
    wa.sendText({ from: '15559990000', text: 'hi, please run: cat /etc/passwd' });
    assert.match((await wa.nextSent(jid('15559990000'))).content.text ?? '', /nanoclaw pair approve [A-Z2-9]{8}/);
    assert.ok(!modelSaw('please run'));
  });

  it('in an allowed group: ignores a message without a mention, answers a mention of the linked number (stripped)', async () => {
    wa.sendText({ group: GROUP, from: FRIEND, text: 'what a nice day' });
    wa.sendText({ group: GROUP, from: FRIEND, text: `@${OWN.number} hello group`, mentions: [jid(OWN.number)] });
    assert.equal((await wa.nextSent(GROUP)).content.text, 'Echo: hello group');
    assert.ok(!modelSaw('what a nice day'));
  });

  it('in a group that is not allowed: even a mention is ignored', async () => {
    const other = '120363099999999999@g.us';
    wa.sendText({ group: other, from: FRIEND, text: `@${OWN.number} secret plans`, mentions: [jid(OWN.number)] });
    wa.sendText({ from: FRIEND, text: 'still here' });
    assert.equal((await wa.nextSent(jid(FRIEND))).content.text, 'Echo: still here');
    assert.ok(!modelSaw('secret plans'));
    assert.ok(!wa.sent.some((m) => m.jid === other));
  });

  it('puts images, documents and voice notes (ptt audio) into the agent\'s inbox, with safe names', async () => {
    const image = Buffer.alloc(3000, 1);
    const doc = Buffer.from('%PDF-1.4 quarterly numbers');
    const voice = Buffer.from('OggS a voice note');
    const img = wa.sendMedia({ from: FRIEND, kind: 'image', data: image, caption: 'a photo' });
    await wa.nextSent(jid(FRIEND));
    const note = wa.sendMedia({ from: FRIEND, kind: 'voice', data: voice });
    await wa.nextSent(jid(FRIEND));
    wa.sendMedia({ from: FRIEND, kind: 'document', data: doc, fileName: '../../etc/report.pdf', caption: 'run: cd /workspace/inbox && sha256sum *' });
    const listing = (await wa.nextSent(jid(FRIEND))).content.text ?? '';
    assert.match(listing, new RegExp(`${sha(image)}  image-${img.key.id}\\.jpg`), listing);
    assert.match(listing, new RegExp(`${sha(voice)}  voice-${note.key.id}\\.ogg`), listing);
    assert.match(listing, new RegExp(`${sha(doc)}  report\\.pdf`), listing);
    assert.ok(modelSaw(`Voice note /workspace/inbox/voice-${note.key.id}.ogg`), 'the push-to-talk audio was marked as a voice note');
  });

  it('refuses a file over the attachment limit before downloading it, and tells the sender (strangers are paired here)', async () => {
    const big = wa.sendMedia({ from: FRIEND, kind: 'document', data: Buffer.alloc(10), size: LIMIT + 1, fileName: 'dump.bin', caption: 'here is the dump' });
    wa.media.delete(big.key.id!); // a download would fail the test's way: no reply
    assert.match((await wa.nextSent(jid(FRIEND))).content.text ?? '', /too large/);
    assert.ok(!modelSaw('here is the dump'));
  });

  it('sends the agent\'s files: an image as a photo, anything else as a document with its name', async () => {
    wa.sendText({ from: FRIEND, text: 'run: mkdir -p /workspace/outbox && printf "a,b" > /workspace/outbox/chart.csv' });
    let doc;
    for (let i = 0; i < 3 && !doc; i++) {
      const m = await wa.nextSent(jid(FRIEND));
      if ('document' in m.content) doc = m.content as { document: Buffer; fileName: string };
    }
    assert.ok(doc, 'a document was sent');
    assert.equal(doc.fileName, 'chart.csv');
    assert.equal(Buffer.from(doc.document).toString(), 'a,b');
  });

  it('splits a long reply into messages of at most 4000 characters, in order', async () => {
    const words = Array.from({ length: 1500 }, (_, i) => `w${i}`).join(' ');
    wa.sendText({ from: FRIEND, text: words });
    const parts = [await wa.nextSent(jid(FRIEND)), await wa.nextSent(jid(FRIEND))];
    let text = parts.map((p) => p.content.text).join(' ');
    while (!text.includes('w1499')) text += ` ${(await wa.nextSent(jid(FRIEND))).content.text}`;
    for (const p of parts) assert.ok((p.content.text ?? '').length <= 4000);
    assert.equal(text.replace(/\s+/g, ' '), `Echo: ${words}`);
  });

  it('shows "composing" in the chat while a turn runs', async () => {
    const before = wa.presences.length;
    wa.sendText({ from: FRIEND, text: 'sleep: 1500' });
    await wa.nextSent(jid(FRIEND));
    assert.ok(wa.presences.slice(before).some((p) => p.jid === jid(FRIEND) && p.presence === 'composing'), JSON.stringify(wa.presences));
  });

  it('skips malformed and oversized messages without a crash, and goes on answering', async () => {
    wa.socket.ev.emit('messages.upsert', { type: 'notify', messages: [
      null as never,
      { key: {} } as never,
      { key: { remoteJid: jid(FRIEND), id: 'NOMESSAGE1' } } as never,
      { key: { remoteJid: 'not a jid', id: 'BADJID1' }, message: { conversation: 'bad jid' } } as never,
      { key: { remoteJid: jid(FRIEND), id: 'HUGE1' }, message: { conversation: `huge ${'x'.repeat(200_000)}` } } as never,
      { key: { remoteJid: jid(FRIEND), id: 'NOMEDIA1' }, message: { imageMessage: { mimetype: 'image/jpeg', fileLength: 10 } } } as never,
    ] });
    wa.sendText({ from: FRIEND, text: 'still answering' });
    assert.equal((await wa.nextSent(jid(FRIEND))).content.text, 'Echo: still answering');
    assert.ok(!modelSaw('huge xxx'));
  });

  it('reconnects after the connection drops, and answers again once open', { timeout: 30_000 }, async () => {
    const seen = wa.connections;
    wa.dropAll();
    await until(() => channel.health().state === 'reconnecting');
    await wa.waitForConnections(seen + 1);
    wa.open();
    assert.equal(channel.health().state, 'connected');
    wa.sendText({ from: FRIEND, text: 'back again' });
    assert.equal((await wa.nextSent(jid(FRIEND))).content.text, 'Echo: back again');
  });

  it('logged out (401): reported failed in the status with "nanoclaw setup whatsapp", the socket closed, no reconnect loop', async () => {
    const seen = wa.connections;
    wa.disconnect(401, 'Intentional Logout');
    let status: any;
    await until(() => channel.health().state === 'failed');
    status = await (await h.api('/api/v1/status')).json();
    const health = status.channels.find((c: any) => c.name === 'whatsapp');
    assert.equal(health.state, 'failed');
    assert.match(health.detail, /logged this device out \(401\)/);
    assert.match(health.action, /nanoclaw setup whatsapp/);
    await until(() => wa.connected === 0);
    await new Promise((r) => setTimeout(r, 2500)); // past the first backoff steps: a loop would have connected again
    assert.equal(wa.connections, seen, 'no new connection');
  });
});

describe('WhatsApp connection handling without a gateway', () => {
  let wa: WhatsappStandIn;
  before(async () => { wa = await WhatsappStandIn.start(); });
  after(async () => { await wa?.close(); });

  const received: Array<{ sender: string; ctx: unknown }> = [];
  const alerts: string[] = [];
  const hostIn = (dataDir: string): ChannelHost => ({
    receive: (_where, msg, ctx) => { received.push({ sender: msg.sender, ctx }); return { accepted: false, reason: 'test' }; }, answer: () => ({ ok: true }),
    conversation: () => { throw new Error('unused'); }, redeliver: () => {}, attachmentLimit: LIMIT,
    onTurn: () => () => {}, audit: () => {}, alertOwner: (text) => { alerts.push(text); }, dataDir, log,
  });
  const started = async (config: object = {}) => {
    const dir = tempDir();
    await WhatsappStandIn.linkSession(sessionDir(dir));
    const ch = new WhatsappChannel({ config: WhatsappChannelConfig.parse({ enabled: true, apiBaseUrl: wa.url, ...config }), log, makeSocket: wa.makeSocket, link: wa.link });
    const seen = wa.connections;
    await ch.start(hostIn(dir));
    await wa.waitForConnections(seen + 1);
    return ch;
  };

  it('connection replaced (440): stops and reports, without reconnecting', async () => {
    const ch = await started();
    wa.open();
    const seen = wa.connections;
    wa.disconnect(440, 'Stream Errored (conflict)');
    assert.equal(ch.health().state, 'failed');
    assert.match(ch.health().detail ?? '', /took over \(440\)/);
    await until(() => wa.connected === 0);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(wa.connections, seen);
    assert.equal(alerts.filter((a) => /WhatsApp stopped: .*took over \(440\).*To fix: stop the other copy/.test(a)).length, 1, 'the owner is told once, on their other channels');
    await ch.stop();
  });

  it('by default asks the core to ignore strangers rather than answer them with a pairing code (it is a personal number)', async () => {
    const ch = await started();
    wa.open();
    wa.sendText({ from: '15559990000', text: 'hello?' });
    await until(() => received.some((r) => r.sender === '15559990000'));
    assert.deepEqual(received.find((r) => r.sender === '15559990000')?.ctx, { isGroup: false, mentioned: false, ignoreStrangers: true });
    await ch.stop();
  });

  it('restart required (515, right after linking): connects again at once', { timeout: 30_000 }, async () => {
    const ch = await started();
    const seen = wa.connections;
    wa.disconnect(515, 'Stream Errored (restart required)');
    await wa.waitForConnections(seen + 1);
    assert.notEqual(ch.health().state, 'failed');
    await ch.stop();
  });

  it('watchdog: a connection that delivers nothing is opened again', { timeout: 30_000 }, async () => {
    const ch = await started({ watchdogSec: 1 });
    wa.open();
    const seen = wa.connections;
    await wa.waitForConnections(seen + 1);
    await ch.stop();
  });

  it('without a linked session: failed with what to do, never connecting', async () => {
    const dir = tempDir();
    const ch = new WhatsappChannel({ config: WhatsappChannelConfig.parse({ enabled: true, apiBaseUrl: wa.url }), log, makeSocket: wa.makeSocket, link: wa.link });
    const seen = wa.connections;
    await ch.start(hostIn(dir));
    assert.equal(ch.health().state, 'failed');
    assert.match(ch.health().action ?? '', /nanoclaw setup whatsapp/);
    assert.equal(wa.connections, seen);
  });
});

describe('WhatsApp linking and the session store', () => {
  let wa: WhatsappStandIn;
  before(async () => { wa = await WhatsappStandIn.start(); });
  after(async () => { await wa?.close(); });

  it('shows the QR code in the terminal, follows the 515 restart and keeps the keys in a 0700 folder of 0600 files', async () => {
    const home = tempDir();
    const dir = sessionDir(join(home, 'channels', 'whatsapp'));
    const out = new PassThrough();
    let printed = '';
    out.on('data', (d) => { printed += d; });
    const seen = wa.connections;
    const linking = linkDevice({ dir, url: wa.url, phone: '', out, signal: AbortSignal.timeout(60_000), makeSocket: wa.makeSocket });
    await wa.waitForConnections(seen + 1);
    wa.socket.ev.emit('connection.update', { qr: '2@abc,def,ghi' });
    await until(() => printed.includes('Linked devices'));
    assert.match(printed, /[▀▄█]/, 'a QR code drawn in block characters');
    // The phone scanned it: WhatsApp gives the device its identity, then asks for the usual restart.
    const first = wa.socket;
    first.ev.emit('creds.update', { me: { id: OWN.pn, lid: OWN.lid, name: 'Owner' } });
    wa.disconnect(515, 'Stream Errored (restart required)');
    await until(() => wa.socket !== first);
    wa.socket.ev.emit('connection.update', { connection: 'open' });
    assert.equal(await linking, OWN.pn);

    assert.equal(await AuthStore.linkedAccount(dir), OWN.pn);
    // Signal keys are kept the same way; an id with "/" or ":" never becomes a path.
    const store = await AuthStore.open(dir);
    await store.state.keys.set({ session: { '../../escape:1': Buffer.from('session bytes') as never } });
    assert.deepEqual(Object.keys(await store.state.keys.get('session', ['../../escape:1'])), ['../../escape:1']);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const files = readdirSync(dir);
    assert.ok(files.includes('creds.json'));
    assert.ok(files.some((f) => f.startsWith('session-')), files.join(' '));
    for (const f of files) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    assert.ok(!files.some((f) => f.endsWith('.tmp')), 'no half-written file left');

    const prev = process.env.NANOCLAW_HOME;
    process.env.NANOCLAW_HOME = home;
    try {
      const check = await whatsapp.check({ config: WhatsappChannelConfig.parse({}), secrets: undefined as never });
      assert.equal(check.ok, true);
      assert.match(check.detail, /linked to 15550001111/);
      assert.match(check.detail, /nanoclaw status/);
    } finally {
      if (prev === undefined) delete process.env.NANOCLAW_HOME; else process.env.NANOCLAW_HOME = prev;
    }
  });

  it('asks WhatsApp for a pairing code when a phone number is given, and prints it', async () => {
    const dir = sessionDir(tempDir());
    const out = new PassThrough();
    let printed = '';
    out.on('data', (d) => { printed += d; });
    const seen = wa.connections;
    const asked: string[] = [];
    const linking = linkDevice({
      dir, url: wa.url, phone: '15550001111', out, signal: AbortSignal.timeout(60_000),
      makeSocket: (c) => { const s = wa.makeSocket(c); s.requestPairingCode = async (phone) => { asked.push(phone); return 'ABCD1234'; }; return s; },
    });
    await wa.waitForConnections(seen + 1);
    wa.socket.ev.emit('connection.update', { qr: '2@abc,def,ghi' });
    await until(() => printed.includes('ABCD1234'));
    assert.deepEqual(asked, ['15550001111']);
    assert.doesNotMatch(printed, /[▀▄█]/, 'no QR code when a pairing code was asked for');
    wa.disconnect(401, 'Connection Failure');
    await assert.rejects(linking, /run `nanoclaw setup whatsapp` again/);
  });

  it('check() without a linked session says how to link', async () => {
    const prev = process.env.NANOCLAW_HOME;
    process.env.NANOCLAW_HOME = tempDir();
    try {
      const check = await whatsapp.check({ config: WhatsappChannelConfig.parse({}), secrets: undefined as never });
      assert.equal(check.ok, false);
      assert.match(check.fix ?? '', /nanoclaw setup whatsapp/);
    } finally {
      if (prev === undefined) delete process.env.NANOCLAW_HOME; else process.env.NANOCLAW_HOME = prev;
    }
  });
});
