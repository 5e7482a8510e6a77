import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { cli } from './support/cli.ts';
import { startHarness, REAL_KEY, type Harness } from './support/harness.ts';
import { freePort } from './support/gateway-process.ts';
import { startKeyGate } from './support/key-gate.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../src/devtools/fake-openai.ts';

describe('the nanoclaw command', () => {
  let h: Harness;
  let env: Record<string, string>;
  before(async () => {
    h = await startHarness();
    env = { NANOCLAW_HOME: h.home, ANTHROPIC_API_KEY: REAL_KEY, ANTHROPIC_BASE_URL: h.fake.url };
  });
  after(async () => { await h?.close(); });

  it('chat: a terminal conversation runs a command in its container and prints the reply', async () => {
    const { code, stdout } = await cli(['chat'], env, 'run: echo from-the-terminal\n');
    assert.equal(code, 0);
    assert.match(stdout, /connected \(conversation c-[0-9a-f]{20}\)/);
    assert.match(stdout, /\[Bash\] echo from-the-terminal/);
    assert.match(stdout, /agent> Tool output:\nfrom-the-terminal/);
  });

  it('chat: says how to start the gateway when none is running', async () => {
    const { code, stderr } = await cli(['chat'], { ...env, NANOCLAW_HOME: '/nonexistent-nanoclaw-home' });
    assert.equal(code, 1);
    assert.match(stderr, /no gateway is running .*`nanoclaw start`/);
  });

  it('dashboard: prints a single-use login link on the install\'s own name; --sessions lists the browser, --revoke-all signs it out', async () => {
    const { code, stdout } = await cli(['dashboard', '--print'], env);
    assert.equal(code, 0);
    const link = /http:\/\/(nanoclaw-[a-z0-9]{10}\.localhost:(\d+))\/dash\/login#code=([A-Za-z0-9_-]{43})/.exec(stdout);
    assert.ok(link, stdout);
    assert.equal(link[2], new URL(h.app.http.url).port);
    const login = () => new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ code: link[3] });
      const req = http.request(`${h.app.http.url}/dash/api/login`, {
        method: 'POST', headers: { host: link[1], origin: `http://${link[1]}`, 'content-type': 'application/json', 'content-length': body.length },
      }, (res) => { res.resume(); resolve(res.statusCode!); });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(await login(), 200);
    assert.equal(await login(), 401, 'the link works once');
    assert.match((await cli(['dashboard', '--sessions'], env)).stdout, /^[0-9a-f]{12} +signed in /m);
    assert.match((await cli(['dashboard', '--revoke-all'], env)).stdout, /Signed out 1 dashboard session;/);
    assert.equal((await cli(['dashboard', '--sessions'], env)).stdout, 'No dashboard sessions.\n');
    const none = await cli(['dashboard'], { ...env, NANOCLAW_HOME: '/nonexistent-nanoclaw-home' });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /the gateway is not running: start it with `nanoclaw start`/);
  });

  it('status: prints the API address, the token and each conversation with its container', async () => {
    await h.ask('cli-status', 'hello');
    const { code, stdout } = await cli(['status', '--json'], env);
    assert.equal(code, 0);
    const status = JSON.parse(stdout);
    assert.equal(status.token, h.app.token);
    assert.equal(status.gateway.url, h.app.http.url);
    const conv = status.conversations.find((c: any) => c.chat === 'cli-status');
    assert.match(conv.container, /^nanoclaw-[0-9a-f]{10}$/);
    assert.ok(conv.usage.outputTokens > 0);
    assert.deepEqual(conv.agent, { engine: 'claude', providers: ['anthropic'], mcpServers: [] });
    const text = await cli(['status'], env);
    assert.match(text.stdout, new RegExp(`token: +${h.app.token}`));
    assert.match(text.stdout, /api:cli-status +container nanoclaw-\S+ +claude engine, anthropic +memory off/);
  });

  it('doctor: passes every check against a working set-up', async () => {
    const { code, stdout } = await cli(['doctor'], env);
    assert.match(stdout, /\u2714 engine: Docker Engine/);
    assert.match(stdout, /\u2714 agent image: nanoclaw-agent:latest/);
    assert.match(stdout, /\u2714 provider anthropic key: ANTHROPIC_API_KEY in the environment/);
    assert.match(stdout, /\u2714 provider anthropic endpoint: http:\/\/127\.0\.0\.1:\d+ answered 200/);
    assert.match(stdout, /\u2714 agent: claude engine with anthropic/);
    assert.ok(!stdout.includes(REAL_KEY), 'the key is never printed');
    assert.match(stdout, /All checks passed/);
    assert.equal(code, 0);
  });

  it('doctor: names what is wrong and how to fix it', async () => {
    const badConfig = await cli(['doctor'], { ...env, NANOCLAW_CONTAINER_MAX_RUNNING: 'lots' });
    assert.equal(badConfig.code, 1);
    assert.match(badConfig.stdout, /\u2718 config: .*container\.maxRunning.*NANOCLAW_CONTAINER_MAX_RUNNING/s);
    const { code, stdout } = await cli(['doctor'], { ...env, ANTHROPIC_API_KEY: '', ANTHROPIC_BASE_URL: `http://127.0.0.1:${await freePort()}` });
    assert.equal(code, 1);
    assert.match(stdout, /\u2718 provider anthropic key: ANTHROPIC_API_KEY is not set.*\n +fix: export ANTHROPIC_API_KEY/);
    assert.match(stdout, /\u2718 provider anthropic endpoint: http:\/\/127\.0\.0\.1:\d+ unreachable .*\n +fix: start the server/);
    assert.match(stdout, /\u2718 agent: provider "anthropic" has no API key/);
  });

  describe('doctor: each provider a chain uses', () => {
    let openai: FakeOpenAI;
    let gate: Awaited<ReturnType<typeof startKeyGate>>;
    const OPENAI_KEY = 'sk-standin-right-0123456789';
    // One provider per test, as the builtin engine's only choice (environment overrides; no file is written).
    const doctorWith = (provider: object, extra: Record<string, string> = {}) => cli(['doctor'], {
      ...env, NANOCLAW_PROVIDERS: JSON.stringify({ standin: provider }), NANOCLAW_AGENT_ENGINE: 'builtin', NANOCLAW_AGENT_PROVIDERS: 'standin', ...extra,
    });
    before(async () => {
      openai = await startFakeOpenAI();
      gate = await startKeyGate(openai.url, OPENAI_KEY);
    });
    after(async () => { await gate?.close(); await openai?.close(); });

    it('an OpenAI-compatible provider whose key works: both checks pass', async () => {
      const { code, stdout } = await doctorWith({ kind: 'openai', baseUrl: gate.baseUrl, model: 'fake-gpt', apiKeySecret: 'STANDIN_API_KEY' }, { STANDIN_API_KEY: OPENAI_KEY });
      assert.match(stdout, /\u2714 provider standin key: STANDIN_API_KEY in the environment/);
      assert.match(stdout, /\u2714 provider standin endpoint: http:\/\/127\.0\.0\.1:\d+\/v1 answered 200; it serves fake-gpt/);
      assert.match(stdout, /\u2714 agent: builtin engine with standin/);
      assert.ok(!stdout.includes(OPENAI_KEY), 'the key is never printed');
      assert.match(stdout, /All checks passed/);
      assert.equal(code, 0);
      assert.equal(openai.requests.at(-1)?.headers.authorization, `Bearer ${OPENAI_KEY}`);
    });

    it('a wrong key: the endpoint check says the key was refused and where it came from', async () => {
      const { code, stdout } = await doctorWith({ kind: 'openai', baseUrl: gate.baseUrl, model: 'fake-gpt', apiKeySecret: 'STANDIN_API_KEY' }, { STANDIN_API_KEY: 'sk-wrong' });
      assert.equal(code, 1);
      assert.match(stdout, /\u2718 provider standin endpoint: http:\/\/127\.0\.0\.1:\d+\/v1 answered 401: the key was refused \(Incorrect API key provided\.\)\n +fix: check STANDIN_API_KEY in the environment/);
    });

    it('a keyless local server only has to answer', async () => {
      const asked = openai.requests.length;
      const { code, stdout } = await doctorWith({ kind: 'openai', baseUrl: openai.baseUrl, model: 'fake-gpt' });
      assert.match(stdout, /\u2714 provider standin key: none configured/);
      assert.match(stdout, /\u2714 provider standin endpoint: .* answered 200/);
      assert.equal(code, 0);
      assert.equal(openai.requests.length, asked + 1);
      assert.equal(openai.requests.at(-1)?.headers.authorization, undefined);
    });

    it('an unreachable server fails with a fix line; a provider no chain uses gets a line of its own', async () => {
      const port = await freePort();
      const { code, stdout } = await cli(['doctor'], {
        ...env, NANOCLAW_AGENT_ENGINE: 'builtin', NANOCLAW_AGENT_PROVIDERS: 'gone',
        NANOCLAW_PROVIDERS: JSON.stringify({ gone: { kind: 'openai', baseUrl: `http://127.0.0.1:${port}/v1`, model: 'llama3.2' }, spare: { kind: 'openai', baseUrl: openai.baseUrl, model: 'fake-gpt' } }),
      });
      assert.equal(code, 1);
      assert.match(stdout, new RegExp(`\u2718 provider gone endpoint: http://127\\.0\\.0\\.1:${port}/v1 unreachable \\(.*ECONNREFUSED.*\\)\n +fix: start the server \\(Ollama: \`ollama serve\`.*providers\\.gone\\.baseUrl`));
      assert.match(stdout, /\u2714 provider spare: configured, not used by any chain/);
    });

    it('a chain that cannot run is a failed check naming its place in the config', async () => {
      const { code, stdout } = await cli(['doctor'], { ...env, NANOCLAW_AGENT_BY_CHANNEL: JSON.stringify({ telegram: { engine: 'builtin', providers: ['nowhere'] } }) });
      assert.equal(code, 1);
      assert.match(stdout, /\u2714 agent: claude engine with anthropic/);
      assert.match(stdout, /\u2718 agent\.byChannel\.telegram: provider "nowhere" is not configured .*\n +fix: correct agent\.byChannel\.telegram in /);
    });
  });

  it('memory log: shows each recorded change to a conversation\'s memory', async () => {
    await h.ask('cli-mem', '/memory on');
    await h.ask('cli-mem', 'run: echo kept > /memory/fact.txt');
    const { code, stdout } = await cli(['memory', 'log', 'cli-mem'], env);
    assert.equal(code, 0);
    assert.match(stdout, /turn \d+: run: echo kept/);
    assert.match(stdout, /fact\.txt \| 1 \+/);
    const none = await cli(['memory', 'log', 'cli-never'], env);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no persistent memory/);
  });

  it('demo: the quick start\'s offline demo runs a command in a hardened container and cleans up', async () => {
    const { code, stdout, stderr } = await cli(['demo'], { NANOCLAW_LOG: 'warn' });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /uid=61000\(agent\)/);
    assert.match(stdout, /Read-only file system/);
    assert.match(stdout, /real key: absent/);
    assert.match(stdout, /internet: NanoClaw egress proxy: example\.com:80 is not on this conversation's allowlist/);
    assert.match(stdout, /containers left for this demo: 0/);
  });
});
