/**
 * Which engine and providers a conversation runs, and what the gateway
 * refuses to start with: the config's layers, provider keys from the
 * environment, secrets.json or a key file, and the checks' messages.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApp } from '../src/app.ts';
import { ConfigSchema } from '../src/config/schema.ts';
import { Providers } from '../src/config/providers.ts';
import { Secrets } from '../src/config/secrets.ts';
import { agentPlan, configuredChains, mcpSpecs, planProblem } from '../src/core/agent-plan.ts';

describe('a conversation\'s engine, providers and MCP servers', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'nct-plan-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const config = () => ConfigSchema.parse({
    providers: {
      groq: { kind: 'openai', baseUrl: 'https://api.groq.com/openai/v1', model: 'llama', apiKeySecret: 'GROQ_API_KEY' },
      local: { kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2' },
      filed: { kind: 'openai', baseUrl: 'https://example.com/v1', model: 'm', apiKeyFile: join(dir, 'key.txt') },
    },
    mcp: { servers: { echo: { command: 'node', args: ['/mnt/x/echo.mjs'] }, web: { url: 'https://mcp.example.com/mcp' } } },
    agent: {
      engine: 'claude', providers: ['anthropic'], mcpServers: ['echo'],
      byChannel: { telegram: { engine: 'builtin', providers: ['groq', 'anthropic'] } },
      byConversation: { 'telegram:42': { providers: ['local'], mcpServers: [] } },
    },
  });

  it('lays the channel\'s, then the chat\'s, then the owner\'s /model choice over the config', () => {
    const c = config();
    assert.deepEqual(agentPlan(c, { channel: 'api', chat: 'x', agentChoice: null }), { engine: 'claude', providers: ['anthropic'], mcpServers: ['echo'] });
    assert.deepEqual(agentPlan(c, { channel: 'telegram', chat: '7', agentChoice: null }), { engine: 'builtin', providers: ['groq', 'anthropic'], mcpServers: ['echo'] });
    assert.deepEqual(agentPlan(c, { channel: 'telegram', chat: '42', agentChoice: null }), { engine: 'builtin', providers: ['local'], mcpServers: [] });
    assert.deepEqual(agentPlan(c, { channel: 'telegram', chat: '42', agentChoice: { engine: 'claude', providers: ['anthropic'] } }), { engine: 'claude', providers: ['anthropic'], mcpServers: [] });
    assert.deepEqual(configuredChains(c).map((x) => x.where), ['agent', 'agent.byChannel.telegram', 'agent.byConversation["telegram:42"]']);
  });

  it('reads each key from the environment, secrets.json or a key file, and says where a missing one was looked for', () => {
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ GROQ_API_KEY: 'gsk-from-file' }), { mode: 0o600 });
    writeFileSync(join(dir, 'key.txt'), 'sk-filed\nignored second line\n');
    const p = Providers.load(config(), new Secrets(join(dir, 'secrets.json'), { ANTHROPIC_API_KEY: 'sk-ant' }));
    assert.equal(p.get('anthropic')?.apiKey, 'sk-ant');
    assert.equal(p.get('groq')?.apiKey, 'gsk-from-file');
    assert.equal(p.get('filed')?.apiKey, 'sk-filed');
    assert.equal(p.get('local')?.apiKey, undefined);
    assert.equal(p.get('local')?.missingKey, undefined, 'a keyless provider is not missing one');
    const none = Providers.load(config(), new Secrets(join(dir, 'nothing.json'), {}));
    assert.match(none.get('groq')!.missingKey!, /GROQ_API_KEY is set neither in the environment nor in secrets.json/);
    assert.deepEqual(none.routes().map((r) => r.name).sort(), ['filed', 'local'], 'only usable providers are routed');
    assert.deepEqual(p.specs(['groq']), [{ name: 'groq', kind: 'openai', model: 'llama', contextTokens: 128_000, maxOutputTokens: 8192 }], 'no key, no address');
  });

  it('refuses a chain it cannot run, saying why', () => {
    const c = config();
    const p = Providers.load(c, new Secrets(join(dir, 'secrets.json'), { ANTHROPIC_API_KEY: 'sk-ant' }));
    assert.match(planProblem(c, p, { engine: 'builtin', providers: ['nope'], mcpServers: [] })!, /provider "nope" is not configured \(known: anthropic, groq, local, filed\)/);
    assert.match(planProblem(c, p, { engine: 'claude', providers: ['local'], mcpServers: [] })!, /the claude engine speaks only the Anthropic API/);
    assert.match(planProblem(c, p, { engine: 'builtin', providers: ['local'], mcpServers: ['ghost'] })!, /MCP server "ghost" is not configured/);
    assert.equal(planProblem(c, p, { engine: 'builtin', providers: ['local', 'anthropic'], mcpServers: ['echo', 'web'] }), undefined);
    assert.deepEqual(mcpSpecs(c, ['echo', 'web']), [
      { type: 'stdio', name: 'echo', command: 'node', args: ['/mnt/x/echo.mjs'], env: {} },
      { type: 'http', name: 'web', url: 'https://mcp.example.com/mcp' },
    ]);
    assert.throws(() => ConfigSchema.parse({ mcp: { servers: { nanoclaw: { command: 'x' } } } }), /taken by the host's own tools/);
  });

  it('starts without an Anthropic key when no chain needs one, and otherwise says what to do', async () => {
    const home = mkdtempSync(join(tmpdir(), 'nct-plan-home-'));
    try {
      await assert.rejects(startApp({ home, env: { PATH: process.env.PATH, NANOCLAW_LOG: 'silent' } }), /ANTHROPIC_API_KEY is not set\. .*configure another provider with the builtin engine/);
      writeFileSync(join(home, 'config.json'), JSON.stringify({
        providers: { local: { kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2' } },
        agent: { engine: 'claude', providers: ['local'] },
      }));
      await assert.rejects(startApp({ home, env: { PATH: process.env.PATH, NANOCLAW_LOG: 'silent' } }), /The agent configuration \(agent\) cannot run: the claude engine speaks only the Anthropic API/);
      // With the built-in engine and a keyless provider, the key checks pass: the start goes on to the container engine.
      writeFileSync(join(home, 'config.json'), JSON.stringify({
        providers: { local: { kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2' } },
        agent: { engine: 'builtin', providers: ['local'] }, container: { engine: 'podman', podmanSocket: join(home, 'no-such.sock') },
      }));
      await assert.rejects(startApp({ home, env: { PATH: process.env.PATH, NANOCLAW_LOG: 'silent' } }), /The podman engine does not answer/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
