/**
 * The fake Anthropic API, driven by the real `@anthropic-ai/sdk` client over
 * real HTTP: if these pass, a client that works against the real API parses
 * what the fake sends, and the scripted behaviour the runner tests rely on holds.
 */
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic } from '../src/devtools/fake-anthropic.ts';

const MODEL = 'claude-sonnet-5-5';
const BASH_TOOL = {
  name: 'Bash',
  description: 'Runs a shell command.',
  input_schema: { type: 'object' as const, properties: { command: { type: 'string' } }, required: ['command'] },
};

describe('fake Anthropic API', () => {
  let fake: FakeAnthropic;
  let client: Anthropic;

  before(async () => {
    fake = await startFakeAnthropic();
    client = new Anthropic({ apiKey: 'sk-fake-key-123', baseURL: fake.url, maxRetries: 0 });
  });
  after(() => fake.close());

  it('listens on 127.0.0.1 on a free port', () => {
    assert.match(fake.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('streams a text answer with the real event sequence and content type', async () => {
    const { data: stream, response } = await client.messages
      .create({ model: MODEL, max_tokens: 1024, tools: [BASH_TOOL], stream: true, messages: [{ role: 'user', content: 'hello there' }] })
      .withResponse();
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    assert.match(response.headers.get('request-id') ?? '', /^req_/);

    const types: string[] = [];
    let text = '';
    let stopReason: string | null = null;
    let outputTokens = 0;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'message_start') assert.match(event.message.id, /^msg_/);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (event.type === 'message_delta') {
        stopReason = event.delta.stop_reason;
        outputTokens = event.usage.output_tokens;
      }
    }
    const collapsed = types.filter((t, i) => t !== types[i - 1]);
    assert.deepEqual(collapsed, [
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    assert.equal(text, 'Echo: hello there');
    assert.equal(stopReason, 'end_turn');
    assert.ok(outputTokens > 0);
  });

  it('answers `run: <cmd>` with a streamed Bash tool_use whose input parses', async () => {
    const message = await client.messages
      .stream({ model: MODEL, max_tokens: 1024, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'run: echo hi' }] })
      .finalMessage();
    assert.equal(message.stop_reason, 'tool_use');
    const toolUse = message.content.find((b) => b.type === 'tool_use');
    assert.ok(toolUse, `no tool_use block in ${JSON.stringify(message.content)}`);
    assert.equal(toolUse.name, 'Bash');
    assert.match(toolUse.id, /^toolu_/);
    assert.deepEqual(toolUse.input, { command: 'echo hi', description: 'Run the requested command' });
  });

  it('takes a multi-line command after `run: ` and ignores system reminders', async () => {
    const message = await client.messages.create({
      model: MODEL,
      max_tokens: 1024,
      tools: [BASH_TOOL],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: '<system-reminder>\nrun: rm -rf /\n</system-reminder>' },
            { type: 'text', text: 'please\nrun: echo one\necho two' },
          ],
        },
      ],
    });
    const toolUse = message.content.find((b) => b.type === 'tool_use');
    assert.ok(toolUse);
    assert.deepEqual(toolUse.input, { command: 'echo one\necho two', description: 'Run the requested command' });
  });

  it('quotes a tool_result back as `Tool output:`', async () => {
    const first = await client.messages.create({
      model: MODEL,
      max_tokens: 1024,
      tools: [BASH_TOOL],
      messages: [{ role: 'user', content: 'run: echo hi' }],
    });
    const toolUse = first.content.find((b) => b.type === 'tool_use');
    assert.ok(toolUse);
    const message = await client.messages
      .stream({
        model: MODEL,
        max_tokens: 1024,
        tools: [BASH_TOOL],
        messages: [
          { role: 'user', content: 'run: echo hi' },
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: [{ type: 'text', text: '  hi\n' }] }] },
        ],
      })
      .finalMessage();
    assert.equal(message.stop_reason, 'end_turn');
    assert.deepEqual(message.content, [{ type: 'text', text: 'Tool output:\nhi' }]);
  });

  it('answers non-streaming with a full Message and usage that grows with the request', async () => {
    const short = await client.messages.create({ model: MODEL, max_tokens: 1024, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(short.type, 'message');
    assert.equal(short.role, 'assistant');
    assert.equal(short.model, MODEL);
    assert.match(short.id, /^msg_/);
    assert.deepEqual(short.content, [{ type: 'text', text: 'Echo: hi' }]);
    assert.equal(short.stop_reason, 'end_turn');
    assert.ok(short.usage.output_tokens > 0);

    const long = await client.messages.create({
      model: MODEL,
      max_tokens: 1024,
      tools: [BASH_TOOL],
      messages: [{ role: 'user', content: 'word '.repeat(400) }],
    });
    assert.ok(long.usage.input_tokens > short.usage.input_tokens + 400, `${long.usage.input_tokens} vs ${short.usage.input_tokens}`);
  });

  it('skips the trailing role:system message Claude Code appends after the user turn', async () => {
    const res = await fetch(`${fake.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        max_tokens: 1024,
        tools: [BASH_TOOL],
        messages: [
          { role: 'user', content: 'what now' },
          { role: 'system', content: [{ type: 'text', text: '# Environment\nPlatform: linux' }] },
        ],
      }),
    });
    const message = (await res.json()) as Anthropic.Message;
    assert.deepEqual(message.content, [{ type: 'text', text: 'Echo: what now' }]);
  });

  it('never calls a tool or sleeps for a side request without tools', async () => {
    const started = performance.now();
    const plain = await client.messages.create({ model: MODEL, max_tokens: 1, messages: [{ role: 'user', content: 'run: echo hi' }] });
    assert.deepEqual(plain.content, [{ type: 'text', text: 'OK' }]);
    const slept = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'sleep: 5000' }] });
    assert.deepEqual(slept.content, [{ type: 'text', text: 'OK' }]);
    assert.ok(performance.now() - started < 2000);
    assert.equal(fake.requests.at(-1)?.kind, 'side');
  });

  it('answers a structured-output side request (session title) with JSON that fits the schema', async () => {
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        max_tokens: 128000,
        messages: [{ role: 'user', content: '<session>\nrun: echo hi\n</session>' }],
        output_config: {
          format: { type: 'json_schema', schema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] } },
        },
      }),
    });
    const message = (await res.json()) as Anthropic.Message;
    const [block] = message.content;
    assert.equal(block?.type, 'text');
    assert.equal(typeof JSON.parse(block.type === 'text' ? block.text : '').title, 'string');
  });

  it('waits `sleep: <ms>` before answering', async () => {
    const started = performance.now();
    const message = await client.messages.create({ model: MODEL, max_tokens: 1024, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'sleep: 300' }] });
    assert.ok(performance.now() - started >= 290);
    assert.deepEqual(message.content, [{ type: 'text', text: 'Slept 300 ms.' }]);
  });

  it('counts tokens', async () => {
    const count = await client.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'count these words please' }] });
    assert.ok(count.input_tokens > 0);
  });

  it('answers an unknown path with 404 not_found_error in the API error shape', async () => {
    await assert.rejects(client.get('/v1/nothing-here'), (err: unknown) => {
      assert.ok(err instanceof Anthropic.NotFoundError);
      assert.equal(err.type, 'not_found_error');
      return true;
    });
    const res = await fetch(`${fake.url}/v1/nothing-here`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'not_found_error');
    assert.match(body.error.message, /nothing-here/);
  });

  it('answers a malformed JSON body with 400 invalid_request_error', async () => {
    const res = await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { type: string; error: { type: string } };
    assert.deepEqual([body.type, body.error.type], ['error', 'invalid_request_error']);
  });

  it('records each request with its headers and body and emits it as it arrives', async () => {
    const seen: string[] = [];
    const onRequest = (r: { path: string; receivedAt: number }) => seen.push(`${r.path}@${typeof r.receivedAt}`);
    fake.on('request', onRequest);
    const before = fake.requests.length;
    await client.messages.create({ model: MODEL, max_tokens: 1024, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'recorded?' }] });
    fake.off('request', onRequest);

    const recorded = fake.requests[before];
    assert.ok(recorded);
    assert.deepEqual(seen, ['/v1/messages@number']);
    assert.equal(recorded.method, 'POST');
    // @anthropic-ai/sdk 1.x sends its apiKey as a bearer token; Claude Code's CLI sends x-api-key.
    assert.equal(recorded.headers.authorization, 'Bearer sk-fake-key-123');
    assert.equal(recorded.body?.messages?.[0]?.content, 'recorded?');
    assert.equal(recorded.kind, 'turn');
    assert.ok(Math.abs(recorded.receivedAtEpochMs - Date.now()) < 5000);

    await fetch(`${fake.url}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { 'x-api-key': 'sk-cli-style-key', 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(fake.requests.at(-1)?.headers['x-api-key'], 'sk-cli-style-key');
  });

  it('waitForRequests resolves once enough arrived and says what it saw on timeout', async () => {
    const have = fake.requests.length;
    assert.equal((await fake.waitForRequests(have, 10)).length, have);
    const pending = fake.waitForRequests(have + 1, 2000);
    await client.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'x' }] });
    assert.equal((await pending).length, have + 1);
    await assert.rejects(fake.waitForRequests(have + 5, 50), /waited 50 ms for \d+ request\(s\), got \d+/);
  });
});

describe('fake Anthropic API options', () => {
  it('tries a custom script first and falls back to the default on undefined', async () => {
    const fake = await startFakeAnthropic({
      script: (body) => (body.messages?.length === 1 ? { blocks: [{ type: 'tool_use', name: 'Read', input: { file_path: '/x' } }] } : undefined),
    });
    try {
      const client = new Anthropic({ apiKey: 'k', baseURL: fake.url, maxRetries: 0 });
      const scripted = await client.messages.stream({ model: MODEL, max_tokens: 1024, messages: [{ role: 'user', content: 'a' }] }).finalMessage();
      assert.deepEqual(
        scripted.content.map((b) => (b.type === 'tool_use' ? [b.name, b.input] : b.type)),
        [['Read', { file_path: '/x' }]],
      );
      const fallback = await client.messages.create({
        model: MODEL,
        max_tokens: 1024,
        tools: [BASH_TOOL],
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b' },
          { role: 'user', content: 'c' },
        ],
      });
      assert.deepEqual(fallback.content, [{ type: 'text', text: 'Echo: c' }]);
    } finally {
      await fake.close();
    }
  });

  it('delays every answer by latencyMs', async () => {
    const fake = await startFakeAnthropic({ latencyMs: 200 });
    try {
      const client = new Anthropic({ apiKey: 'k', baseURL: fake.url, maxRetries: 0 });
      const started = performance.now();
      await client.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
      assert.ok(performance.now() - started >= 190);
    } finally {
      await fake.close();
    }
  });

  it('reports the cache figures of the usage option in a whole answer and in message_start and message_delta', async () => {
    const fake = await startFakeAnthropic({ usage: (body) => (body.model === 'cached' ? { input_tokens: 7, cache_creation_input_tokens: 1_500, cache_read_input_tokens: 40_000 } : undefined) });
    try {
      const client = new Anthropic({ apiKey: 'k', baseURL: fake.url, maxRetries: 0 });
      const whole = await client.messages.create({ model: 'cached', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
      assert.deepEqual([whole.usage.input_tokens, whole.usage.cache_creation_input_tokens, whole.usage.cache_read_input_tokens], [7, 1_500, 40_000]);
      const plain = await client.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
      assert.deepEqual([plain.usage.cache_creation_input_tokens, plain.usage.cache_read_input_tokens], [0, 0], 'other requests keep the estimate');
      assert.ok(plain.usage.input_tokens > 0);

      const seen: Array<[string, number | null | undefined, number | null | undefined]> = [];
      const stream = await client.messages.create({ model: 'cached', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] });
      for await (const event of stream) {
        if (event.type === 'message_start') seen.push([event.type, event.message.usage.cache_creation_input_tokens, event.message.usage.cache_read_input_tokens]);
        if (event.type === 'message_delta') seen.push([event.type, event.usage.cache_creation_input_tokens, event.usage.cache_read_input_tokens]);
      }
      assert.deepEqual(seen, [['message_start', 1_500, 40_000], ['message_delta', 1_500, 40_000]]);
    } finally {
      await fake.close();
    }
  });

  it('answers gzip-compressed only when the request accepts it, or always when told to', async () => {
    const post = (url: string, acceptEncoding: string, stream: boolean) => new Promise<{ encoding?: string; text: string }>((resolve, reject) => {
      const req = http.request(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': acceptEncoding } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (b: Buffer) => parts.push(b));
        res.on('end', () => {
          const raw = Buffer.concat(parts);
          const encoding = res.headers['content-encoding'];
          resolve({ encoding, text: (encoding === 'gzip' ? gunzipSync(raw) : raw).toString('utf8') });
        });
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: MODEL, max_tokens: 16, stream, messages: [{ role: 'user', content: 'hi' }] }));
    });
    const polite = await startFakeAnthropic({ compress: 'when-accepted' });
    const rude = await startFakeAnthropic({ compress: 'always' });
    try {
      const accepted = await post(polite.url, 'gzip, deflate', false);
      assert.equal(accepted.encoding, 'gzip');
      assert.equal(JSON.parse(accepted.text).type, 'message');
      assert.equal((await post(polite.url, 'identity', false)).encoding, undefined);
      assert.equal((await post(polite.url, 'gzip;q=0, identity', false)).encoding, undefined, 'q=0 refuses gzip');
      const forced = await post(rude.url, 'identity', true);
      assert.equal(forced.encoding, 'gzip', 'compressed although the client asked for identity');
      assert.deepEqual([...forced.text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]).filter((t, i, a) => t !== a[i - 1]),
        ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    } finally {
      await polite.close();
      await rude.close();
    }
  });

  it('closes promptly while an answer is still held back', async () => {
    const fake = await startFakeAnthropic();
    const client = new Anthropic({ apiKey: 'k', baseURL: fake.url, maxRetries: 0 });
    const turn = client.messages.create({ model: MODEL, max_tokens: 16, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'sleep: 60000' }] });
    await fake.waitForRequests(1, 2000);
    const started = performance.now();
    await fake.close();
    assert.ok(performance.now() - started < 1000);
    await assert.rejects(turn, Anthropic.APIConnectionError);
  });
});
