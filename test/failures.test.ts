import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import type { FakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { DockerRuntime } from '../src/sandbox/docker/index.ts';
import { LABEL_HOME } from '../src/sandbox/profile.ts';
import { openDatabase } from '../src/store/database.ts';
import { Store } from '../src/store/store.ts';
import { freePort, gatewayProcesses, type GatewayProcess } from './support/gateway-process.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { apiConversationId, turnContainers } from './support/turns.ts';
import { nextEvent, pollUntil, turnReceived } from './support/wait.ts';

const docker = new DockerRuntime();
const ALLOCATE_FOREVER = 'run: node -e "const a=[];for(;;)a.push(Buffer.alloc(16e6,1))"';

/**
 * The engine's session transcripts (Claude Code's `projects/<cwd>/<session>.jsonl`)
 * anywhere under `dir` on the host: what a new container resumes from.
 */
function transcripts(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.jsonl') && f.includes('projects'))
    .map((f) => join(dir, f));
}

describe('failures: a turn that runs too long', () => {
  let h: Harness;
  // Not lower: the timeout also covers the engine's start-up in a new
  // container, which took from 1.5 s (quiet machine) to over 10 s (a machine
  // busy with other test runs), and the last turn here runs in a new one.
  before(async () => { h = await startHarness({ env: { NANOCLAW_CONTAINER_TURN_TIMEOUT_SEC: '20' } }); });
  after(async () => { await h?.close(); });

  it('stops the turn at turnTimeoutSec with an error reply, and the next message gets a normal reply in a fresh container', async () => {
    const turns = turnContainers(h, 'slow');
    const running = turnReceived(h.fake, 'sleep: 90000');
    const t0 = Date.now();
    const { status, body } = await h.send('slow', 'sleep: 90000');
    const took = Date.now() - t0;
    await running;
    assert.equal(status, 200);
    assert.equal(body.replies.length, 1);
    assert.equal(body.replies[0].kind, 'error');
    assert.match(body.replies[0].text, /longer than 20 s/);
    assert.ok(took >= 19_500 && took < 90_000, `the error came after ${took} ms; the timeout is 20 s and the model would answer at 90 s`);

    assert.equal(await h.ask('slow', 'are you back?'), 'Echo: are you back?');
    assert.equal(turns.length, 2);
    assert.notEqual(turns[1], turns[0], 'the stopped container was replaced');
  });
});

describe('failures: a command that exhausts the container\'s memory', () => {
  let h: Harness;
  before(async () => { h = await startHarness({ env: { NANOCLAW_CONTAINER_MEMORY_MB: '256' } }); });
  after(async () => { await h?.close(); });

  it('tells the user the agent was killed, while other conversations keep working', async () => {
    const bystander = turnContainers(h, 'oom-bystander');
    assert.equal(await h.ask('oom-bystander', 'before'), 'Echo: before');

    const toolStarted = nextEvent(h.app.gateway, (e) => e.type === 'progress' && e.conversationId === apiConversationId('oom') && e.tool === 'Bash', 60_000);
    const oom = h.send('oom', ALLOCATE_FOREVER);
    await toolStarted;
    const [{ body }, meanwhile] = await Promise.all([oom, h.ask('oom-bystander', 'still here')]);
    assert.equal(body.replies.length, 1);
    assert.equal(body.replies[0].kind, 'error');
    assert.match(body.replies[0].text, /out of memory|killed|SIGKILL/i);
    assert.equal(meanwhile, 'Echo: still here');
    assert.equal(bystander[1], bystander[0], 'the other conversation kept its container');
  });

  it('answers the message sent right after an out-of-memory turn normally', async () => {
    // Three tries: the failure depends on timing (whether the allocating
    // process is still alive when the next turn starts its engine).
    for (const chat of ['oom-next-1', 'oom-next-2', 'oom-next-3']) {
      const { body } = await h.send(chat, ALLOCATE_FOREVER);
      assert.equal(body.replies[0].kind, 'error');
      const next = await h.send(chat, 'after the crash');
      assert.deepEqual(next.body.replies.map((r: any) => `${r.kind}: ${r.text}`), ['reply: Echo: after the crash'], `conversation ${chat}`);
    }
  });
});

describe('failures: a container killed from outside', () => {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h?.close(); });

  it('answers the running turn with a clear error, and the next message resumes the session in a new container', async () => {
    const turns = turnContainers(h, 'killed');
    assert.equal(await h.ask('killed', 'note: banana-42'), 'Echo: note: banana-42');

    const running = turnReceived(h.fake, 'sleep: 5000');
    const pending = h.send('killed', 'sleep: 5000');
    await running;
    await new Docker().getContainer(turns[1]).kill();
    const { body } = await pending;
    assert.equal(body.replies.length, 1);
    assert.equal(body.replies[0].kind, 'error');
    assert.match(body.replies[0].text, /container was killed/);
    assert.match(body.replies[0].text, /Send your message again/);

    const resumed = turnReceived(h.fake, 'what did I note?');
    assert.equal(await h.ask('killed', 'what did I note?'), 'Echo: what did I note?');
    assert.notEqual(turns[2], turns[1], 'a new container ran the next turn');
    assert.match(JSON.stringify((await resumed).body?.messages), /banana-42/, 'the new container resumed the session: the model sees the earlier turn');
  });

  it('starts a new session when the stored one cannot be resumed (its container died before the engine wrote the transcript)', async () => {
    const convId = apiConversationId('lost-session');
    const turns = turnContainers(h, 'lost-session');
    assert.equal(await h.ask('lost-session', 'hello'), 'Echo: hello');
    const conv = h.app.store.getConversation(convId)!;
    assert.ok(conv.sessionId, 'the engine reported its session');
    // A crash in the first turn can kill the engine before it writes its
    // transcript (seen when SIGKILLing a busy gateway). Recreate that state:
    // the container dies, and its transcript never reached the disk.
    const gone = nextEvent(h.app.gateway, (e) => e.type === 'container' && e.state === 'destroyed' && e.conversationId === convId, 30_000);
    await new Docker().getContainer(turns[0]).kill();
    await gone;
    const files = transcripts(join(conv.dataDir!, 'state'));
    assert.ok(files.length > 0);
    for (const f of files) rmSync(f);

    for (const text of ['are you there?', 'still nothing?']) {
      const { body } = await h.send('lost-session', text);
      assert.deepEqual(body.replies.map((r: any) => `${r.kind}: ${r.text}`), [`reply: Echo: ${text}`]);
    }
  });
});

describe('failures: the gateway process is SIGKILLed', () => {
  let gws: Awaited<ReturnType<typeof gatewayProcesses>>;
  let fake: FakeAnthropic;
  const newHome = () => gws.newHome();
  const start = (home: string, port: number) => gws.start(home, port);
  /** The conversation's messages as the API lists them, oldest first. */
  const history = async (gw: GatewayProcess, chat: string) => (await (await gw.api(`/api/v1/conversations/${chat}/messages`)).json()).messages as Array<{ direction: 'in' | 'out'; kind: string; text: string }>;
  /** Reads the store the way the gateway left it (after it stopped). */
  function storedTurn(home: string, chat: string, clientId: string) {
    const db = openDatabase(join(home, 'nanoclaw.db'));
    try {
      const store = new Store(db);
      const inbound = db.prepare('SELECT id, status FROM inbound WHERE conversation_id = ?').all(apiConversationId(chat)) as Array<{ id: number; status: string }>;
      const keyed = db.prepare('SELECT id FROM inbound WHERE conversation_id = ? AND client_id = ?').all(apiConversationId(chat), clientId) as Array<{ id: number }>;
      return { inbound, keyed, replies: inbound.flatMap((m) => store.outboundFor(m.id)) };
    } finally {
      db.close();
    }
  }

  before(async () => { gws = await gatewayProcesses('nct-crash-'); fake = gws.fake; });
  after(async () => { await gws?.close(); });

  it('mid-turn: the restarted gateway removes the orphaned container, runs the message once, and answers the retry with that reply', async () => {
    const home = newHome();
    const port = await freePort();
    let gw = await start(home, port);
    const running = turnReceived(fake, 'sleep: 4000');
    const first = gw.send('crash-mid', 'sleep: 4000', { 'Idempotency-Key': 'k1' }).then(() => 'answered', () => 'connection lost');
    await running;
    // Kill only once the engine has written the message to its transcript: a
    // kill before that is the lost-transcript case, tested on its own above.
    await pollUntil('the engine recorded the message in its transcript',
      () => transcripts(join(home, 'conversations')).some((f) => readFileSync(f, 'utf8').includes('sleep: 4000')), 10_000);
    const orphans = (await docker.list({ [LABEL_HOME]: home })).map((c) => c.name);
    assert.equal(orphans.length, 1, 'the turn runs in one container');
    await gw.kill('SIGKILL');
    assert.equal(await first, 'connection lost', 'the gateway died before it could answer');
    assert.deepEqual((await docker.list({ [LABEL_HOME]: home })).map((c) => c.name), orphans, 'the killed gateway left its container behind');

    gw = await start(home, port);
    const left = (await docker.list({ [LABEL_HOME]: home })).filter((c) => orphans.includes(c.name));
    assert.deepEqual(left, [], 'the orphaned container was removed at start-up');

    const retry = await gw.send('crash-mid', 'sleep: 4000', { 'Idempotency-Key': 'k1' });
    assert.equal(retry.status, 200);
    assert.equal(retry.body.message.duplicate, true);
    assert.deepEqual(retry.body.replies.map((r: any) => [r.kind, r.text]), [['reply', 'Slept 4000 ms.']]);
    const listed = await history(gw, 'crash-mid');
    assert.deepEqual(listed.map((m) => [m.direction, m.text]), [['in', 'sleep: 4000'], ['out', 'Slept 4000 ms.']]);

    await gw.kill('SIGTERM');
    const stored = storedTurn(home, 'crash-mid', 'k1');
    assert.equal(stored.inbound.length, 1, 'exactly one inbound message');
    assert.deepEqual(stored.keyed.map((m) => m.id), [retry.body.message.id]);
    assert.equal(stored.inbound[0].status, 'done');
    assert.deepEqual(stored.replies.map((r) => r.text), ['Slept 4000 ms.'], 'exactly one reply');
  });

  it('after the reply was stored: the restarted gateway runs nothing again and answers the retry from the store', async () => {
    const home = newHome();
    const port = await freePort();
    let gw = await start(home, port);
    const first = await gw.send('crash-after', 'answer me once', { 'Idempotency-Key': 'k2' });
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.replies.map((r: any) => r.text), ['Echo: answer me once']);
    const turnsFor = () => fake.requests.filter((r) => r.kind === 'turn' && JSON.stringify(r.body?.messages ?? '').includes('answer me once')).length;
    const turnsBefore = turnsFor();
    await gw.kill('SIGKILL');

    gw = await start(home, port);
    const retry = await gw.send('crash-after', 'answer me once', { 'Idempotency-Key': 'k2' });
    assert.equal(retry.status, 200);
    assert.equal(retry.body.message.duplicate, true);
    assert.equal(retry.body.message.id, first.body.message.id);
    assert.deepEqual(retry.body.replies, first.body.replies, 'the same stored reply, not a new one');
    assert.equal(turnsFor(), turnsBefore, 'the model was not asked again');
    assert.deepEqual(await docker.list({ [LABEL_HOME]: home }), [], 'no container was started for it');
    assert.deepEqual((await history(gw, 'crash-after')).map((m) => [m.direction, m.text]), [['in', 'answer me once'], ['out', 'Echo: answer me once']]);

    await gw.kill('SIGTERM');
    const stored = storedTurn(home, 'crash-after', 'k2');
    assert.equal(stored.inbound.length, 1);
    assert.equal(stored.replies.length, 1);
  });
});
