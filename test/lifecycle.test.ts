import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GatewayEvent } from '../src/core/gateway.ts';
import { MemoryRepo } from '../src/memory/memory-repo.ts';
import { DockerRuntime } from '../src/sandbox/docker/index.ts';
import { LABEL_CONVERSATION, LABEL_HOME } from '../src/sandbox/profile.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { apiConversationId, turnContainers } from './support/turns.ts';
import { nextEvent, pollUntil, turnReceived } from './support/wait.ts';

const docker = new DockerRuntime();
/** Containers Docker still has for a conversation, running or not. */
const containersOf = (convId: string) => docker.list({ [LABEL_CONVERSATION]: convId });

describe('container lifecycle: idle timeout', () => {
  let h: Harness;
  before(async () => { h = await startHarness({ env: { NANOCLAW_CONTAINER_IDLE_TIMEOUT_SEC: '2' } }); });
  after(async () => { await h?.close(); });

  it('destroys an idle container after idleTimeoutSec, deletes its workspace, and starts afresh on the next message', async () => {
    const chat = 'idle';
    const convId = apiConversationId(chat);
    const turns = turnContainers(h, chat);
    const destroyed = nextEvent<Extract<GatewayEvent, { type: 'container' }>>(h.app.gateway,
      (e) => e.type === 'container' && e.conversationId === convId && e.state === 'destroyed', 30_000);

    assert.match(await h.ask(chat, 'run: echo kept-until-idle > /workspace/keep.txt && echo written'), /written/);
    const repliedAt = Date.now();
    const dataDir = h.app.store.getConversation(convId)!.dataDir!;
    assert.ok(existsSync(join(dataDir, 'workspace', 'keep.txt')), 'the workspace holds the file while the container lives');
    assert.equal((await containersOf(convId)).length, 1);

    const gone = await destroyed;
    assert.equal(gone.reason, 'idle timeout');
    assert.equal(gone.container, turns[0]);
    assert.ok(Date.now() - repliedAt >= 1500, `destroyed ${Date.now() - repliedAt} ms after the reply, before the 2 s idle timeout`);
    await pollUntil('the workspace folder is deleted', () => !existsSync(dataDir), 5000);
    assert.equal(h.app.store.getConversation(convId)!.dataDir, null);
    assert.deepEqual(await containersOf(convId), [], 'Docker has no container left for the conversation');

    const reply = await h.ask(chat, 'run: ls -A /workspace; echo "fresh-$((40+2))"');
    assert.match(reply, /fresh-42/);
    assert.doesNotMatch(reply, /keep\.txt/, 'the new container starts with an empty workspace');
    assert.equal(turns.length, 2);
    assert.notEqual(turns[1], turns[0], 'the next message ran in a new container');
  });
});

describe('container lifecycle: /end, memory and mounts', () => {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h?.close(); });

  it('/end destroys the container and the workspace; files written before it are gone afterwards', async () => {
    const chat = 'end';
    const convId = apiConversationId(chat);
    const turns = turnContainers(h, chat);
    assert.match(await h.ask(chat, 'run: echo before-end > /workspace/scratch.txt && cat /workspace/scratch.txt'), /before-end/);
    const dataDir = h.app.store.getConversation(convId)!.dataDir!;
    assert.ok(existsSync(join(dataDir, 'workspace', 'scratch.txt')));
    assert.equal((await containersOf(convId)).length, 1, 'the conversation has a container before /end');

    const { status, body } = await h.send(chat, '/end');
    assert.equal(status, 200);
    assert.equal(body.replies.length, 1);
    assert.equal(body.replies[0].kind, 'notice');
    assert.match(body.replies[0].text, /ended/i);
    assert.deepEqual(await containersOf(convId), [], 'Docker has no container left for the conversation');
    assert.ok(!existsSync(dataDir), 'the workspace folder is deleted');

    const reply = await h.ask(chat, 'run: test -e /workspace/scratch.txt && echo still-there || echo "scratch-gone"');
    assert.match(reply, /scratch-gone/);
    assert.equal(turns.length, 2);
    assert.notEqual(turns[1], turns[0]);
  });

  it('keeps /memory across /end when memory is on, records each change, and hides the history from the agent', async () => {
    const chat = 'memory-on';
    const convId = apiConversationId(chat);
    const turns = turnContainers(h, chat);
    const on = await h.send(chat, '/memory on');
    assert.equal(on.body.replies[0].kind, 'notice');
    assert.match(on.body.replies[0].text, /memory is on/i);

    assert.match(await h.ask(chat, 'run: echo remember-me > /memory/note.txt && echo "saved-$((1+1))"'), /saved-2/);
    const ended = await h.send(chat, '/end');
    assert.match(ended.body.replies[0].text, /ended/i);
    assert.deepEqual(await containersOf(convId), []);

    const reply = await h.ask(chat, 'run: cat /memory/note.txt; echo "--- listing"; ls -la /memory');
    assert.match(reply, /remember-me/);
    assert.match(reply, /note\.txt/);
    assert.doesNotMatch(reply, /\.git/, 'the memory history is not visible inside the container');
    assert.notEqual(turns[1], turns[0], 'the note was read by a new container');

    const log = await new MemoryRepo(h.app.layout, convId).log();
    assert.match(log, /note\.txt/, `a recorded change touched note.txt; history:\n${log}`);
  });

  it('mounts no writable /memory when memory is off: nothing the agent writes there persists', async () => {
    const chat = 'memory-off';
    const convId = apiConversationId(chat);
    const reply = await h.ask(chat, 'run: echo lost > /memory/probe.txt; echo "write-rc=$?"; test -w /memory && echo memory-writable || echo memory-readonly');
    assert.match(reply, /write-rc=[1-9]/, 'writing into /memory fails');
    assert.match(reply, /memory-readonly/);
    assert.equal(h.app.store.getConversation(convId)!.memory, false);
    assert.ok(!existsSync(join(h.app.layout.memory, convId)), 'no memory folder was created on the host');
  });

  it('mounts the host\'s global folder read-only at /global', async () => {
    writeFileSync(join(h.app.layout.global, 'shared-notes.txt'), 'global-content-7\n');
    const reply = await h.ask('global', 'run: cat /global/shared-notes.txt; touch /global/x 2>&1; echo "touch-rc=$?"');
    assert.match(reply, /global-content-7/);
    assert.match(reply, /touch-rc=[1-9]/, 'touch /global/x fails');
    assert.match(reply, /read-only/i);
    assert.ok(!existsSync(join(h.app.layout.global, 'x')), 'nothing appeared in the host folder');
  });
});

describe('container lifecycle: the cap on running containers', () => {
  let h: Harness;
  before(async () => { h = await startHarness({ env: { NANOCLAW_CONTAINER_MAX_RUNNING: '1' } }); });
  after(async () => { await h?.close(); });

  it('answers two simultaneous conversations with never more than maxRunning=1 containers alive', async () => {
    let alive = 0;
    let maxAlive = 0;
    const started: string[] = [];
    const dockerCounts: Array<Promise<number>> = [];
    const onEvent = (ev: GatewayEvent) => {
      if (ev.type !== 'container') return;
      if (ev.state === 'started') {
        started.push(ev.conversationId);
        alive++;
        // Docker's own view at the same moment: containers of this gateway that are running.
        dockerCounts.push(docker.list({ [LABEL_HOME]: h.home }).then((cs) => cs.filter((c) => c.state === 'running').length));
      } else {
        alive--;
      }
      maxAlive = Math.max(maxAlive, alive);
    };
    h.app.gateway.on('event', onEvent);
    try {
      const [a, b] = await Promise.all([h.ask('cap-a', 'sleep: 1500'), h.ask('cap-b', 'sleep: 1500')]);
      assert.equal(a, 'Slept 1500 ms.');
      assert.equal(b, 'Slept 1500 ms.');
      assert.deepEqual(new Set(started), new Set([apiConversationId('cap-a'), apiConversationId('cap-b')]), 'each conversation got a container');
      assert.equal(maxAlive, 1, 'at most one container was alive at any moment');
      for (const n of await Promise.all(dockerCounts)) assert.ok(n <= 1, `Docker ran ${n} containers at once`);
    } finally {
      h.app.gateway.off('event', onEvent);
    }
  });

  it('never evicts a conversation that still has messages queued: they run in its container, and the waiting conversation runs after', async () => {
    const turnsA = turnContainers(h, 'drain-a');
    const running = turnReceived(h.fake, 'sleep: 2000');
    const a1 = h.ask('drain-a', 'sleep: 2000');
    await running;
    const a2 = h.ask('drain-a', 'queued behind the first');
    const b = h.ask('drain-b', 'waiting for a slot');
    assert.equal(await a1, 'Slept 2000 ms.');
    assert.equal(await a2, 'Echo: queued behind the first');
    assert.equal(await b, 'Echo: waiting for a slot');
    assert.equal(turnsA.length, 2);
    assert.equal(turnsA[0], turnsA[1], 'both messages of the first conversation ran in the same container');
  });
});
