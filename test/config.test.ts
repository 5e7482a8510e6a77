/**
 * Configuration: defaults, config.json, environment overrides, and errors
 * that name the field and where its bad value came from. The last tests run
 * the real CLI, as an operator would.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CHAT_CHANNEL_NAMES } from '../src/channels/registry.ts';
import { ConfigError, loadConfig } from '../src/config/load.ts';

/** The built CLI, next to this compiled test (dist/test -> dist/src). */
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Runs the CLI with only the given environment (plus PATH); kills it if it outlives `timeoutMs`. */
function cli(args: string[], env: Record<string, string>, timeoutMs = 20_000): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

describe('configuration', () => {
  let root: string;
  let n = 0;
  /** A fresh home folder, with `config` written as its config.json (a string is written as is). */
  const home = (config?: unknown) => {
    const dir = join(root, `home-${++n}`);
    mkdirSync(dir);
    if (config !== undefined) writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
    return dir;
  };

  before(() => { root = mkdtempSync(join(tmpdir(), 'ncf-')); });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** The ConfigError loadConfig throws, failing the test if it does not throw one. */
  const configError = (dir: string, env: NodeJS.ProcessEnv = {}): ConfigError => {
    try {
      loadConfig(dir, env);
    } catch (err) {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
      return err;
    }
    assert.fail('loadConfig accepted the configuration');
  };

  it('fills every option with its default when there is no config file and no environment', () => {
    const config = loadConfig(home(), {});
    // The chat channels' own sections are specified by their own tests; here: off by default.
    for (const name of CHAT_CHANNEL_NAMES) {
      assert.equal(config.channels[name].enabled, false, `${name} is off by default`);
      delete (config.channels as Record<string, unknown>)[name];
    }
    assert.deepEqual(config, {
      security: { profile: 'strict' },
      model: { baseUrl: 'https://api.anthropic.com', maxCallsInFlight: 2, maxRequestBytes: 32 * 1024 * 1024, timeoutSec: 600 },
      providers: {},
      mcp: { servers: {} },
      channels: { api: { enabled: true, host: '127.0.0.1', port: 7878, maxBodyBytes: 256 * 1024 }, terminal: { enabled: true }, plugins: [] },
      transcription: { baseUrl: '', model: 'whisper-1', apiKeySecret: 'TRANSCRIPTION_API_KEY', maxBytes: 25 * 1024 * 1024, timeoutSec: 60, pricePerMinuteUsd: 0 },
      attachments: { maxBytes: 25 * 1024 * 1024, maxBytesByChannel: {}, retentionDays: 30 },
      container: {
        engine: 'docker', podmanSocket: '', image: 'nanoclaw-agent:latest', runtime: 'runc', runnerRuntime: 'bun', memoryMb: 1024, cpus: 1, pidsLimit: 256, tmpfsMb: 256,
        maxRunning: 4, prestart: 1, idleTimeoutSec: 900, turnTimeoutSec: 600, turnAttempts: 3, extraMounts: [],
      },
      memory: { enabledByDefault: false },
      egress: { allow: [], allowPrivate: [], maxConnections: 32, maxBytesPerContainer: 1024 ** 3, idleTimeoutSec: 300 },
      access: { owners: [], groups: [], triggerWord: 'nanoclaw' },
      budget: { conversationTokensPerDay: 0, globalTokensPerDay: 0, conversationCostPerDayUsd: 0, globalCostPerDayUsd: 0, prices: {} },
      agent: { systemPrompt: '', engine: 'claude', providers: ['anthropic'], mcpServers: [], byChannel: {}, byConversation: {} },
      tools: { askTimeoutSec: 1800, outboxMaxFiles: 10 },
      tasks: { timezone: '', maxPerConversation: 50, minIntervalSec: 300 },
      dashboard: { enabled: true, idleHours: 12, maxAgeDays: 7 },
      delivery: { maxAttempts: 8, backoffMs: 1000, maxBackoffMs: 300_000 },
    });
  });

  it('takes values from config.json and keeps the defaults of the rest', () => {
    const config = loadConfig(home({
      channels: { api: { port: 9000 } },
      container: { maxRunning: 2, runtime: 'runsc' },
      memory: { enabledByDefault: true },
      agent: { systemPrompt: 'Be brief.' },
    }), {});
    assert.equal(config.channels.api.port, 9000);
    assert.equal(config.channels.api.host, '127.0.0.1');
    assert.equal(config.container.maxRunning, 2);
    assert.equal(config.container.runtime, 'runsc');
    assert.equal(config.container.memoryMb, 1024);
    assert.equal(config.memory.enabledByDefault, true);
    assert.equal(config.agent.systemPrompt, 'Be brief.');
  });

  it('lets environment variables win over config.json: numbers, booleans and strings', () => {
    const dir = home({ security: { profile: 'standard' }, container: { maxRunning: 3, image: 'from-file:1', cpus: 2 }, memory: { enabledByDefault: true }, channels: { api: { host: '127.0.0.2' } } });
    const config = loadConfig(dir, {
      NANOCLAW_CONTAINER_MAX_RUNNING: '7',
      NANOCLAW_CONTAINER_CPUS: '0.5',
      NANOCLAW_MEMORY_ENABLED_BY_DEFAULT: 'false',
      NANOCLAW_CONTAINER_IMAGE: 'from-env:2',
      NANOCLAW_CHANNELS_API_MAX_BODY_BYTES: '2048',
      NANOCLAW_AGENT_SYSTEM_PROMPT: 'From the environment.',
      NANOCLAW_CHANNELS_API_HOST: '', // empty means unset: the file's value stays
    });
    assert.equal(config.container.maxRunning, 7);
    assert.equal(config.container.cpus, 0.5);
    assert.equal(config.memory.enabledByDefault, false);
    assert.equal(config.container.image, 'from-env:2');
    assert.equal(config.channels.api.maxBodyBytes, 2048);
    assert.equal(config.agent.systemPrompt, 'From the environment.');
    assert.equal(config.channels.api.host, '127.0.0.2');
    assert.equal(loadConfig(dir, { NANOCLAW_MEMORY_ENABLED_BY_DEFAULT: '0' }).memory.enabledByDefault, false);
    assert.equal(loadConfig(home(), { NANOCLAW_MEMORY_ENABLED_BY_DEFAULT: 'TRUE' }).memory.enabledByDefault, true);
  });

  it('takes model prices from config.json or as JSON from the environment, and names a bad price', () => {
    const price = { input: 1, output: 2, cacheWrite: 1.25, cacheRead: 0.1 };
    assert.deepEqual(loadConfig(home({ budget: { prices: { 'acme-': price } } }), {}).budget.prices, { 'acme-': price });
    assert.deepEqual(loadConfig(home(), { NANOCLAW_BUDGET_PRICES: JSON.stringify({ '*': price }) }).budget.prices, { '*': price });
    const err = configError(home({ budget: { prices: { 'acme-': { input: 1, output: 2 } } } }));
    assert.match(err.message, /budget\.prices\.acme-\.cacheWrite/);
  });

  it('refuses a config that loosens the strict profile, naming the field; "standard" allows it', () => {
    const err = configError(home({ container: { memoryMb: 4096 } }));
    assert.match(err.message, /container\.memoryMb: 4096 is above the strict profile's ceiling of 1024/);
    assert.match(err.message, /security\.profile to "standard"/);
    const fromEnv = configError(home(), { NANOCLAW_EGRESS_ALLOW_PRIVATE: '10.0.0.0/8' });
    assert.match(fromEnv.message, /egress\.allowPrivate: .*\[from NANOCLAW_EGRESS_ALLOW_PRIVATE\]/);
    assert.equal(loadConfig(home({ security: { profile: 'standard' }, container: { memoryMb: 4096 } }), {}).container.memoryMb, 4096);
    assert.equal(loadConfig(home({ container: { memoryMb: 512 } }), {}).container.memoryMb, 512, 'tightening is always allowed');
  });

  it('rejects a config.json that is not JSON, naming the file', () => {
    const dir = home('{"container": {"maxRunning": 2,}}');
    const err = configError(dir);
    assert.ok(err.message.includes(join(dir, 'config.json')), err.message);
    assert.match(err.message, /not valid JSON/);
    assert.ok(err.cause instanceof SyntaxError, 'the parser\'s error is kept as the cause');
  });

  it('rejects a config.json that is JSON but not an object', () => {
    for (const text of ['[1, 2]', '"text"', '42', 'null']) {
      const dir = home(text);
      const err = configError(dir);
      assert.ok(err.message.includes(join(dir, 'config.json')), `${text}: ${err.message}`);
      assert.match(err.message, /JSON object/, text);
    }
  });

  it('names the field path and the file when config.json holds a wrong type', () => {
    const dir = home({ container: { maxRunning: 'lots' } });
    const err = configError(dir);
    assert.match(err.message, /container\.maxRunning/);
    assert.ok(err.message.includes(`[from ${join(dir, 'config.json')}]`), err.message);
  });

  it('names the field path and the environment variable when the bad value came from the environment', () => {
    const dir = home({ container: { maxRunning: 2 } });
    for (const [value, why] of [['lots', 'not a number'], ['0', 'under the minimum'], ['2.5', 'not an integer']]) {
      const err = configError(dir, { NANOCLAW_CONTAINER_MAX_RUNNING: value });
      assert.match(err.message, /container\.maxRunning/, why);
      assert.match(err.message, /\[from NANOCLAW_CONTAINER_MAX_RUNNING\]/, `${why}: ${err.message}`);
      assert.ok(!err.message.includes('config.json'), `${why}: the file is not blamed: ${err.message}`);
    }
    const bool = configError(home(), { NANOCLAW_MEMORY_ENABLED_BY_DEFAULT: 'yes' });
    assert.match(bool.message, /memory\.enabledByDefault.*\[from NANOCLAW_MEMORY_ENABLED_BY_DEFAULT\]/);
  });

  it('reports every bad field at once', () => {
    const err = configError(home({ channels: { api: { port: 70000 } }, container: { runtime: 'kata' } }), { NANOCLAW_CONTAINER_MEMORY_MB: '1' });
    assert.match(err.message, /channels\.api\.port/);
    assert.match(err.message, /container\.runtime/);
    assert.match(err.message, /container\.memoryMb.*NANOCLAW_CONTAINER_MEMORY_MB/);
  });

  it('rejects unknown keys and names them, in a section and at the top level', () => {
    const dir = home({ container: { maxRuning: 2 } });
    const err = configError(dir);
    assert.match(err.message, /maxRuning/);
    assert.match(err.message, /container/);
    assert.ok(err.message.includes(join(dir, 'config.json')), err.message);

    const top = configError(home({ modle: { baseUrl: 'http://x' } }));
    assert.match(top.message, /modle/);
  });

  it('points model.baseUrl at ANTHROPIC_BASE_URL, unless NANOCLAW_MODEL_BASE_URL is set', () => {
    assert.equal(loadConfig(home(), { ANTHROPIC_BASE_URL: 'http://127.0.0.1:8788' }).model.baseUrl, 'http://127.0.0.1:8788');
    const dir = home({ model: { baseUrl: 'http://from-file.example' } });
    assert.equal(loadConfig(dir, { ANTHROPIC_BASE_URL: 'http://127.0.0.1:8788' }).model.baseUrl, 'http://127.0.0.1:8788');
    assert.equal(loadConfig(dir, { ANTHROPIC_BASE_URL: 'http://127.0.0.1:8788', NANOCLAW_MODEL_BASE_URL: 'http://127.0.0.1:9999' }).model.baseUrl, 'http://127.0.0.1:9999');
    const err = configError(home(), { ANTHROPIC_BASE_URL: 'not a url' });
    assert.match(err.message, /model\.baseUrl.*\[from ANTHROPIC_BASE_URL\]/);
  });

  it('`nanoclaw config` lists every option with its value in effect and its environment variable', async () => {
    const dir = home({ channels: { api: { port: 9001 } } });
    const { code, stdout, stderr } = await cli(['config'], { NANOCLAW_HOME: dir, NANOCLAW_CONTAINER_MAX_RUNNING: '3' });
    assert.equal(code, 0, stderr);
    const expected: Array<[string, string, string]> = [
      ['model.baseUrl', '"https://api.anthropic.com"', 'NANOCLAW_MODEL_BASE_URL'],
      ['model.maxCallsInFlight', '2', 'NANOCLAW_MODEL_MAX_CALLS_IN_FLIGHT'],
      ['model.maxRequestBytes', '33554432', 'NANOCLAW_MODEL_MAX_REQUEST_BYTES'],
      ['model.timeoutSec', '600', 'NANOCLAW_MODEL_TIMEOUT_SEC'],
      ['providers', '{}', 'NANOCLAW_PROVIDERS'],
      ['mcp.servers', '{}', 'NANOCLAW_MCP_SERVERS'],
      ['channels.api.enabled', 'true', 'NANOCLAW_CHANNELS_API_ENABLED'],
      ['channels.api.host', '"127.0.0.1"', 'NANOCLAW_CHANNELS_API_HOST'],
      ['channels.api.port', '9001', 'NANOCLAW_CHANNELS_API_PORT'],
      ['channels.api.maxBodyBytes', '262144', 'NANOCLAW_CHANNELS_API_MAX_BODY_BYTES'],
      ['channels.terminal.enabled', 'true', 'NANOCLAW_CHANNELS_TERMINAL_ENABLED'],
      ['channels.plugins', '[]', 'NANOCLAW_CHANNELS_PLUGINS'],
      ['transcription.baseUrl', '""', 'NANOCLAW_TRANSCRIPTION_BASE_URL'],
      ['transcription.model', '"whisper-1"', 'NANOCLAW_TRANSCRIPTION_MODEL'],
      ['transcription.apiKeySecret', '"TRANSCRIPTION_API_KEY"', 'NANOCLAW_TRANSCRIPTION_API_KEY_SECRET'],
      ['transcription.maxBytes', '26214400', 'NANOCLAW_TRANSCRIPTION_MAX_BYTES'],
      ['transcription.timeoutSec', '60', 'NANOCLAW_TRANSCRIPTION_TIMEOUT_SEC'],
      ['transcription.pricePerMinuteUsd', '0', 'NANOCLAW_TRANSCRIPTION_PRICE_PER_MINUTE_USD'],
      ['attachments.maxBytes', '26214400', 'NANOCLAW_ATTACHMENTS_MAX_BYTES'],
      ['attachments.maxBytesByChannel', '{}', 'NANOCLAW_ATTACHMENTS_MAX_BYTES_BY_CHANNEL'],
      ['attachments.retentionDays', '30', 'NANOCLAW_ATTACHMENTS_RETENTION_DAYS'],
      ['container.engine', '"docker"', 'NANOCLAW_CONTAINER_ENGINE'],
      ['container.podmanSocket', '""', 'NANOCLAW_CONTAINER_PODMAN_SOCKET'],
      ['container.image', '"nanoclaw-agent:latest"', 'NANOCLAW_CONTAINER_IMAGE'],
      ['container.runtime', '"runc"', 'NANOCLAW_CONTAINER_RUNTIME'],
      ['container.runnerRuntime', '"bun"', 'NANOCLAW_CONTAINER_RUNNER_RUNTIME'],
      ['container.memoryMb', '1024', 'NANOCLAW_CONTAINER_MEMORY_MB'],
      ['container.cpus', '1', 'NANOCLAW_CONTAINER_CPUS'],
      ['container.pidsLimit', '256', 'NANOCLAW_CONTAINER_PIDS_LIMIT'],
      ['container.tmpfsMb', '256', 'NANOCLAW_CONTAINER_TMPFS_MB'],
      ['container.maxRunning', '3', 'NANOCLAW_CONTAINER_MAX_RUNNING'],
      ['container.prestart', '1', 'NANOCLAW_CONTAINER_PRESTART'],
      ['container.idleTimeoutSec', '900', 'NANOCLAW_CONTAINER_IDLE_TIMEOUT_SEC'],
      ['container.turnTimeoutSec', '600', 'NANOCLAW_CONTAINER_TURN_TIMEOUT_SEC'],
      ['container.turnAttempts', '3', 'NANOCLAW_CONTAINER_TURN_ATTEMPTS'],
      ['container.extraMounts', '[]', 'NANOCLAW_CONTAINER_EXTRA_MOUNTS'],
      ['security.profile', '"strict"', 'NANOCLAW_SECURITY_PROFILE'],
      ['memory.enabledByDefault', 'false', 'NANOCLAW_MEMORY_ENABLED_BY_DEFAULT'],
      ['egress.allow', '[]', 'NANOCLAW_EGRESS_ALLOW'],
      ['egress.allowPrivate', '[]', 'NANOCLAW_EGRESS_ALLOW_PRIVATE'],
      ['egress.maxConnections', '32', 'NANOCLAW_EGRESS_MAX_CONNECTIONS'],
      ['egress.maxBytesPerContainer', '1073741824', 'NANOCLAW_EGRESS_MAX_BYTES_PER_CONTAINER'],
      ['egress.idleTimeoutSec', '300', 'NANOCLAW_EGRESS_IDLE_TIMEOUT_SEC'],
      ['access.owners', '[]', 'NANOCLAW_ACCESS_OWNERS'],
      ['access.groups', '[]', 'NANOCLAW_ACCESS_GROUPS'],
      ['access.triggerWord', '"nanoclaw"', 'NANOCLAW_ACCESS_TRIGGER_WORD'],
      ['budget.conversationTokensPerDay', '0', 'NANOCLAW_BUDGET_CONVERSATION_TOKENS_PER_DAY'],
      ['budget.globalTokensPerDay', '0', 'NANOCLAW_BUDGET_GLOBAL_TOKENS_PER_DAY'],
      ['budget.conversationCostPerDayUsd', '0', 'NANOCLAW_BUDGET_CONVERSATION_COST_PER_DAY_USD'],
      ['budget.globalCostPerDayUsd', '0', 'NANOCLAW_BUDGET_GLOBAL_COST_PER_DAY_USD'],
      ['budget.prices', '{}', 'NANOCLAW_BUDGET_PRICES'],
      ['agent.systemPrompt', '""', 'NANOCLAW_AGENT_SYSTEM_PROMPT'],
      ['agent.engine', '"claude"', 'NANOCLAW_AGENT_ENGINE'],
      ['agent.providers', '["anthropic"]', 'NANOCLAW_AGENT_PROVIDERS'],
      ['agent.mcpServers', '[]', 'NANOCLAW_AGENT_MCP_SERVERS'],
      ['agent.byChannel', '{}', 'NANOCLAW_AGENT_BY_CHANNEL'],
      ['agent.byConversation', '{}', 'NANOCLAW_AGENT_BY_CONVERSATION'],
      ['tools.askTimeoutSec', '1800', 'NANOCLAW_TOOLS_ASK_TIMEOUT_SEC'],
      ['tools.outboxMaxFiles', '10', 'NANOCLAW_TOOLS_OUTBOX_MAX_FILES'],
      ['tasks.timezone', '""', 'NANOCLAW_TASKS_TIMEZONE'],
      ['tasks.maxPerConversation', '50', 'NANOCLAW_TASKS_MAX_PER_CONVERSATION'],
      ['tasks.minIntervalSec', '300', 'NANOCLAW_TASKS_MIN_INTERVAL_SEC'],
      ['dashboard.enabled', 'true', 'NANOCLAW_DASHBOARD_ENABLED'],
      ['dashboard.idleHours', '12', 'NANOCLAW_DASHBOARD_IDLE_HOURS'],
      ['dashboard.maxAgeDays', '7', 'NANOCLAW_DASHBOARD_MAX_AGE_DAYS'],
      ['delivery.maxAttempts', '8', 'NANOCLAW_DELIVERY_MAX_ATTEMPTS'],
      ['delivery.backoffMs', '1000', 'NANOCLAW_DELIVERY_BACKOFF_MS'],
      ['delivery.maxBackoffMs', '300000', 'NANOCLAW_DELIVERY_MAX_BACKOFF_MS'],
    ];
    const lines = stdout.split('\n');
    for (const [path, value, env] of expected) {
      const line = lines.find((l) => l.startsWith(`${path} = `));
      assert.ok(line, `no line for ${path} in:\n${stdout}`);
      assert.equal(line, `${path} = ${value}   (${env})`);
    }
    // Every option the command prints is one we know of: nothing undocumented slipped in or out.
    assert.equal(lines.filter((l) => / = .*\(NANOCLAW_[A-Z_]+\)$/.test(l) && !/^channels\.(telegram|slack|discord|whatsapp|email|gmail)\./.test(l)).length, expected.length, stdout);
    // Each option is followed by its description.
    const i = lines.findIndex((l) => l.startsWith('container.maxRunning = '));
    assert.match(lines[i + 1], /^\s+\S/, 'a description line follows');
  });

  it('`nanoclaw config` fails with the field named when the configuration is broken', async () => {
    const dir = home({ container: { maxRunning: 'lots' } });
    const { code, stdout, stderr } = await cli(['config'], { NANOCLAW_HOME: dir });
    assert.notEqual(code, 0);
    assert.equal(stdout, '');
    assert.match(stderr, /container\.maxRunning/);
  });

  it('`nanoclaw start` refuses a broken config.json: non-zero exit, the field and file in stderr', async () => {
    const dir = home({ container: { maxRunning: 'lots' } });
    const { code, signal, stderr } = await cli(['start'], { NANOCLAW_HOME: dir, ANTHROPIC_API_KEY: 'sk-ant-test-key', NANOCLAW_CHANNELS_API_PORT: '0', NANOCLAW_LOG: 'silent' });
    assert.equal(signal, null, `start did not exit on its own; stderr:\n${stderr}`);
    assert.notEqual(code, 0);
    assert.match(stderr, /container\.maxRunning/);
    assert.ok(stderr.includes(join(dir, 'config.json')), stderr);
    assert.doesNotMatch(stderr, /ANTHROPIC_API_KEY/);
  });

  it('`nanoclaw start` refuses a bad environment override, naming the variable', async () => {
    const dir = home();
    const { code, signal, stderr } = await cli(['start'], {
      NANOCLAW_HOME: dir, ANTHROPIC_API_KEY: 'sk-ant-test-key', NANOCLAW_CHANNELS_API_PORT: '0', NANOCLAW_LOG: 'silent', NANOCLAW_CONTAINER_MAX_RUNNING: '0',
    });
    assert.equal(signal, null, `start did not exit on its own; stderr:\n${stderr}`);
    assert.notEqual(code, 0);
    assert.match(stderr, /container\.maxRunning.*NANOCLAW_CONTAINER_MAX_RUNNING/);
  });
});
