/**
 * A chat channel's library is loaded only when the channel is enabled: a
 * gateway started in a fresh process with no chat channel has none of
 * grammY, the Slack SDK or discord.js in its module cache, and one with only
 * Telegram enabled has grammY and neither of the others.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startFakeAnthropic, type FakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { TelegramStandIn } from './support/telegram-standin.ts';

const APP = fileURLToPath(new URL('../src/app.js', import.meta.url));

/** Starts a gateway in a new Node process and returns which chat libraries its module cache holds. */
function librariesLoaded(home: string, env: Record<string, string>): Promise<string[]> {
  const script = `
    import Module from 'node:module';
    const { startApp } = await import(${JSON.stringify(APP)});
    const app = await startApp({ home: ${JSON.stringify(home)}, env: process.env });
    const libs = new Set(Object.keys(Module._cache).map((k) => /node_modules\\/(grammy|discord\\.js|@slack\\/[a-z-]+)\\//.exec(k)?.[1]).filter(Boolean));
    await app.stop();
    process.stdout.write(JSON.stringify([...libs].sort()));
    process.exit(0);`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

describe('chat channel libraries are loaded only when enabled', () => {
  let fake: FakeAnthropic;
  let tg: TelegramStandIn;
  let root: string;
  before(async () => {
    fake = await startFakeAnthropic();
    tg = await TelegramStandIn.start();
    root = mkdtempSync(join(tmpdir(), 'ncl-'));
  });
  after(async () => { await tg?.close(); await fake?.close(); rmSync(root, { recursive: true, force: true }); });

  const base = () => ({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: fake.url, NANOCLAW_CHANNELS_API_PORT: '0', NANOCLAW_CONTAINER_PRESTART: '0', NANOCLAW_LOG: 'silent' });

  it('loads none of them for a gateway without chat channels', async () => {
    assert.deepEqual(await librariesLoaded(join(root, 'none'), base()), []);
  });

  it('loads grammY, and only grammY, when only Telegram is enabled', async () => {
    const libs = await librariesLoaded(join(root, 'telegram'), {
      ...base(), NANOCLAW_CHANNELS_TELEGRAM_ENABLED: 'true', NANOCLAW_CHANNELS_TELEGRAM_API_BASE_URL: tg.url, TELEGRAM_BOT_TOKEN: tg.token,
    });
    assert.deepEqual(libs, ['grammy']);
  });
});
