import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { DockerRuntime } from '../src/sandbox/docker/index.ts';
import { LABEL_HOME } from '../src/sandbox/profile.ts';
import { openDatabase } from '../src/store/database.ts';
import { freePort, gatewayProcesses, type GatewayProcess } from './support/gateway-process.ts';
import { apiConversationId } from './support/turns.ts';
import { pollUntil, turnReceived } from './support/wait.ts';

const docker = new DockerRuntime();

/** The conversation's inbound rows and replies as the gateway left them in its store. */
function stored(home: string, chat: string) {
  const db = openDatabase(join(home, 'nanoclaw.db'));
  try {
    const id = apiConversationId(chat);
    return {
      inbound: db.prepare('SELECT id, text, status, attempts, outcome, last_error AS lastError FROM inbound WHERE conversation_id = ? ORDER BY id').all(id) as
        Array<{ id: number; text: string; status: string; attempts: number; outcome: string | null; lastError: string | null }>,
      outbound: db.prepare('SELECT inbound_id AS inboundId, kind, text FROM outbound WHERE conversation_id = ? ORDER BY id').all(id) as
        Array<{ inboundId: number; kind: string; text: string }>,
    };
  } finally {
    db.close();
  }
}

describe('turns: attempts, failure and graceful stop', () => {
  let gws: Awaited<ReturnType<typeof gatewayProcesses>>;
  let fake: FakeAnthropic;
  const newHome = () => gws.newHome();
  const start = (home: string, port: number, env: Record<string, string> = {}) => gws.start(home, port, env);
  const history = async (gw: GatewayProcess, chat: string) =>
    ((await (await gw.api(`/api/v1/conversations/${chat}/messages`)).json()).messages as Array<{ direction: string; kind: string; text: string }>)
      .map((m) => [m.direction, m.kind, m.text]);

  before(async () => { gws = await gatewayProcesses('nct-turns-'); fake = gws.fake; });
  after(async () => { await gws?.close(); });

  it('a message whose turn keeps dying with the gateway is answered with an error after turnAttempts, and the conversation goes on', async () => {
    const home = newHome();
    const port = await freePort();
    const env = { NANOCLAW_CONTAINER_TURN_ATTEMPTS: '2' };
    for (let attempt = 1; attempt <= 2; attempt++) {
      const gw = await start(home, port, env);
      const running = turnReceived(fake, 'sleep: 60000');
      if (attempt === 1) void gw.send('poison', 'sleep: 60000').catch(() => {});
      await running;
      await gw.kill('SIGKILL');
      assert.equal(stored(home, 'poison').inbound[0].attempts, attempt, `attempt ${attempt} was counted before it ran`);
    }

    const gw = await start(home, port, env);
    await pollUntil('the message was set aside', () => stored(home, 'poison').inbound[0].status === 'done', 30_000);
    const [msg] = stored(home, 'poison').inbound;
    assert.equal(msg.outcome, 'failed');
    assert.equal(msg.attempts, 2, 'no third attempt ran');
    const after = await gw.send('poison', 'are you there?');
    assert.equal(after.status, 200);
    assert.deepEqual(after.body.replies.map((r: any) => r.text), ['Echo: are you there?'], 'the next message is answered normally');
    const listed = await history(gw, 'poison');
    assert.equal(listed.length, 4);
    assert.deepEqual(listed[0], ['in', 'message', 'sleep: 60000']);
    assert.equal(listed[1][1], 'error');
    assert.match(listed[1][2] as string, /could not handle this message after 2 attempts .*cut short.*send it again to retry/);
    assert.deepEqual(listed.slice(2), [['in', 'message', 'are you there?'], ['out', 'reply', 'Echo: are you there?']]);
    await gw.kill('SIGTERM');
  });

  it('a graceful stop mid-turn leaves the message pending without an error, and the next start answers it once', async () => {
    const home = newHome();
    const port = await freePort();
    let gw = await start(home, port);
    const running = turnReceived(fake, 'sleep: 3000');
    const first = gw.send('graceful', 'sleep: 3000').catch(() => undefined);
    await running;
    await gw.kill('SIGTERM');
    assert.equal(gw.child.exitCode, 0, 'the gateway stopped cleanly');
    assert.deepEqual(await docker.list({ [LABEL_HOME]: home }), [], 'no container outlives the gateway');
    const afterStop = stored(home, 'graceful');
    assert.deepEqual(afterStop.inbound.map((m) => [m.status, m.attempts, m.outcome]), [['pending', 0, null]],
      'pending, and the interrupted attempt does not count against the message');
    assert.deepEqual(afterStop.outbound, [], 'nothing was answered, least of all an error');
    await first;

    gw = await start(home, port);
    await pollUntil('the message ran again after the restart', () => stored(home, 'graceful').inbound[0].status === 'done', 30_000);
    assert.deepEqual(await history(gw, 'graceful'), [['in', 'message', 'sleep: 3000'], ['out', 'reply', 'Slept 3000 ms.']]);
    assert.deepEqual(stored(home, 'graceful').inbound.map((m) => [m.attempts, m.outcome]), [[1, 'answered']]);
    await gw.kill('SIGTERM');
  });
});
