import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { McpServerSpec } from '../src/protocol/messages.ts';
import { connectMcpTools, type McpTools } from '../runner/src/mcp/index.ts';
import { claudeMcpServers } from '../runner/src/mcp/claude-servers.ts';
import { startMcpHttpServer, type McpHttpServer } from './support/mcp-http-server.ts';

/**
 * The built-in engine's MCP client, against real servers on this machine:
 * the stdio test server (test/support/mcp-echo-server.mjs, started as a
 * child process exactly as in a container) and a Streamable HTTP server
 * built from the MCP SDK's server classes.
 */
const ECHO = fileURLToPath(new URL('../../test/support/mcp-echo-server.mjs', import.meta.url));
const MCP_INDEX = new URL('../runner/src/mcp/index.js', import.meta.url).href;
const BUN = fileURLToPath(new URL('../../runner/node_modules/@oven/bun-linux-x64/bin/bun', import.meta.url));
const run = promisify(execFile);

const echo = (name: string, env: Record<string, string> = {}): McpServerSpec => ({ type: 'stdio', name, command: process.execPath, args: [ECHO], env });
const ctx = (signal = new AbortController().signal) => ({ cwd: '/', env: {}, signal });

describe('MCP tools for the built-in engine', () => {
  let cwd: string;
  let logs: string[];
  const log = (level: string, text: string) => { logs.push(`${level}: ${text}`); };
  const open: McpTools[] = [];
  const connect = async (specs: McpServerSpec[], env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: '/tmp', LANG: 'C.UTF-8' }) => {
    const mcp = await connectMcpTools(specs, { env, log, cwd });
    open.push(mcp);
    return mcp;
  };
  const tool = (mcp: McpTools, name: string) => {
    const t = mcp.tools.find((x) => x.def.name === name);
    assert.ok(t, `no tool ${name} among ${mcp.tools.map((x) => x.def.name).join(', ')}`);
    return t;
  };
  before(() => { cwd = realpathSync(mkdtempSync(join(tmpdir(), 'ncmcp-'))); });
  after(async () => {
    await Promise.all(open.map((m) => m.close()));
    rmSync(cwd, { recursive: true, force: true });
  });

  it('offers each tool of a stdio server as <server>__<tool> with the server\'s JSON schema', async () => {
    logs = [];
    const mcp = await connect([echo('echo')]);
    assert.deepEqual(mcp.tools.map((t) => t.def.name), ['echo__reverse', 'echo__fail', 'echo__picture', 'echo__sleep']);
    const reverse = tool(mcp, 'echo__reverse');
    assert.match(reverse.def.description, /Reverses a text/);
    assert.deepEqual(reverse.def.inputSchema, { type: 'object', properties: { text: { type: 'string', description: 'The text to reverse.' } }, required: ['text'] });
  });

  it('runs the server in the workspace with a minimal environment and its own variables, nothing else of the runner\'s', async () => {
    logs = [];
    process.env.NANOCLAW_TOKEN = 'runner-secret';
    try {
      const mcp = await connect([echo('echo', { ECHO_GREETING: 'hello' })], { PATH: process.env.PATH ?? '', HOME: '/tmp', NANOCLAW_TOKEN: 'engine-secret' });
      const out = await tool(mcp, 'echo__reverse').run({ text: 'abc' }, ctx());
      assert.equal(out.isError, undefined);
      assert.match(out.text, /^reversed: cba \(echo-mcp /);
      assert.match(out.text, /greeting=hello/);
      assert.match(out.text, new RegExp(`cwd=${cwd} `));
      assert.match(out.text, /token=unset/, 'neither the engine\'s nor the runner\'s own variables reach the server');
    } finally {
      delete process.env.NANOCLAW_TOKEN;
    }
  });

  it('marks an error result as an error and turns non-text content into a short note', async () => {
    const mcp = await connect([echo('echo')]);
    const failed = await tool(mcp, 'echo__fail').run({}, ctx());
    assert.deepEqual(failed, { text: 'the fail tool failed, as it always does', isError: true });
    const picture = await tool(mcp, 'echo__picture').run({}, ctx());
    assert.deepEqual(picture, { text: 'a picture:\n[image image/png, 8 bytes]' });
  });

  it('stops a call when the turn is interrupted, and the server keeps serving', async () => {
    const mcp = await connect([echo('echo')]);
    const stop = new AbortController();
    const call = tool(mcp, 'echo__sleep').run({ ms: 60_000 }, ctx(stop.signal));
    stop.abort();
    const out = await call;
    assert.equal(out.isError, true);
    assert.match(out.text, /interrupted/);
    assert.match((await tool(mcp, 'echo__reverse').run({ text: 'ok' }, ctx())).text, /^reversed: ko/);
  });

  it('reads every page of tools/list, but takes at most 100 tools from one server', async () => {
    logs = [];
    const mcp = await connect([echo('many', { ECHO_EXTRA_TOOLS: '150' })]);
    assert.equal(mcp.tools.length, 100);
    assert.equal(mcp.tools.at(-1)!.def.name, 'many__extra_95', 'past the first page of 50, names sanitised');
    assert.ok(logs.some((l) => /"many" lists more than 100 tools/.test(l)), logs.join('\n'));
  });

  it('leaves out a server that cannot start or fails at once, logs why, and keeps the others', async () => {
    logs = [];
    const mcp = await connect([
      { type: 'stdio', name: 'missing', command: '/nonexistent/mcp-server', args: [], env: {} },
      echo('broken', { ECHO_FAIL_START: '1' }),
      echo('echo'),
    ]);
    assert.deepEqual(mcp.tools.map((t) => t.def.name.split('__')[0]).filter((v, i, a) => a.indexOf(v) === i), ['echo']);
    assert.ok(logs.some((l) => /^warn: MCP server "missing" could not be used .*\/nonexistent\/mcp-server/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /^warn: MCP server "broken" could not be used/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /^warn: MCP server "broken": echo-mcp: told to fail at start/.test(l)), 'its stderr is in the log');
  });

  it('ends every server process on close', async () => {
    const mcp = await connectMcpTools([echo('one'), echo('two')], { env: { PATH: process.env.PATH ?? '' }, log: () => {}, cwd });
    const pids = await Promise.all(['one', 'two'].map(async (s) => Number(/pid=(\d+)/.exec((await tool(mcp, `${s}__reverse`).run({ text: 'x' }, ctx())).text)![1])));
    for (const pid of pids) assert.doesNotThrow(() => process.kill(pid, 0), 'running before close');
    await mcp.close();
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} is gone`);
  });

  describe('over Streamable HTTP', () => {
    let web: McpHttpServer;
    before(async () => { web = await startMcpHttpServer('127.0.0.1'); });
    after(async () => { await web?.close(); });

    it('lists and calls the tools of an HTTP server', async () => {
      const mcp = await connect([{ type: 'http', name: 'web', url: web.url }]);
      assert.deepEqual(mcp.tools.map((t) => t.def.name), ['web__reverse']);
      assert.deepEqual(await tool(mcp, 'web__reverse').run({ text: 'abc' }, ctx()), { text: 'reversed: cba (web-mcp)' });
      assert.deepEqual(web.calls, [{ tool: 'reverse', args: { text: 'abc' } }]);
    });

    it('leaves out an HTTP server that does not answer', async () => {
      logs = [];
      const mcp = await connect([{ type: 'http', name: 'gone', url: 'http://127.0.0.1:1/mcp' }]);
      assert.deepEqual(mcp.tools, []);
      assert.ok(logs.some((l) => /"gone" could not be used .*host is allowed/.test(l)), logs.join('\n'));
    });
  });

  it('loads no MCP or Claude library until a server is configured', async () => {
    const script = `
      import { registerHooks } from 'node:module';
      const loaded = [];
      registerHooks({ resolve(spec, context, next) { const r = next(spec, context); loaded.push(r.url); return r; } });
      const { connectMcpTools } = await import(${JSON.stringify(MCP_INDEX)});
      const none = await connectMcpTools([], { env: {}, log() {} });
      await none.close();
      console.log(JSON.stringify(loaded.filter((u) => u.includes('/node_modules/'))));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    assert.deepEqual(JSON.parse(stdout), []);
  });

  it('works the same under Bun, the runner\'s other runtime', { skip: !existsSync(BUN) && 'Bun is not installed in runner/node_modules' }, async () => {
    const script = `
      const { connectMcpTools } = await import(${JSON.stringify(MCP_INDEX)});
      const mcp = await connectMcpTools([${JSON.stringify(echo('echo'))}], { env: { PATH: process.env.PATH }, log() {}, cwd: ${JSON.stringify(cwd)} });
      const out = await mcp.tools.find((t) => t.def.name === 'echo__reverse').run({ text: 'bun' }, { cwd: '/', env: {}, signal: new AbortController().signal });
      await mcp.close();
      console.log(out.text);`;
    const { stdout } = await run(BUN, ['-e', script], { cwd: tmpdir() });
    assert.match(stdout, /^reversed: nub \(echo-mcp /);
  });
});

describe('MCP servers for the Claude engine', () => {
  it('maps stdio and HTTP servers to the SDK\'s entries, with a minimal environment and the tools always loaded', () => {
    const servers = claudeMcpServers([
      { type: 'stdio', name: 'echo', command: 'node', args: ['/mnt/mcp/echo.mjs'], env: { ECHO_GREETING: 'hi' } },
      { type: 'http', name: 'web', url: 'https://mcp.example.com/mcp' },
    ], { PATH: '/usr/bin', HOME: '/home/agent', LANG: 'C.UTF-8', HTTPS_PROXY: 'http://proxy', ANTHROPIC_API_KEY: 'token', NANOCLAW_TOKEN: 'x' });
    assert.deepEqual(servers, {
      echo: {
        type: 'stdio', command: 'node', args: ['/mnt/mcp/echo.mjs'], timeout: 120_000, alwaysLoad: true,
        env: { PATH: '/usr/bin', HOME: '/home/agent', LANG: 'C.UTF-8', HTTPS_PROXY: 'http://proxy', ECHO_GREETING: 'hi' },
      },
      web: { type: 'http', url: 'https://mcp.example.com/mcp', timeout: 120_000, alwaysLoad: true },
    });
  });
});
