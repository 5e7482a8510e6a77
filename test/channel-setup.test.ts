/**
 * `nanoclaw setup <channel>` and the secrets it writes, run as the real
 * command against the Telegram Bot API stand-in: credentials are checked
 * with the service before anything is saved, stored with mode 0600 apart
 * from config.json, and the channel is enabled; a bad token saves nothing.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Secrets, SecretsError } from '../src/config/secrets.ts';
import { openDatabase } from '../src/store/database.ts';
import { cli } from './support/cli.ts';
import { TelegramStandIn } from './support/telegram-standin.ts';

describe('nanoclaw setup <channel> and secrets.json', () => {
  let tg: TelegramStandIn;
  let root: string;
  let n = 0;
  const home = () => join(root, `home-${++n}`);

  before(async () => {
    // Tokens shaped as BotFather's, so the set-up's pattern check lets them through to the service.
    tg = await TelegramStandIn.start({ token: `123456789:AAE${'x'.repeat(32)}` });
    root = mkdtempSync(join(tmpdir(), 'ncs-'));
  });
  after(async () => { await tg?.close(); rmSync(root, { recursive: true, force: true }); });

  it('checks the token with Telegram, then stores it (0600) and enables the channel', async () => {
    const dir = home();
    const { code, stdout, stderr } = await cli(['setup', 'telegram', '--option', `apiBaseUrl=${tg.url}`], { NANOCLAW_HOME: dir, TELEGRAM_BOT_TOKEN: tg.token });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /BotFather/, 'the steps are shown');
    assert.ok(tg.count('getMe') >= 1, 'the token was checked with the service');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(config.channels.telegram.enabled, true);
    assert.equal(config.channels.telegram.apiBaseUrl, tg.url);
    assert.ok(!JSON.stringify(config).includes(tg.token), 'the token is not in config.json');
    const secrets = join(dir, 'secrets.json');
    assert.equal(statSync(secrets).mode & 0o777, 0o600);
    assert.equal(JSON.parse(readFileSync(secrets, 'utf8')).TELEGRAM_BOT_TOKEN, tg.token);
  });

  it('saves nothing when the service refuses the token, and says what to do', async () => {
    const dir = home();
    const { code, stderr } = await cli(['setup', 'telegram', '--option', `apiBaseUrl=${tg.url}`], { NANOCLAW_HOME: dir, TELEGRAM_BOT_TOKEN: `987654321:AAE${'y'.repeat(32)}` });
    assert.notEqual(code, 0);
    assert.match(stderr, /Nothing was saved/);
    assert.ok(!existsSync(join(dir, 'secrets.json')));
    assert.ok(!existsSync(join(dir, 'config.json')));
  });

  it('refuses an unknown channel and a missing token with what to do', async () => {
    const unknown = await cli(['setup', 'icq'], { NANOCLAW_HOME: home() });
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /unknown channel "icq".*telegram, slack, discord/);
    const missing = await cli(['setup', 'telegram'], { NANOCLAW_HOME: home() });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /TELEGRAM_BOT_TOKEN is needed/);
  });

  it('reads secrets from the environment first, and refuses a secrets file others can read', () => {
    const dir = mkdtempSync(join(root, 'sec-'));
    const file = join(dir, 'secrets.json');
    new Secrets(file).set({ SLACK_BOT_TOKEN: 'xoxb-from-file' });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(new Secrets(file).get('SLACK_BOT_TOKEN'), 'xoxb-from-file');
    assert.equal(new Secrets(file, { SLACK_BOT_TOKEN: 'xoxb-from-env' }).get('SLACK_BOT_TOKEN'), 'xoxb-from-env');
    chmodSync(file, 0o644);
    assert.throws(() => new Secrets(file).get('SLACK_BOT_TOKEN'), (err: Error) => err instanceof SecretsError && /chmod 600/.test(err.message));
    writeFileSync(file, '{"A": 1}', { mode: 0o600 });
    chmodSync(file, 0o600);
    assert.throws(() => new Secrets(file).get('A'), /JSON object of strings/);
  });
  it('pair add approves a sender who has not written yet (mail never answers strangers with a code)', async () => {
    const dir = home();
    mkdirSync(dir, { recursive: true });
    openDatabase(join(dir, 'nanoclaw.db')).close();
    const added = await cli(['pair', 'add', 'email:bob@example.com'], { NANOCLAW_HOME: dir });
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /approved email:bob@example\.com/);
    const list = await cli(['pair', 'list'], { NANOCLAW_HOME: dir });
    assert.match(list.stdout, /^email:bob@example\.com {2}approved$/m);
    assert.match((await cli(['pair', 'add', 'email:bob@example.com'], { NANOCLAW_HOME: dir })).stdout, /already approved/);
    assert.match((await cli(['pair', 'add', 'bob'], { NANOCLAW_HOME: dir })).stderr, /expected channel:sender/);
  });
});
