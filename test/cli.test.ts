import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cli } from './support/cli.ts';
import { startHarness, REAL_KEY, type Harness } from './support/harness.ts';

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
    const text = await cli(['status'], env);
    assert.match(text.stdout, new RegExp(`token: +${h.app.token}`));
    assert.match(text.stdout, /api:cli-status +container nanoclaw-/);
  });

  it('doctor: passes every check against a working set-up', async () => {
    const { code, stdout } = await cli(['doctor'], env);
    assert.match(stdout, /\u2714 engine: Docker Engine/);
    assert.match(stdout, /\u2714 agent image: nanoclaw-agent:latest/);
    assert.match(stdout, /\u2714 model endpoint: http:\/\/127\.0\.0\.1:\d+ answered 200/);
    assert.match(stdout, /All checks passed/);
    assert.equal(code, 0);
  });

  it('doctor: names what is wrong and how to fix it', async () => {
    const { code, stdout } = await cli(['doctor'], { ...env, ANTHROPIC_API_KEY: '', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', NANOCLAW_CONTAINER_MAX_RUNNING: 'lots' });
    assert.equal(code, 1);
    assert.match(stdout, /\u2718 config: .*container\.maxRunning.*NANOCLAW_CONTAINER_MAX_RUNNING/s);
    assert.match(stdout, /\u2718 model key: ANTHROPIC_API_KEY is not set\n +fix: export ANTHROPIC_API_KEY/);
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
