#!/usr/bin/env node
// A minimal MCP server over stdio for tests, with nothing outside node:*, so
// it runs inside the agent container from a mounted folder (the image has
// node, the repo's node_modules are not there). Newline-delimited JSON-RPC:
// initialize, notifications/initialized, ping, tools/list (paged when
// ECHO_EXTRA_TOOLS asks for more tools) and tools/call.
//
//   reverse {text}  ->  "reversed: <text reversed> (echo-mcp pid=<pid> uid=<uid> cwd=<cwd> greeting=<ECHO_GREETING> token=<set|unset>)"
//   fail {}         ->  an error result (isError) saying so
//   picture {}      ->  a text part and an image part
//   sleep {ms}      ->  answers after ms milliseconds
//
// ECHO_FAIL_START=1 makes it exit before answering anything; every line it
// reads is also written to stderr as "echo-mcp got <method>".
import { createInterface } from 'node:readline';

const PAGE = 50;
const extra = Number(process.env.ECHO_EXTRA_TOOLS ?? 0);
if (process.env.ECHO_FAIL_START === '1') {
  process.stderr.write('echo-mcp: told to fail at start\n');
  process.exit(3);
}

const tools = [
  {
    name: 'reverse',
    description: 'Reverses a text. The answer names this server, so a caller can tell it ran.',
    inputSchema: { type: 'object', properties: { text: { type: 'string', description: 'The text to reverse.' } }, required: ['text'] },
  },
  { name: 'fail', description: 'Always fails.', inputSchema: { type: 'object', properties: {} } },
  { name: 'picture', description: 'Answers with a text and a tiny image.', inputSchema: { type: 'object', properties: {} } },
  { name: 'sleep', description: 'Answers after a while.', inputSchema: { type: 'object', properties: { ms: { type: 'number' } } } },
  ...Array.from({ length: extra }, (_, i) => ({ name: `extra.${i}`, description: `Extra tool ${i}.`, inputSchema: { type: 'object', properties: {} } })),
];

function call(name, args) {
  if (name === 'reverse') {
    const text = String(args?.text ?? '');
    const marker = `echo-mcp pid=${process.pid} uid=${process.getuid?.()} cwd=${process.cwd()} greeting=${process.env.ECHO_GREETING ?? 'none'} token=${process.env.NANOCLAW_TOKEN ? 'set' : 'unset'}`;
    return { content: [{ type: 'text', text: `reversed: ${[...text].reverse().join('')} (${marker})` }] };
  }
  if (name === 'fail') return { content: [{ type: 'text', text: 'the fail tool failed, as it always does' }], isError: true };
  if (name === 'picture') return { content: [{ type: 'text', text: 'a picture:' }, { type: 'image', mimeType: 'image/png', data: 'iVBORw0KGgo=' }] };
  if (name === 'sleep') return new Promise((resolve) => setTimeout(() => resolve({ content: [{ type: 'text', text: 'slept' }] }), Number(args?.ms ?? 0)));
  if (tools.some((t) => t.name === name)) return { content: [{ type: 'text', text: `${name} ran` }] };
  return { content: [{ type: 'text', text: `no tool named ${name}` }], isError: true };
}

function answer(msg) {
  switch (msg.method) {
    case 'initialize':
      return {
        protocolVersion: typeof msg.params?.protocolVersion === 'string' ? msg.params.protocolVersion : '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'echo', version: '1.0.0' },
      };
    case 'ping': return {};
    case 'tools/list': {
      const start = Number(msg.params?.cursor ?? 0) || 0;
      const page = tools.slice(start, start + PAGE);
      return start + PAGE < tools.length ? { tools: page, nextCursor: String(start + PAGE) } : { tools: page };
    }
    case 'tools/call': return call(msg.params?.name, msg.params?.arguments);
    default: return undefined;
  }
}

const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  let msg;
  try { msg = JSON.parse(line); } catch { return send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } }); }
  process.stderr.write(`echo-mcp got ${msg.method ?? 'a response'}\n`);
  if (msg.id === undefined || msg.id === null || !msg.method) return; // a notification or a response
  void Promise.resolve(answer(msg)).then((result) => {
    if (result === undefined) send({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: `method not found: ${msg.method}` } });
    else send({ jsonrpc: '2.0', id: msg.id, result });
  });
});
