/**
 * The OpenAI Chat Completions stand-in over real HTTP, read with plain fetch:
 * the shapes OpenAI-compatible clients parse (a `chat.completion`, its
 * streamed chunks, the usage chunk only when asked for, `[DONE]`), the shared
 * script's rules through the chat format, and the failures it can inject.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../src/devtools/fake-openai.ts';

const TOOLS = [{ type: 'function', function: { name: 'read_file', description: 'Reads a file.', parameters: { type: 'object', properties: { path: { type: 'string' } } } } }];

async function post(fake: FakeOpenAI, body: unknown): Promise<Response> {
  return fetch(`${fake.baseUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: JSON.stringify(body) });
}

/** The JSON of each `data:` frame, `[DONE]` as a string. */
async function frames(res: Response): Promise<unknown[]> {
  const text = await res.text();
  return text.split('\n\n').filter((f) => f.startsWith('data: ')).map((f) => (f.slice(6) === '[DONE]' ? '[DONE]' : JSON.parse(f.slice(6))));
}

describe('fake OpenAI API', () => {
  let fake: FakeOpenAI;
  before(async () => {
    fake = await startFakeOpenAI({ fail: (body) => (body.messages?.at(-1)?.content === 'please fail' ? { kind: 'quota' } : undefined) });
  });
  after(() => fake.close());

  it('answers a chat request without stream as one chat.completion, echoing the user', async () => {
    const res = await post(fake, { model: 'gpt-x', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello' }], tools: TOOLS });
    assert.equal(res.status, 200);
    const body = await res.json() as { object: string; model: string; choices: Array<{ message: { content: string }; finish_reason: string }>; usage: { prompt_tokens: number } };
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.model, 'gpt-x');
    assert.equal(body.choices[0].message.content, 'Echo: hello');
    assert.equal(body.choices[0].finish_reason, 'stop');
    assert.ok(body.usage.prompt_tokens > 0);
    assert.equal(fake.requests.at(-1)?.headers.authorization, 'Bearer sk-test');
    assert.equal(fake.requests.at(-1)?.kind, 'turn');
  });

  it('streams a tool call in pieces, and the usage chunk only when include_usage asks for it', async () => {
    const ask = { model: 'gpt-x', stream: true, messages: [{ role: 'user', content: 'tool: read_file {"path":"/workspace/some/long/path.txt"}' }], tools: TOOLS };
    const plain = await frames(await post(fake, ask));
    assert.equal(plain.at(-1), '[DONE]');
    assert.ok(plain.every((f) => f === '[DONE]' || !('usage' in (f as object))), 'no usage field at all when not asked');
    const argPieces = plain.flatMap((f) => (f as { choices?: Array<{ delta: { tool_calls?: Array<{ function: { arguments?: string } }> } }> }).choices?.[0]?.delta.tool_calls ?? []);
    assert.ok(argPieces.length >= 3, `arguments in pieces, got ${argPieces.length}`);
    assert.equal(argPieces.map((p) => p.function.arguments ?? '').join(''), '{"path":"/workspace/some/long/path.txt"}');
    const finish = plain.flatMap((f) => (f as { choices?: Array<{ finish_reason: string | null }> }).choices ?? []).map((c) => c.finish_reason).filter(Boolean);
    assert.deepEqual(finish, ['tool_calls']);

    const withUsage = await frames(await post(fake, { ...ask, stream_options: { include_usage: true } }));
    const last = withUsage.at(-2) as { choices: unknown[]; usage: { prompt_tokens: number; completion_tokens: number } };
    assert.deepEqual(last.choices, []);
    assert.ok(last.usage.prompt_tokens > 0 && last.usage.completion_tokens > 0);
  });

  it('quotes tool results back, read from role tool messages', async () => {
    const res = await post(fake, {
      model: 'gpt-x',
      messages: [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'file body' },
      ],
      tools: TOOLS,
    });
    const body = await res.json() as { choices: Array<{ message: { content: string } }> };
    assert.equal(body.choices[0].message.content, 'Tool output:\nfile body');
  });

  it('injects the failure chosen for a request in the OpenAI error shape', async () => {
    const res = await post(fake, { model: 'gpt-x', messages: [{ role: 'user', content: 'please fail' }] });
    assert.equal(res.status, 429);
    assert.deepEqual(((await res.json()) as { error: { code: string } }).error.code, 'insufficient_quota');
  });

  it('lists its model, and answers unknown paths and bad JSON as OpenAI does', async () => {
    const models = await (await fetch(`${fake.baseUrl}/models`)).json() as { data: Array<{ id: string }> };
    assert.deepEqual(models.data.map((m) => m.id), ['fake-gpt']);
    const missing = await fetch(`${fake.url}/v1/embeddings`, { method: 'POST', body: '{}' });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
    const bad = await fetch(`${fake.baseUrl}/chat/completions`, { method: 'POST', body: '{not json' });
    assert.equal(bad.status, 400);
  });
});
