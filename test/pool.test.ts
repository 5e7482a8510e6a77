import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerRuntime } from '../src/sandbox/docker/index.ts';
import { LABEL_HOME } from '../src/sandbox/profile.ts';
import { openDatabase } from '../src/store/database.ts';
import { cli } from './support/cli.ts';
import { freePort, gatewayProcesses } from './support/gateway-process.ts';
import { REAL_KEY } from './support/harness.ts';
import { apiConversationId } from './support/turns.ts';
import { pollUntil } from './support/wait.ts';

const docker = new DockerRuntime();

/**
 * The default configuration keeps one container pre-started (`prestart: 1`):
 * the path most users take, run here end to end with real containers.
 */
describe('the pre-started pool (the default path)', () => {
  let gws: Awaited<ReturnType<typeof gatewayProcesses>>;
  const newHome = () => gws.newHome();
  /** The gateway with the configuration's own prestart default (the harnesses elsewhere turn the pool off). */
  const start = (home: string, port: number, env: Record<string, string> = {}) => gws.start(home, port, { NANOCLAW_CONTAINER_PRESTART: '', ...env });
  const containers = async (home: string) => (await docker.list({ [LABEL_HOME]: home })).map((c) => c.name).sort();
  const folders = (home: string) => (existsSync(join(home, 'conversations')) ? readdirSync(join(home, 'conversations')).sort() : []);
  const status = async (home: string) => {
    const { code, stdout, stderr } = await cli(['status', '--json'], { NANOCLAW_HOME: home, ANTHROPIC_API_KEY: REAL_KEY });
    assert.equal(code, 0, stderr);
    return JSON.parse(stdout) as { pool: number; conversations: Array<{ id: string; chat: string; container: string | null }> };
  };
  const dataDir = (home: string, chat: string) => {
    const db = openDatabase(join(home, 'nanoclaw.db'));
    try {
      return (db.prepare('SELECT data_dir AS d FROM conversations WHERE id = ?').get(apiConversationId(chat)) as { d: string | null }).d;
    } finally {
      db.close();
    }
  };

  before(async () => { gws = await gatewayProcesses('nct-pool-'); });
  after(async () => { await gws?.close(); });

  it('hands the pre-started container to the first conversation, shows it under that conversation, and stops without leaving folders', async () => {
    const home = newHome();
    const gw = await start(home, await freePort());
    const [pooled] = (await pollUntil('one container is pre-started', async () => {
      const names = await containers(home);
      const ready = (await (await gw.api('/api/v1/status')).json()).pool.ready;
      return names.length === 1 && ready === 1 ? names : undefined;
    }, 30_000))!;
    assert.deepEqual(folders(home), [pooled], 'the pooled container has its own folder');

    const first = await gw.send('pooled', 'run: echo served-by-the-pool');
    assert.equal(first.status, 200);
    assert.match(first.body.replies[0].text, /served-by-the-pool/);
    const second = await gw.send('pooled', 'and again');
    assert.deepEqual(second.body.replies.map((r: any) => r.text), ['Echo: and again']);
    assert.ok((await containers(home)).includes(pooled), 'the pooled container is still serving the conversation');

    const shown = await status(home);
    assert.equal(shown.conversations.find((c) => c.chat === 'pooled')?.container, pooled, 'status shows the pooled container under its conversation');
    assert.equal(dataDir(home, 'pooled'), join(home, 'conversations', pooled), 'the conversation took over the pooled folder');

    // The pool starts a replacement a moment after handing one out.
    const replacement = await pollUntil('the pool was refilled', async () => (await containers(home)).find((n) => n !== pooled), 30_000);
    assert.deepEqual(folders(home), [pooled, replacement].sort());

    await gw.kill('SIGTERM');
    assert.deepEqual(await containers(home), [], 'no container outlives the gateway');
    assert.deepEqual(folders(home), [pooled], 'the unused replacement took its folder with it; the conversation keeps its own');
  });

  it('removes the folders of pre-started containers that a killed gateway left behind', async () => {
    const home = newHome();
    const port = await freePort();
    let gw = await start(home, port);
    const [pooled] = (await pollUntil('one container is pre-started', async () => {
      const names = await containers(home);
      return names.length === 1 ? names : undefined;
    }, 30_000))!;
    await gw.kill('SIGKILL');
    assert.deepEqual(folders(home), [pooled], 'a crash leaves the pooled folder behind');

    gw = await start(home, port);
    const [next] = (await pollUntil('a new container is pre-started', async () => {
      const names = await containers(home);
      return names.length === 1 && names[0] !== pooled ? names : undefined;
    }, 30_000))!;
    assert.deepEqual(folders(home), [next], 'the orphaned folder was removed at start-up');
    await gw.kill('SIGTERM');
    assert.deepEqual(folders(home), [], 'and the unused one at stop');
  });

  it('deletes the workspace of a conversation that went idle while no gateway was running', async () => {
    const home = newHome();
    const port = await freePort();
    const env = { NANOCLAW_CONTAINER_PRESTART: '0', NANOCLAW_CONTAINER_IDLE_TIMEOUT_SEC: '2' };
    let gw = await start(home, port, env);
    const reply = await gw.send('idle-across-restart', 'run: echo keep > /workspace/note.txt');
    assert.equal(reply.status, 200);
    const workspace = dataDir(home, 'idle-across-restart');
    assert.ok(workspace && existsSync(join(workspace, 'workspace', 'note.txt')), 'the turn wrote into its workspace');
    // Killed before the idle timer fires: the timer dies with the process.
    await gw.kill('SIGKILL');
    assert.ok(existsSync(workspace!), 'the workspace survived the crash');

    await new Promise((resolve) => setTimeout(resolve, 2500));
    gw = await start(home, port, env);
    await pollUntil('the idle workspace is deleted', () => !existsSync(workspace!), 10_000);
    await gw.kill('SIGTERM');
    assert.equal(dataDir(home, 'idle-across-restart'), null, 'the conversation starts afresh next time');
  });
});
