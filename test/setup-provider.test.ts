import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config/load.ts';
import { Providers } from '../src/config/providers.ts';
import { Secrets } from '../src/config/secrets.ts';
import { startFakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../src/devtools/fake-openai.ts';
import { cli } from './support/cli.ts';
import { startKeyGate } from './support/key-gate.ts';

const KEY = 'sk-standin-0123456789abcdef';

describe('nanoclaw setup provider', () => {
  let fake: FakeOpenAI;
  const homes: string[] = [];
  const newHome = () => { const h = mkdtempSync(join(tmpdir(), 'ncsp-')); homes.push(h); return h; };
  const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
  const modelsAsked = () => fake.requests.filter((r) => r.kind === 'models');
  before(async () => { fake = await startFakeOpenAI(); });
  after(async () => {
    await fake?.close();
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });

  it('stores a key piped on stdin in secrets.json (mode 0600), the provider in config.json, and checks the endpoint with it', async () => {
    const home = newHome();
    const { code, stdout, stderr } = await cli(['setup', 'provider', '--name', 'standin', '--kind', 'openai', '--base-url', fake.baseUrl, '--model', 'fake-gpt'],
      { NANOCLAW_HOME: home }, `${KEY}\n`);
    assert.equal(code, 0, stderr);
    assert.deepEqual(readJson(join(home, 'config.json')).providers.standin, { kind: 'openai', baseUrl: fake.baseUrl, model: 'fake-gpt', apiKeySecret: 'STANDIN_API_KEY' });
    assert.deepEqual(readJson(join(home, 'secrets.json')), { STANDIN_API_KEY: KEY });
    assert.equal(statSync(join(home, 'secrets.json')).mode & 0o777, 0o600);
    assert.match(stdout, /\u2714 standin: http:\/\/127\.0\.0\.1:\d+\/v1 answered 200; it serves fake-gpt/);
    assert.equal(modelsAsked().at(-1)?.headers.authorization, `Bearer ${KEY}`);
    assert.match(stdout, /\/model builtin standin/);
    assert.ok(!stdout.includes(KEY) && !stderr.includes(KEY), 'the key is never printed');
    // The gateway finds the key where setup put it.
    const providers = Providers.load(loadConfig(home, {}), new Secrets(join(home, 'secrets.json'), {}));
    assert.equal(providers.get('standin')?.apiKey, KEY);
    assert.equal(providers.check(['standin']), undefined);
  });

  it('--anthropic: the Messages API, checked with count_tokens and the key in x-api-key', async () => {
    const anthropic = await startFakeAnthropic();
    try {
      const home = newHome();
      const { code, stdout, stderr } = await cli(['setup', 'provider', '--anthropic', '--name', 'claude-direct', '--base-url', anthropic.url], { NANOCLAW_HOME: home }, KEY);
      assert.equal(code, 0, stderr);
      assert.deepEqual(readJson(join(home, 'config.json')).providers['claude-direct'],
        { kind: 'anthropic', baseUrl: anthropic.url, model: 'claude-sonnet-4-5', apiKeySecret: 'CLAUDE_DIRECT_API_KEY', contextTokens: 200000 });
      assert.match(stdout, /\u2714 claude-direct: http:\/\/127\.0\.0\.1:\d+ answered 200/);
      const asked = anthropic.requests.at(-1);
      assert.equal(asked?.path, '/v1/messages/count_tokens');
      assert.equal(asked?.headers['x-api-key'], KEY);
      assert.equal(asked?.body?.model, 'claude-sonnet-4-5');
    } finally {
      await anthropic.close();
    }
  });

  it('keeps everything else in config.json and updates a provider in place', async () => {
    const home = newHome();
    const file = join(home, 'config.json');
    writeFileSync(file, JSON.stringify({
      container: { maxRunning: 3 },
      providers: { standin: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'old', apiKeyFile: '/nowhere', prices: { input: 1, output: 2 } } },
      agent: { systemPrompt: 'Be brief.' },
    }));
    const { code, stdout, stderr } = await cli(['setup', 'provider', '--name', 'standin', '--kind', 'openai', '--base-url', fake.baseUrl, '--model', 'fake-gpt', '--key-from-env', 'MY_KEY'],
      { NANOCLAW_HOME: home, MY_KEY: KEY });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /Updated provider "standin"/);
    assert.deepEqual(readJson(file), {
      container: { maxRunning: 3 },
      providers: { standin: { kind: 'openai', baseUrl: fake.baseUrl, model: 'fake-gpt', apiKeySecret: 'STANDIN_API_KEY', prices: { input: 1, output: 2 } } },
      agent: { systemPrompt: 'Be brief.' },
    });
    assert.deepEqual(readJson(join(home, 'secrets.json')), { STANDIN_API_KEY: KEY });
  });

  it('--ollama: the local server at 127.0.0.1:11434/v1, no key, model llama3.2', async () => {
    const home = newHome();
    const { code, stderr } = await cli(['setup', 'provider', '--ollama', '--no-check'], { NANOCLAW_HOME: home });
    assert.equal(code, 0, stderr);
    assert.deepEqual(readJson(join(home, 'config.json')).providers.ollama, { kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2' });
    assert.equal(existsSync(join(home, 'secrets.json')), false);
  });

  it('a keyless server is asked without a key, and a model it does not serve is named with the ones it does', async () => {
    const home = newHome();
    const served = await cli(['setup', 'provider', '--ollama', '--base-url', fake.baseUrl, '--model', 'fake-gpt'], { NANOCLAW_HOME: home });
    assert.equal(served.code, 0, served.stderr);
    assert.match(served.stdout, /\u2714 ollama: .* answered 200; it serves fake-gpt/);
    assert.equal(modelsAsked().at(-1)?.headers.authorization, undefined);

    const missing = await cli(['setup', 'provider', '--ollama', '--base-url', fake.baseUrl], { NANOCLAW_HOME: home });
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /\u2718 ollama: .* does not serve the model "llama3\.2" \(it lists fake-gpt\)\n +fix: /);
    assert.match(missing.stdout, /The provider is saved as given/);
    assert.equal(readJson(join(home, 'config.json')).providers.ollama.model, 'llama3.2');
  });

  it('takes the one model a local server lists when none is given (--vllm)', async () => {
    const home = newHome();
    const { code, stdout, stderr } = await cli(['setup', 'provider', '--vllm', '--base-url', fake.baseUrl], { NANOCLAW_HOME: home });
    assert.equal(code, 0, stderr);
    assert.equal(readJson(join(home, 'config.json')).providers.vllm.model, 'fake-gpt');
    assert.match(stdout, /\u2714 vllm: /);
  });

  it('--use makes it the builtin engine\'s first choice, keeping the rest of the chain', async () => {
    const home = newHome();
    writeFileSync(join(home, 'config.json'), JSON.stringify({ agent: { providers: ['anthropic'] } }));
    const { code, stdout, stderr } = await cli(['setup', 'provider', '--ollama', '--base-url', fake.baseUrl, '--model', 'fake-gpt', '--name', 'local', '--use'],
      { NANOCLAW_HOME: home, ANTHROPIC_API_KEY: 'sk-ant-x' });
    assert.equal(code, 0, stderr);
    assert.deepEqual(readJson(join(home, 'config.json')).agent, { engine: 'builtin', providers: ['local', 'anthropic'] });
    assert.match(stdout, /builtin engine with "local" first/);
  });

  it('a refused key is reported with what to do, and exits 1', async () => {
    const gate = await startKeyGate(fake.url, 'sk-the-right-one');
    try {
      const home = newHome();
      const { code, stdout } = await cli(['setup', 'provider', '--openai', '--name', 'gated', '--base-url', gate.baseUrl, '--model', 'fake-gpt'], { NANOCLAW_HOME: home }, 'sk-a-wrong-one\n');
      assert.equal(code, 1);
      assert.match(stdout, /\u2718 gated: http:\/\/127\.0\.0\.1:\d+\/v1 answered 401: the key was refused \(Incorrect API key provided\.\)\n +fix: check GATED_API_KEY in .*secrets\.json/);
      assert.equal(gate.refused, 1);
    } finally {
      await gate.close();
    }
  });

  it('refuses a bad name, a URL that is not http(s), an unknown kind and a missing key, and saves nothing', async () => {
    const home = newHome();
    const cases: Array<[string[], RegExp]> = [
      [['--name', 'Groq!', '--kind', 'openai', '--base-url', fake.baseUrl, '--model', 'm', '--local'], /"Groq!" cannot be a provider name: use 1 to 32 of a-z, 0-9 and "-"/],
      [['--name', 'a'.repeat(33), '--ollama'], /cannot be a provider name/],
      [['--name', 'x', '--kind', 'openai', '--base-url', 'ftp://example.com/v1', '--model', 'm', '--local'], /"ftp:\/\/example\.com\/v1" is not an http\(s\) URL/],
      [['--name', 'x', '--kind', 'openai', '--base-url', 'not a url', '--model', 'm', '--local'], /"not a url" is not a URL/],
      [['--name', 'x', '--kind', 'gemini', '--base-url', fake.baseUrl, '--model', 'm', '--local'], /unknown kind "gemini": use --kind openai .* or --kind anthropic/],
      [['--groq'], /no key: pipe it on stdin .*--key-from-env VAR.*--local/],
      [['--groq', '--key-from-env', 'NOT_SET_ANYWHERE'], /NOT_SET_ANYWHERE is empty or not set/],
      [['--groq', '--ollama'], /choose one preset, not --groq and --ollama/],
      [['--name', 'x', '--kind', 'openai', '--model', 'm', '--local'], /a base URL is needed: --base-url/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await cli(['setup', 'provider', ...args], { NANOCLAW_HOME: home });
      assert.equal(code, 1, args.join(' '));
      assert.match(stderr, message);
    }
    assert.equal(existsSync(join(home, 'config.json')), false);
    assert.equal(existsSync(join(home, 'secrets.json')), false);
  });

  it('`setup <channel>` still reaches the channels, and refuses provider flags', async () => {
    const home = newHome();
    const unknown = await cli(['setup', 'nosuch'], { NANOCLAW_HOME: home });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown channel "nosuch"/);
    const mixed = await cli(['setup', 'telegram', '--ollama'], { NANOCLAW_HOME: home });
    assert.equal(mixed.code, 1);
    assert.match(mixed.stderr, /--ollama is for `nanoclaw setup provider`/);
  });
});
