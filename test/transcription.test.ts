/**
 * Voice notes: a Telegram voice note (the real grammY client against the Bot
 * API stand-in) is transcribed by the gateway through an OpenAI-compatible
 * transcription stand-in when its turn starts, and the agent in a real
 * container reads the transcript with the audio kept in its inbox. The key
 * stays on the host; a failing service or none at all gives the agent a
 * note, never a failed turn.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { OpenAiTranscriber } from '../src/transcription/client.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { TelegramStandIn } from './support/telegram-standin.ts';
import { TranscriptionStandIn } from './support/transcription-standin.ts';
import { join } from 'node:path';
import { sessionDir, WhatsappChannel, WhatsappChannelConfig } from '../src/channels/whatsapp/index.ts';
import { createLogger } from '../src/core/logger.ts';
import { WhatsappStandIn } from './support/whatsapp-standin.ts';

const OWNER = 4242;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A voice note from the owner, as Telegram delivers it; returns its message id. */
function sendVoice(tg: TelegramStandIn, data: Buffer, caption = ''): number {
  const file = tg.addFile(data, `voice/file_${Math.random().toString(36).slice(2)}.oga`);
  return tg.sendText({ from: OWNER, text: caption, extra: { voice: { ...file, duration: 3, mime_type: 'audio/ogg' } } }).message_id as number;
}

describe('voice notes with a transcription service (Telegram stand-in, transcription stand-in, real containers)', () => {
  let h: Harness;
  let tg: TelegramStandIn;
  let stt: TranscriptionStandIn;
  const modelSaw = (text: string) => h.fake.requests.some((r) => JSON.stringify(r.body ?? '').includes(JSON.stringify(text).slice(1, -1)));

  before(async () => {
    tg = await TelegramStandIn.start();
    stt = await TranscriptionStandIn.start();
    h = await startHarness({
      env: { TELEGRAM_BOT_TOKEN: tg.token, STT_KEY: stt.key },
      config: {
        channels: { telegram: { enabled: true, apiBaseUrl: tg.url, pollTimeoutSec: 1 } },
        access: { owners: [`telegram:${OWNER}`] },
        transcription: { baseUrl: stt.url, model: 'whisper-test', apiKeySecret: 'STT_KEY', pricePerMinuteUsd: 0.006 },
      },
    });
  });
  after(async () => { await h?.close(); await tg?.close(); await stt?.close(); });

  it('hands the agent the transcript of a voice note, keeps the audio in the inbox, audits the call without its text and counts its cost', async () => {
    stt.answer = () => ({ text: 'remember to buy oat milk', duration: 30 });
    const voice = Buffer.from('OggS a recorded voice note');
    const id = sendVoice(tg, voice);
    const reply = await tg.nextSent(OWNER);
    assert.match(reply.text, /remember to buy oat milk/, 'the agent answered the transcript');
    assert.ok(modelSaw(`[Voice note /workspace/inbox/voice-${id}.ogg, transcript: remember to buy oat milk]`), 'the model read the transcript beside the file');

    const call = stt.calls.at(-1)!;
    assert.equal(call.authorization, `Bearer ${stt.key}`);
    assert.equal(call.model, 'whisper-test');
    assert.equal(call.fileName, `voice-${id}.ogg`);
    assert.deepEqual(call.file, voice, 'the service got the audio as it was sent');

    tg.sendText({ from: OWNER, text: `run: sha256sum /workspace/inbox/voice-${id}.ogg` });
    assert.match((await tg.nextSent(OWNER)).text, new RegExp(sha(voice)), 'the audio file stays in the inbox');

    const records = readAuditLog(auditLogPath(h.home), { type: 'transcription' });
    const record = records.at(-1)!;
    assert.equal((record.data as any).ok, true);
    assert.equal((record.data as any).bytes, voice.length);
    assert.equal((record.data as any).seconds, 30);
    assert.ok(Math.abs((record.data as any).costUsd - 0.003) < 1e-9, 'half a minute at $0.006 a minute');
    assert.ok(!JSON.stringify(records).includes('oat milk'), 'the audit log never holds what was said');
    const conv = h.app.gateway.conversationFor({ channel: 'telegram', chat: String(OWNER), thread: '' });
    assert.ok(h.app.store.usage(conv.id).costUsd >= 0.003, 'the cost is in the conversation\'s usage, where the budgets and status read it');
  });

  it('keeps the service\'s key in the gateway: neither the container\'s environment nor the model requests hold it', async () => {
    // The key is searched for in two halves, so the command (kept in the engine's session file) does not match itself.
    const [head, tail] = [stt.key.slice(0, 8), stt.key.slice(8)];
    tg.sendText({ from: OWNER, text: `run: env; cat /proc/1/environ | tr "\\0" "\\n"; grep -rlsF "${head}""${tail}" / --exclude-dir=proc --exclude-dir=sys | sed "s/^/FOUND-IN /"; echo done-looking` });
    const reply = await tg.nextSent(OWNER);
    assert.match(reply.text, /done-looking/);
    assert.match(reply.text, /PATH=/, 'the environment was listed');
    assert.ok(!reply.text.includes(stt.key), reply.text);
    assert.doesNotMatch(reply.text, /FOUND-IN/, 'no file in the container holds the key');
    assert.ok(!JSON.stringify(h.fake.requests).includes(stt.key));
  });

  it('gives the agent a note when the service fails, and the turn still answers', async () => {
    stt.failNext(500);
    const before = stt.calls.length;
    const id = sendVoice(tg, Buffer.from('OggS another voice note'), 'listen to this');
    const reply = await tg.nextSent(OWNER);
    assert.match(reply.text, /^Echo: listen to this/);
    assert.equal(stt.calls.length, before + 1, 'the service was asked once');
    assert.ok(modelSaw(`listen to this\n\n[Voice note /workspace/inbox/voice-${id}.ogg: transcription failed (the transcription service answered 500); the audio file is here.]`));
    const failed = readAuditLog(auditLogPath(h.home), { type: 'transcription' }).at(-1)!;
    assert.equal((failed.data as any).ok, false);
  });
});

describe('voice notes without a transcription service', () => {
  let h: Harness;
  let tg: TelegramStandIn;
  const modelSaw = (text: string) => h.fake.requests.some((r) => JSON.stringify(r.body ?? '').includes(JSON.stringify(text).slice(1, -1)));

  before(async () => {
    tg = await TelegramStandIn.start();
    h = await startHarness({
      env: { TELEGRAM_BOT_TOKEN: tg.token, TRANSCRIPTION_API_KEY: 'sk-unused' },
      config: { channels: { telegram: { enabled: true, apiBaseUrl: tg.url, pollTimeoutSec: 1 } }, access: { owners: [`telegram:${OWNER}`] } },
    });
  });
  after(async () => { await h?.close(); await tg?.close(); });

  it('gives the agent the audio file and a note that transcription is off', async () => {
    const voice = Buffer.from('OggS untranscribed');
    const id = sendVoice(tg, voice);
    await tg.nextSent(OWNER);
    assert.ok(modelSaw(`[Voice note /workspace/inbox/voice-${id}.ogg: transcription is off (no transcription service is configured), so only the audio file is here.]`));
    tg.sendText({ from: OWNER, text: `run: sha256sum /workspace/inbox/voice-${id}.ogg` });
    assert.match((await tg.nextSent(OWNER)).text, new RegExp(sha(voice)));
    assert.equal(readAuditLog(auditLogPath(h.home), { type: 'transcription' }).length, 0, 'no service was called');
  });
});

describe('the transcription client (OpenAiTranscriber) against services that misbehave', () => {
  /** A local service answering each request with `handler`; returns its /v1 URL and a close. */
  async function service(handler: Parameters<typeof createServer>[1]) {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, close: () => { server.closeAllConnections(); server.close(); } };
  }
  const audio = { name: 'voice-1.ogg', data: Buffer.from('OggS') };

  it('gives up on a service that does not answer within the timeout', async () => {
    const s = await service(() => { /* never answers */ });
    try {
      const t = new OpenAiTranscriber({ baseUrl: s.url, model: 'm', apiKey: 'k', timeoutMs: 300 });
      await assert.rejects(t.transcribe(audio), { name: 'TranscriptionError', message: /did not answer within/ });
    } finally { s.close(); }
  });

  it('stops reading an answer over 1 MiB', async () => {
    const s = await service((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ text: 'x'.repeat(2 * 1024 * 1024) })); });
    try {
      const t = new OpenAiTranscriber({ baseUrl: s.url, model: 'm', timeoutMs: 10_000 });
      await assert.rejects(t.transcribe(audio), { name: 'TranscriptionError', message: /over 1048576 bytes/ });
    } finally { s.close(); }
  });

  it('does not follow a redirect, so the key goes nowhere but baseUrl', async () => {
    let followed = false;
    const elsewhere = await service((_req, res) => { followed = true; res.end('{"text":"x"}'); });
    const s = await service((_req, res) => { res.writeHead(307, { location: `${elsewhere.url}/audio/transcriptions` }).end(); });
    try {
      const t = new OpenAiTranscriber({ baseUrl: s.url, model: 'm', apiKey: 'sk-secret', timeoutMs: 10_000 });
      await assert.rejects(t.transcribe(audio), { name: 'TranscriptionError' });
      assert.equal(followed, false);
    } finally { s.close(); elsewhere.close(); }
  });

  it('says what a refused key means, without repeating what the service said', async () => {
    const s = await service((_req, res) => { res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"Incorrect API key provided: sk-se***et"}}'); });
    try {
      const t = new OpenAiTranscriber({ baseUrl: s.url, model: 'm', apiKey: 'sk-secret', timeoutMs: 10_000 });
      await assert.rejects(t.transcribe(audio), (err: Error) => err.message === 'the transcription service answered 401 (check the API key)');
    } finally { s.close(); }
  });
});

describe('a WhatsApp voice note with a transcription service (real Baileys socket, transcription stand-in, real containers)', { timeout: 180_000 }, () => {
  const FRIEND = '15552223333';
  let h: Harness;
  let wa: WhatsappStandIn;
  let stt: TranscriptionStandIn;

  before(async () => {
    wa = await WhatsappStandIn.start();
    stt = await TranscriptionStandIn.start();
    h = await startHarness({
      env: { STT_KEY: stt.key },
      config: { access: { owners: [`whatsapp:${FRIEND}`] }, transcription: { baseUrl: stt.url, model: 'whisper-test', apiKeySecret: 'STT_KEY' } },
    });
    await WhatsappStandIn.linkSession(sessionDir(join(h.home, 'channels', 'whatsapp')));
    const channel = new WhatsappChannel({
      config: WhatsappChannelConfig.parse({ enabled: true, apiBaseUrl: wa.url }), log: createLogger('silent'), makeSocket: wa.makeSocket, link: wa.link,
    });
    await h.app.gateway.startChannel(channel);
    await wa.waitForConnections(1);
    wa.open();
  });
  after(async () => { await h?.close(); await wa?.close(); await stt?.close(); });

  it('hands the agent the transcript of a push-to-talk note, the audio kept in the inbox', async () => {
    stt.answer = () => ({ text: 'call the plumber tomorrow', duration: 4 });
    const voice = Buffer.from('OggS a whatsapp voice note');
    const note = wa.sendMedia({ from: FRIEND, kind: 'voice', data: voice });
    const reply = await wa.nextSent(`${FRIEND}@s.whatsapp.net`);
    assert.match(reply.content.text ?? '', /call the plumber tomorrow/);
    assert.ok(h.fake.requests.some((r) => JSON.stringify(r.body ?? '').includes(`[Voice note /workspace/inbox/voice-${note.key.id}.ogg, transcript: call the plumber tomorrow]`)));
    const call = stt.calls.at(-1)!;
    assert.equal(call.authorization, `Bearer ${stt.key}`);
    assert.deepEqual(call.file, voice);
  });
});
