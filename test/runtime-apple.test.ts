/**
 * AppleContainerRuntime against a fake `container` executable: a small Node
 * script put first on PATH that records its argv (and the env file it is
 * handed) and answers with canned output shaped like the real CLI's JSON
 * (apple/container ContainerSnapshot, ImageDescription). This checks the exact
 * command lines only; nothing here runs a VM (that needs macOS on Apple
 * silicon).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ConfigSchema } from '../src/config/schema.ts';
import { AppleContainerRuntime } from '../src/sandbox/apple/index.ts';
import { LABEL_HOME, LABEL_MANAGED, hardenedSpec } from '../src/sandbox/profile.ts';
import { RuntimeError, type ContainerSpec } from '../src/sandbox/runtime.ts';

type Answer = { code?: number; stdout?: string; stderr?: string };
interface Call { argv: string[]; envFile?: { text: string; mode: number } }

/**
 * The fake CLI. Answers are looked up by the whole command line, then its
 * first two words, then its first word; a list of answers is served in turn
 * (the last one repeats), which is how polling is scripted.
 */
const FAKE_CLI = `#!/usr/bin/env node
const fs = require('node:fs');
const dir = __dirname;
const argv = process.argv.slice(2);
const call = { argv };
const envArg = argv.find((a) => a.startsWith('--env-file='));
if (envArg) {
  const file = envArg.slice('--env-file='.length);
  call.envFile = { text: fs.readFileSync(file, 'utf8'), mode: fs.statSync(file).mode & 0o777 };
}
fs.appendFileSync(dir + '/calls.jsonl', JSON.stringify(call) + '\\n');
const answers = JSON.parse(fs.readFileSync(dir + '/answers.json', 'utf8'));
const served = fs.existsSync(dir + '/served.json') ? JSON.parse(fs.readFileSync(dir + '/served.json', 'utf8')) : {};
const key = [argv.join(' '), argv.slice(0, 2).join(' '), argv[0]].find((k) => k in answers);
let answer = key === undefined ? {} : answers[key];
if (Array.isArray(answer)) {
  const i = served[key] ?? 0;
  served[key] = i + 1;
  fs.writeFileSync(dir + '/served.json', JSON.stringify(served));
  answer = answer[Math.min(i, answer.length - 1)];
}
process.stdout.write(answer.stdout ?? '');
process.stderr.write(answer.stderr ?? '');
process.exit(answer.code ?? 0);
`;

/** One container as `container list --format json` / `container inspect` print it (trimmed). */
function snapshot(id: string, status: string, labels: Record<string, string>, extra: Record<string, unknown> = {}) {
  return { status, networks: [], configuration: { id, labels, image: { reference: 'docker.io/library/nanoclaw-agent:latest' }, readOnly: true }, ...extra };
}

describe('AppleContainerRuntime: the exact `container` command lines', () => {
  let bin: string;
  let work: string;
  let savedPath: string | undefined;
  const servers: net.Server[] = [];
  let runtime: AppleContainerRuntime;

  const answer = (answers: Record<string, Answer | Answer[]>) => {
    writeFileSync(join(bin, 'answers.json'), JSON.stringify(answers));
    rmSync(join(bin, 'served.json'), { force: true });
  };
  const calls = (): Call[] => existsSync(join(bin, 'calls.jsonl'))
    ? readFileSync(join(bin, 'calls.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  const argvs = () => calls().map((c) => c.argv);

  /** The real profile's spec, over real host folders: the run folder holds two listening Unix sockets. */
  const profileSpec = (): ContainerSpec => hardenedSpec(ConfigSchema.parse({}), {
    name: 'nanoclaw-abc123', runDir: join(work, 'run'), workspaceDir: join(work, 'workspace'), stateDir: join(work, 'state'),
    globalDir: join(work, 'global'), memoryDir: join(work, 'memory'), token: 'tok-123', home: '/srv/nc', conversationId: 'api:x',
  });

  before(async () => {
    bin = mkdtempSync(join(tmpdir(), 'nct-apple-bin-'));
    work = mkdtempSync(join(tmpdir(), 'nct-apple-work-'));
    writeFileSync(join(bin, 'container'), FAKE_CLI);
    chmodSync(join(bin, 'container'), 0o755);
    for (const d of ['run', 'workspace', 'state', 'global', 'memory']) mkdirSync(join(work, d));
    for (const s of ['control.sock', 'model.sock']) {
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(join(work, 'run', s), resolve));
      servers.push(server);
    }
    savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
  });
  after(async () => {
    process.env.PATH = savedPath;
    for (const s of servers) await new Promise((resolve) => s.close(resolve));
    rmSync(bin, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    rmSync(join(bin, 'calls.jsonl'), { force: true });
    answer({});
    runtime = new AppleContainerRuntime({ pollMs: 10 });
  });

  it('start runs the container detached with every flag the profile maps to, and its sockets mounted one by one', async () => {
    answer({ run: { stdout: 'nanoclaw-abc123\n' } });
    assert.deepEqual(await runtime.start(profileSpec()), { name: 'nanoclaw-abc123', id: 'nanoclaw-abc123' });
    const [call] = calls();
    const envFile = call.argv.find((a) => a.startsWith('--env-file='))!;
    assert.deepEqual(call.argv, [
      'run', '--detach', '--name=nanoclaw-abc123', '--user=61000:61000', envFile,
      '--label=org.nanoclaw.managed=true', '--label=org.nanoclaw.home=/srv/nc', '--label=org.nanoclaw.conversation=api:x',
      '--read-only', '--cap-drop=ALL', '--network=none',
      '--cpus=1', '--memory=1024M', '--ulimit=nproc=256',
      // /run/nanoclaw holds only sockets: each crosses into the VM on its own (vsock relay).
      `--volume=${work}/run/control.sock:/run/nanoclaw/control.sock`,
      `--volume=${work}/run/model.sock:/run/nanoclaw/model.sock`,
      `--volume=${work}/workspace:/workspace`,
      `--volume=${work}/state:/home/agent/.claude`,
      `--volume=${work}/global:/global:ro`,
      `--volume=${work}/memory:/memory`,
      '--mount=type=tmpfs,destination=/tmp,size=256M,mode=1777',
      '--mount=type=tmpfs,destination=/home/agent,size=256M,mode=1777',
      'nanoclaw-agent:latest',
    ]);
    assert.equal(calls().length, 1);
  });

  it('start hands the token over in a private env file that is gone afterwards, never in argv', async () => {
    answer({ run: { stdout: 'nanoclaw-abc123\n' } });
    await runtime.start(profileSpec());
    const [call] = calls();
    assert.deepEqual(call.envFile, { text: 'HOME=/home/agent\nNANOCLAW_TOKEN=tok-123\nNANOCLAW_RUNNER_RUNTIME=bun\n', mode: 0o600 });
    assert.ok(!call.argv.some((a) => a.includes('tok-123')), 'the token is not on the command line');
    const file = call.argv.find((a) => a.startsWith('--env-file='))!.slice('--env-file='.length);
    assert.equal(existsSync(file), false);
  });

  it('start refuses gVisor, which is a Linux runtime, and runs nothing', async () => {
    await assert.rejects(runtime.start({ ...profileSpec(), runtime: 'runsc' }), (err: Error) => {
      assert.ok(err instanceof RuntimeError);
      assert.match(err.message, /the runsc OCI runtime is for Linux hosts; Apple Container runs every container in its own VM instead \(set container.runtime to runc\)/);
      return true;
    });
    assert.deepEqual(argvs(), []);
  });

  it('start refuses values the CLI would split: a path with a colon, a label with "="', async () => {
    const spec = profileSpec();
    spec.mounts.push({ hostPath: '/tmp/a:b', containerPath: '/x', readOnly: true });
    spec.labels['org.nanoclaw.conversation'] = 'slack:a=b';
    await assert.rejects(runtime.start(spec), /the mount path "\/tmp\/a:b" contains ':' or ','; the label org.nanoclaw.conversation contains '='/);
    assert.deepEqual(argvs(), []);
  });

  it('start refuses a folder that mixes sockets with files, since only a socket on its own crosses into the VM', async () => {
    writeFileSync(join(work, 'run', 'notes.txt'), 'x');
    try {
      await assert.rejects(runtime.start(profileSpec()), /cannot share .*\/run: it holds Unix sockets \(control.sock, model.sock\) and other files \(notes.txt\)/);
    } finally {
      rmSync(join(work, 'run', 'notes.txt'));
    }
    assert.deepEqual(argvs(), []);
  });

  it('a failed run removes whatever was made and reports the CLI\'s error', async () => {
    answer({ run: { code: 1, stderr: 'Error: unknown option \'--cap-drop=ALL\'\n' } });
    await assert.rejects(runtime.start(profileSpec()), /could not start container nanoclaw-abc123 from nanoclaw-agent:latest with Apple Container: Error: unknown option '--cap-drop=ALL'/);
    assert.deepEqual(argvs().slice(1), [['stop', '--time=0', 'nanoclaw-abc123'], ['delete', '--force', 'nanoclaw-abc123']]);
  });

  it('destroy stops with the grace period, then deletes by force', async () => {
    await runtime.destroy('nanoclaw-abc123', 7);
    assert.deepEqual(argvs(), [['stop', '--time=7', 'nanoclaw-abc123'], ['delete', '--force', 'nanoclaw-abc123']]);
  });

  it('destroy of a container that is already gone is not an error', async () => {
    const gone = { code: 1, stderr: 'Error: notFound: "failed to delete one or more containers: ["gone"]"\n' };
    answer({ stop: gone, delete: gone });
    await runtime.destroy('gone');
    assert.deepEqual(argvs(), [['stop', '--time=5', 'gone'], ['delete', '--force', 'gone']]);
  });

  it('destroy fails when the container exists and cannot be deleted', async () => {
    answer({ delete: { code: 1, stderr: 'Error: internalError: "delete failed for one or more containers: ["c1"]"\n' } });
    await assert.rejects(runtime.destroy('c1'), /could not remove container c1: Error: internalError/);
  });

  it('wait polls `container inspect` until the container has stopped, and returns its exit code', async () => {
    const labels = { [LABEL_MANAGED]: 'true' };
    answer({
      'inspect c1': [
        { stdout: JSON.stringify([snapshot('c1', 'running', labels)]) },
        { stdout: JSON.stringify([snapshot('c1', 'stopping', labels)]) },
        { stdout: JSON.stringify([snapshot('c1', 'stopped', labels, { exitCode: 3 })]) },
      ],
    });
    assert.deepEqual(await runtime.wait('c1'), { exitCode: 3, oomKilled: false });
    assert.deepEqual(argvs(), [['inspect', 'c1'], ['inspect', 'c1'], ['inspect', 'c1']]);
  });

  it('wait reports an unknown exit when the release records none, or the container is gone', async () => {
    answer({ 'inspect c1': { stdout: JSON.stringify([snapshot('c1', 'stopped', {})]) }, 'inspect c2': { code: 1, stderr: 'Error: notFound: "container c2 not found"' } });
    assert.deepEqual(await runtime.wait('c1'), { exitCode: -1, oomKilled: false });
    assert.deepEqual(await runtime.wait('c2'), { exitCode: -1, oomKilled: false });
  });

  it('list asks for every container as JSON and keeps those carrying all the labels', async () => {
    answer({
      list: {
        stdout: JSON.stringify([
          snapshot('nanoclaw-1', 'running', { [LABEL_MANAGED]: 'true', [LABEL_HOME]: '/srv/nc' }),
          snapshot('nanoclaw-2', 'stopped', { [LABEL_MANAGED]: 'true', [LABEL_HOME]: '/other' }),
          snapshot('buildkit', 'running', {}),
        ]),
      },
    });
    assert.deepEqual(await runtime.list({ [LABEL_MANAGED]: 'true', [LABEL_HOME]: '/srv/nc' }), [
      { name: 'nanoclaw-1', state: 'running', labels: { [LABEL_MANAGED]: 'true', [LABEL_HOME]: '/srv/nc' } },
    ]);
    assert.deepEqual(argvs(), [['list', '--all', '--format=json']]);
  });

  it('hasImage finds a short image name among the fully qualified references the CLI lists', async () => {
    answer({ image: { stdout: JSON.stringify([{ reference: 'docker.io/library/nanoclaw-agent:latest', descriptor: {} }, { reference: 'ghcr.io/x/y:1', descriptor: {} }]) } });
    assert.equal(await runtime.hasImage('nanoclaw-agent:latest'), true);
    assert.equal(await runtime.hasImage('nanoclaw-agent'), true);
    assert.equal(await runtime.hasImage('ghcr.io/x/y:1'), true);
    assert.equal(await runtime.hasImage('nanoclaw-agent:old'), false);
    assert.deepEqual(argvs()[0], ['image', 'list', '--format=json']);
  });

  it('version checks the services are up, then reports the CLI version', async () => {
    answer({ system: { stdout: 'apiserver is running\n' }, '--version': { stdout: 'container CLI version 1.2.1 (build: release, commit: 1a2b3c4)\n' } });
    assert.equal(await runtime.version(), 'Apple Container (container CLI version 1.2.1 (build: release, commit: 1a2b3c4))');
    assert.deepEqual(argvs(), [['system', 'status'], ['--version']]);
  });

  it('version says to run `container system start` when the services are down', async () => {
    answer({ system: { code: 1, stderr: 'apiserver is not running and not registered with launchd\n' } });
    await assert.rejects(runtime.version(), /services are not running \(apiserver is not running and not registered with launchd\)\. Run `container system start`/);
  });

  it('says how to install the CLI when there is no `container` command', async () => {
    const missing = new AppleContainerRuntime({ command: 'container-not-installed-here' });
    await assert.rejects(missing.version(), /the `container-not-installed-here` command is not installed or not on PATH/);
  });
});
