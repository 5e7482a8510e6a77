/**
 * A gateway stopped while a conversation's container is still starting:
 * the container that comes up after the stop is destroyed by the launch
 * itself, so no container of this home is left behind and nothing keeps the
 * process alive. The message stays pending for the next start.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase } from '../src/store/database.ts';
import { Store } from '../src/store/store.ts';
import { LABEL_HOME } from '../src/sandbox/profile.ts';
import { DockerRuntime } from '../src/sandbox/docker/index.ts';
import { startHarness } from './support/harness.ts';
import { nextEvent } from './support/wait.ts';

describe('stopping the gateway while a container starts', () => {
  it('leaves no container behind and keeps the message pending', async () => {
    const h = await startHarness();
    const docker = new DockerRuntime();
    try {
      const accepted = nextEvent(h.app.gateway, (ev) => ev.type === 'accepted', 30_000);
      void h.send('mid-start', 'hello').catch(() => {});
      await accepted;
      // A cold start takes about a second here (create, start, the runner's hello): stop within it.
      await sleep(50);
      await h.app.stop();
      assert.deepEqual((await docker.list({ [LABEL_HOME]: h.home })).map((c) => c.name), [], 'no container of this home is left running');
      const db = openDatabase(join(h.home, 'nanoclaw.db'));
      try {
        assert.deepEqual(new Store(db).pendingInbound().map((m) => m.text), ['hello'], 'the message runs at the next start');
      } finally {
        db.close();
      }
    } finally {
      await h.close().catch(() => {});
    }
  });
});
