/**
 * PodmanRuntime, two ways:
 * 1. The exact requests: the runtime talks to a local server on a Unix socket
 *    that speaks enough of the Docker-compatible API Podman serves, and every
 *    request is recorded. These always run.
 * 2. End to end against a real `podman system service`: the gateway runs a
 *    real conversation in a Podman container and the agent probes its own
 *    sandbox. Skipped, with the reason, where podman is not installed, not
 *    root, or the agent image is in neither Podman nor Docker.
 */
import assert from 'node:assert/strict';
import { RUNSC_THREAD_ALLOWANCE } from '../src/sandbox/profile.ts';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startApp, type App } from '../src/app.ts';
import { ConfigSchema } from '../src/config/schema.ts';
import { startFakeAnthropic, type FakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { PodmanRuntime, defaultPodmanSocket } from '../src/sandbox/podman/index.ts';
import { LABEL_HOME, LABEL_MANAGED, hardenedSpec } from '../src/sandbox/profile.ts';
import { RuntimeError, type ContainerSpec } from '../src/sandbox/runtime.ts';
import { pollUntil } from './support/wait.ts';

interface Recorded { method: string; path: string; body: any }
type Reply = { status: number; body?: unknown };

/** What `GET /libpod/info` says on rootful Podman 4.3 with cgroup v1 (trimmed to the fields the runtime reads). */
const ROOTFUL_INFO = {
  host: {
    cgroupVersion: 'v1',
    cgroupControllers: ['cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'pids'],
    security: { rootless: false },
  },
};

/**
 * A stand-in for `podman system service`: routes by method and path, answers
 * from `replies` (or a default), records everything.
 */
class FakePodman {
  readonly dir = mkdtempSync(join(tmpdir(), 'nct-podman-'));
  readonly socketPath = join(this.dir, 'podman.sock');
  requests: Recorded[] = [];
  replies: Record<string, Reply> = {};
  private server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => { raw += d; });
    req.on('end', () => {
      const path = req.url ?? '';
      this.requests.push({ method: req.method ?? '', path, body: raw ? JSON.parse(raw) : undefined });
      const key = `${req.method} ${path.split('?')[0]}`;
      const reply = this.replies[key] ?? this.defaultReply(key);
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
    });
  });

  private defaultReply(key: string): Reply {
    if (key === 'GET /_ping') return { status: 200, body: 'OK' };
    if (key === 'GET /version') return { status: 200, body: { Version: '4.3.1', ApiVersion: '1.41', Components: [{ Name: 'Podman Engine', Version: '4.3.1' }] } };
    if (key === 'GET /v4.0.0/libpod/info') return { status: 200, body: ROOTFUL_INFO };
    if (key === 'POST /containers/create') return { status: 201, body: { Id: 'c0ffee', Warnings: [] } };
    if (/^POST \/containers\/[^/]+\/(start|stop)$/.test(key)) return { status: 204 };
    if (/^DELETE \/containers\/[^/]+$/.test(key)) return { status: 204 };
    if (/^POST \/containers\/[^/]+\/wait$/.test(key)) return { status: 200, body: { StatusCode: 0, Error: null } };
    if (/^GET \/containers\/[^/]+\/json$/.test(key)) return { status: 200, body: { State: { OOMKilled: false } } };
    if (/^GET \/v4\.0\.0\/libpod\/containers\/[^/]+\/json$/.test(key)) return { status: 200, body: { OCIRuntime: 'runc' } };
    if (key === 'GET /containers/json') return { status: 200, body: [] };
    return { status: 404, body: { cause: 'no such object', message: `no route for ${key}`, response: 404 } };
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.socketPath, resolve));
  }

  async close(): Promise<void> {
    await new Promise((resolve) => this.server.close(resolve));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Requests other than the engine checks (info, version, ping). */
  calls(): string[] {
    return this.requests.filter((r) => !/^(\/v4\.0\.0\/libpod)?\/(info|version|_ping)/.test(r.path)).map((r) => `${r.method} ${r.path}`);
  }
}

/** The spec the real hardened profile gives with default config, for a conversation in a home at /srv/nc. */
function profileSpec(): ContainerSpec {
  return hardenedSpec(ConfigSchema.parse({}), {
    name: 'nanoclaw-abc123', runDir: '/srv/nc/run/abc123', workspaceDir: '/srv/nc/conv/x/workspace',
    stateDir: '/srv/nc/conv/x/state', globalDir: '/srv/nc/global', memoryDir: '/srv/nc/conv/x/memory',
    token: 'tok-123', home: '/srv/nc', conversationId: 'api:x',
  });
}

describe('PodmanRuntime: the exact requests Podman gets', () => {
  let fake: FakePodman;
  let runtime: PodmanRuntime;
  before(async () => { fake = new FakePodman(); await fake.listen(); });
  after(async () => { await fake.close(); });
  beforeEach(() => {
    fake.requests = [];
    fake.replies = {};
    runtime = new PodmanRuntime({ socketPath: fake.socketPath });
  });

  it('start creates the container with every hardening field of the profile, then starts it', async () => {
    const started = await runtime.start(profileSpec());
    assert.deepEqual(started, { name: 'nanoclaw-abc123', id: 'c0ffee' });
    // Only the name travels in the URL: the token in Env must not land in request logs.
    assert.deepEqual(fake.calls(), ['POST /containers/create?name=nanoclaw-abc123', 'POST /containers/c0ffee/start']);
    const create = fake.requests.find((r) => r.path.startsWith('/containers/create'))!;
    assert.deepEqual(create.body, {
      Image: 'nanoclaw-agent:latest',
      User: '61000:61000',
      Env: ['HOME=/home/agent', 'NANOCLAW_TOKEN=tok-123', 'NANOCLAW_RUNNER_RUNTIME=bun'],
      Labels: { 'org.nanoclaw.managed': 'true', 'org.nanoclaw.home': '/srv/nc', 'org.nanoclaw.conversation': 'api:x' },
      NetworkDisabled: true,
      HostConfig: {
        NetworkMode: 'none',
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Memory: 1024 * 1024 * 1024,
        MemorySwap: 1024 * 1024 * 1024,
        NanoCpus: 1_000_000_000,
        PidsLimit: 256,
        // Podman refuses uid=/gid=; `U` gives the tmpfs to the container's user (61000:61000).
        Tmpfs: {
          '/tmp': 'rw,nosuid,nodev,size=256m,mode=1777',
          '/home/agent': 'rw,nosuid,nodev,size=256m,mode=0700,U',
        },
        Binds: [
          '/srv/nc/run/abc123:/run/nanoclaw:ro',
          '/srv/nc/conv/x/workspace:/workspace:rw',
          '/srv/nc/conv/x/state:/home/agent/.claude:rw',
          '/srv/nc/global:/global:ro',
          '/srv/nc/conv/x/memory:/memory:rw',
        ],
        IpcMode: 'private',
        Init: true,
      },
    });
  });

  it('start asks for gVisor by name and starts the container once Podman shows it really chose runsc', async () => {
    fake.replies['GET /v4.0.0/libpod/containers/nanoclaw-abc123/json'] = { status: 200, body: { OCIRuntime: 'runsc' } };
    await runtime.start({ ...profileSpec(), runtime: 'runsc' });
    const create = fake.requests.find((r) => r.path.startsWith('/containers/create'))!;
    assert.equal(create.body.HostConfig.Runtime, 'runsc');
    assert.deepEqual(fake.calls(), ['POST /containers/create?name=nanoclaw-abc123', 'GET /v4.0.0/libpod/containers/nanoclaw-abc123/json', 'POST /containers/c0ffee/start']);
  });

  it('start refuses, and removes the unstarted container, when Podman chose another runtime than the runsc asked for', async () => {
    await assert.rejects(runtime.start({ ...profileSpec(), runtime: 'runsc' }), (err: Error) => {
      assert.ok(err instanceof RuntimeError);
      assert.match(err.message, /asked for the runsc runtime and Podman \(.*\) created it with runc/);
      assert.match(err.message, /\[engine\] runtime = "runsc"/);
      return true;
    });
    assert.deepEqual(fake.calls(), [
      'POST /containers/create?name=nanoclaw-abc123', 'GET /v4.0.0/libpod/containers/nanoclaw-abc123/json',
      'POST /containers/nanoclaw-abc123/stop?t=0', 'DELETE /containers/nanoclaw-abc123?force=true&v=true',
    ]);
  });

  it('start refuses where Podman would silently drop the limits: rootless on cgroup v1', async () => {
    fake.replies['GET /v4.0.0/libpod/info'] = { status: 200, body: { host: { ...ROOTFUL_INFO.host, security: { rootless: true } } } };
    await assert.rejects(runtime.start(profileSpec()), /rootless Podman on cgroup v1 cannot enforce memory, pids or CPU limits and would run the container without them/);
    assert.deepEqual(fake.calls(), []);
  });

  it('start refuses where Podman would silently drop the limits: rootless on cgroup v2 without the pids controller delegated', async () => {
    fake.replies['GET /v4.0.0/libpod/info'] = { status: 200, body: { host: { cgroupVersion: 'v2', cgroupControllers: ['cpu', 'memory'], security: { rootless: true } } } };
    await assert.rejects(runtime.start(profileSpec()), /Podman cannot use the pids cgroup controller here and would run the container without those limits\. Delegate them to this user/);
    assert.deepEqual(fake.calls(), []);
  });

  it('start refuses a tmpfs owned by someone other than the container user, since Podman can only chown to that user', async () => {
    const spec = profileSpec();
    spec.tmpfs['/home/agent'] = { sizeMb: 64, uid: 2000, gid: 2000 };
    await assert.rejects(runtime.start(spec), /tmpfs \/home\/agent must belong to 2000:2000, but Podman can only give a tmpfs to the container's user \(61000:61000\)/);
    assert.deepEqual(fake.calls(), []);
  });

  it('a failed start removes the half-made container and says what to fix', async () => {
    fake.replies['POST /containers/c0ffee/start'] = { status: 500, body: { cause: 'OCI permission denied', message: 'runc: runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted: OCI permission denied', response: 500 } };
    await assert.rejects(runtime.start(profileSpec()), (err: Error) => {
      assert.ok(err instanceof RuntimeError);
      assert.match(err.message, /could not start container nanoclaw-abc123 from nanoclaw-agent:latest on Podman/);
      assert.match(err.message, /default_ulimits/);
      return true;
    });
    assert.deepEqual(fake.calls().slice(-2), ['POST /containers/nanoclaw-abc123/stop?t=0', 'DELETE /containers/nanoclaw-abc123?force=true&v=true']);
  });

  it('start and version say how to start Podman when nothing answers on the socket', async () => {
    const nowhere = new PodmanRuntime({ socketPath: join(fake.dir, 'missing.sock') });
    await assert.rejects(nowhere.start(profileSpec()), /Podman does not answer on .*missing\.sock .*podman system service --time=0/);
    await assert.rejects(nowhere.version(), /Podman does not answer on .*missing\.sock .*podman system service --time=0/);
  });

  it('destroy stops with the grace period, then removes with its volumes', async () => {
    await runtime.destroy('nanoclaw-abc123', 7);
    assert.deepEqual(fake.calls(), ['POST /containers/nanoclaw-abc123/stop?t=7', 'DELETE /containers/nanoclaw-abc123?force=true&v=true']);
  });

  it('destroy of a container that is already gone is not an error', async () => {
    fake.replies['POST /containers/gone/stop'] = { status: 404, body: { message: 'no container with name or ID "gone" found: no such container' } };
    fake.replies['DELETE /containers/gone'] = { status: 404, body: { message: 'no container with name or ID "gone" found: no such container' } };
    await runtime.destroy('gone');
    assert.deepEqual(fake.calls(), ['POST /containers/gone/stop?t=5', 'DELETE /containers/gone?force=true&v=true']);
  });

  it('wait resolves with the exit code and whether the kernel OOM-killed it', async () => {
    fake.replies['POST /containers/nanoclaw-abc123/wait'] = { status: 200, body: { StatusCode: 137, Error: null } };
    fake.replies['GET /containers/nanoclaw-abc123/json'] = { status: 200, body: { State: { OOMKilled: true } } };
    assert.deepEqual(await runtime.wait('nanoclaw-abc123'), { exitCode: 137, oomKilled: true });
    assert.deepEqual(fake.calls(), ['POST /containers/nanoclaw-abc123/wait', 'GET /containers/nanoclaw-abc123/json']);
  });

  it('list asks for all containers carrying every label, and names them without the slash', async () => {
    fake.replies['GET /containers/json'] = { status: 200, body: [{ Names: ['/nanoclaw-1'], State: 'running', Labels: { [LABEL_MANAGED]: 'true', [LABEL_HOME]: '/srv/nc' } }] };
    const found = await runtime.list({ [LABEL_MANAGED]: 'true', [LABEL_HOME]: '/srv/nc' });
    assert.deepEqual(found, [{ name: 'nanoclaw-1', state: 'running', labels: { [LABEL_MANAGED]: 'true', [LABEL_HOME]: '/srv/nc' } }]);
    const req = fake.requests.find((r) => r.path.startsWith('/containers/json'))!;
    const query = new URL(req.path, 'http://x').searchParams;
    assert.equal(query.get('all'), 'true');
    assert.deepEqual(JSON.parse(query.get('filters')!), { label: ['org.nanoclaw.managed=true', 'org.nanoclaw.home=/srv/nc'] });
  });

  it('hasImage is true when Podman knows the image and false when it answers 404', async () => {
    fake.replies['GET /images/nanoclaw-agent:latest/json'] = { status: 200, body: { Id: 'sha256:51e4' } };
    assert.equal(await runtime.hasImage('nanoclaw-agent:latest'), true);
    assert.equal(await runtime.hasImage('other:1'), false);
    assert.deepEqual(fake.calls(), ['GET /images/nanoclaw-agent:latest/json', 'GET /images/other:1/json']);
  });

  it('version names Podman, and refuses an engine that is not Podman', async () => {
    assert.equal(await runtime.version(), 'Podman 4.3.1 (Docker API 1.41)');
    fake.replies['GET /version'] = { status: 200, body: { Version: '20.10.24', ApiVersion: '1.41', Components: [{ Name: 'Engine', Version: '20.10.24' }] } };
    await assert.rejects(runtime.version(), /answers, but not as Podman \(it says Engine 20\.10\.24\)/);
  });

  it('the default socket is rootful Podman\'s for root and the user\'s own otherwise', () => {
    assert.equal(defaultPodmanSocket({}, 0), '/run/podman/podman.sock');
    assert.equal(defaultPodmanSocket({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), '/run/user/1000/podman/podman.sock');
    assert.equal(defaultPodmanSocket({}, 1001), '/run/user/1001/podman/podman.sock');
  });
});

// ---------------------------------------------------------------------------
// End to end with real Podman.

const IMAGE = 'nanoclaw-agent:latest';
const REAL_KEY = 'sk-ant-test-REAL-KEY-podman-0123456789';

/** Why the real-Podman tests cannot run here, or undefined when they can. */
function e2eSkipReason(): string | undefined {
  if (spawnSync('podman', ['--version']).status !== 0) return 'podman is not installed (Debian: apt-get install podman catatonit)';
  if (process.getuid?.() !== 0) return 'these tests run rootful Podman and need root';
  const inPodman = imageId('podman');
  const inDocker = imageId('docker');
  if (!inPodman && !inDocker) return `the agent image ${IMAGE} is in neither Podman nor Docker (build it with image/build.sh)`;
  return undefined;
}

function imageId(engine: 'docker' | 'podman'): string | undefined {
  const r = spawnSync(engine, ['image', 'inspect', '--format', '{{.Id}}', IMAGE], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().replace(/^sha256:/, '') : undefined;
}

/** Copies Docker's agent image into Podman when Podman lacks it or has an older build (no registry here). */
function syncImageFromDocker(): void {
  const docker = imageId('docker');
  if (!docker || imageId('podman') === docker) return;
  execFileSync('sh', ['-c', `docker save ${IMAGE} | podman load`], { stdio: 'ignore', timeout: 300_000 });
}

/** /proc/self/limits as numbers: Podman's containers may not ask for more than the gateway itself has. */
function hardLimit(name: string): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(name))!;
  const hard = line.slice(name.length).trim().split(/\s+/)[1];
  return hard === 'unlimited' ? 1048576 : Number(hard);
}

/**
 * A private `podman system service` on a socket in a temp folder, with its own
 * containers.conf:
 * - default_ulimits within this process's hard limits: rootful Podman 4.3
 *   otherwise asks for nofile 1048576 and nproc 32768, which runc cannot set
 *   where root lacks CAP_SYS_RESOURCE and the hard limits are lower (as in
 *   these VMs). Podman also caps its own nproc limit, which conmon and runc
 *   inherit, at 32768 (observed), so the container cannot have more.
 * - for gVisor: runsc as the default runtime, through a wrapper with the two
 *   flags gVisor needs here (the ones scripts/gvisor.sh gives Docker), around
 *   the runsc that script installs.
 */
async function startPodmanService(dir: string, defaultRuntime: 'runc' | 'runsc'): Promise<{ socketPath: string; proc: ChildProcess }> {
  const socketPath = join(dir, 'podman.sock');
  const nofile = hardLimit('Max open files');
  const nproc = Math.min(hardLimit('Max processes'), 32768);
  const conf = ['[containers]', `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`];
  if (defaultRuntime === 'runsc') {
    // Podman's API ignores a runtime named per container, so gVisor is the service's default.
    const wrapper = join(dir, 'runsc-nanoclaw');
    writeFileSync(wrapper, `#!/bin/sh\nexec ${RUNSC} --network=none --host-uds=open "$@"\n`);
    chmodSync(wrapper, 0o755);
    conf.push('[engine]', 'runtime = "runsc"', '[engine.runtimes]', `runsc = ["${wrapper}"]`);
  }
  writeFileSync(join(dir, 'containers.conf'), conf.join('\n') + '\n');
  const proc = spawn('podman', ['system', 'service', '--time=0', `unix://${socketPath}`], {
    env: { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') }, stdio: 'ignore',
  });
  const runtime = new PodmanRuntime({ socketPath });
  await pollUntil('podman system service answers', () => runtime.version().then(() => true, () => false), 30_000, 200);
  return { socketPath, proc };
}

const skip = e2eSkipReason();

/** Where scripts/gvisor.sh installs gVisor (Debian 13's build: Debian 12's breaks stat, ls and find). */
const RUNSC = '/usr/local/bin/runsc';
const gvisorHere = existsSync(RUNSC);

describe('PodmanRuntime end to end: a conversation in a real Podman container', { skip }, () => {
  let fake: FakeAnthropic;
  before(async () => {
    syncImageFromDocker();
    fake = await startFakeAnthropic();
  });
  after(async () => { await fake?.close(); });

  for (const ociRuntime of ['runc', 'runsc'] as const) describe(`under ${ociRuntime}`, { skip: ociRuntime === 'runsc' && !gvisorHere && `${RUNSC} is not installed (scripts/gvisor.sh installs it)` }, () => {
    let app: App | undefined;
    let home: string;
    let dir: string;
    let service: Awaited<ReturnType<typeof startPodmanService>>;
    let runtime: PodmanRuntime;
    const ask = async (text: string): Promise<string> => {
      const res = await fetch(`${app!.http.url}/api/v1/conversations/probe/messages`, {
        method: 'POST', body: JSON.stringify({ text }),
        headers: { authorization: `Bearer ${app!.token}`, 'content-type': 'application/json' },
      });
      const body: any = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      return body.replies.map((r: any) => r.text).join('\n');
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'nct-podman-e2e-'));
      service = await startPodmanService(dir, ociRuntime);
      home = mkdtempSync(join(tmpdir(), 'nct-podman-home-'));
      runtime = new PodmanRuntime({ socketPath: service.socketPath });
      app = await startApp({
        home, runtime,
        env: {
          PATH: process.env.PATH, ANTHROPIC_API_KEY: REAL_KEY, ANTHROPIC_BASE_URL: fake.url,
          NANOCLAW_CHANNELS_API_PORT: '0', NANOCLAW_CONTAINER_PRESTART: '0', NANOCLAW_CONTAINER_RUNTIME: ociRuntime,
          NANOCLAW_LOG: process.env.NANOCLAW_LOG ?? 'silent',
        },
      });
    });
    after(async () => {
      await app?.stop();
      if (service?.proc.pid) process.kill(service.proc.pid, 'SIGTERM');
      rmSync(home, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    });

    // gVisor has no cgroup files inside the sandbox and runs its own init; the limits are
    // checked in Podman's record of the container instead (last test).
    const runcOnly = ociRuntime === 'runsc' ? 'gVisor shows no cgroup files inside the sandbox' : undefined;

    it('the agent answers from inside the container, as a non-root user with no capabilities', async () => {
      const reply = await ask('run: id -u; grep -E "^(CapPrm|CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status');
      assert.match(reply, /^61000$/m);
      for (const cap of ['CapPrm', 'CapEff', 'CapBnd']) assert.match(reply, new RegExp(`${cap}:\\s+0000000000000000`));
      // gVisor reports neither flag (it is still passed to it); under runc: no-new-privileges, and a seccomp filter (mode 2).
      if (ociRuntime === 'runc') {
        assert.match(reply, /NoNewPrivs:\s+1/);
        assert.match(reply, /Seccomp:\s+2/);
      }
    });

    it(ociRuntime === 'runc' ? 'runs on the host\'s kernel' : 'runs on gVisor\'s own kernel, not the host\'s', async () => {
      const reply = await ask('run: echo "kernel=$(uname -r)"');
      const kernel = /^kernel=(.*)$/m.exec(reply)?.[1];
      if (ociRuntime === 'runc') assert.equal(kernel, release());
      else assert.notEqual(kernel, release());
    });

    it('has a read-only root, a writable workspace and scratch, a home it owns (stat, ls and find work, under gVisor too), and no network but loopback', async () => {
      const reply = await ask('run: ' + [
        'for d in / /etc /usr /run/nanoclaw /global /workspace /tmp /home/agent; do if touch "$d/.w" 2>/dev/null; then echo "$d writable"; rm -f "$d/.w"; else echo "$d read-only"; fi; done',
        // stat, ls and find use statx, whose flags Debian 12's runsc rejected: trixie's must take them.
        'echo "home-owner=$(stat -c %u:%g /home/agent)"',
        'echo "ls=$(ls -ld /opt/nanoclaw/runner | cut -c1)"',
        'echo "find=$(find /opt/nanoclaw/runner/dist -name main.js | wc -l)"',
        'echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\\n" ",")"',
      ].join('; '));
      for (const d of ['/', '/etc', '/usr', '/run/nanoclaw', '/global']) assert.match(reply, new RegExp(`^${d.replace(/\//g, '\\/')} read-only$`, 'm'));
      for (const d of ['/workspace', '/tmp', '/home/agent']) assert.match(reply, new RegExp(`^${d.replace(/\//g, '\\/')} writable$`, 'm'));
      assert.match(reply, /^home-owner=61000:61000$/m);
      assert.match(reply, /^ls=d$/m);
      assert.match(reply, /^find=1$/m);
      assert.match(reply, /^ifaces=lo,$/m);
    });

    it('is held to the profile\'s pids and memory limits, with Podman\'s init as PID 1', { skip: runcOnly }, async () => {
      const reply = await ask('run: ' + [
        'echo "pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"',
        'echo "mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"',
        'echo "init=$(tr "\\0" " " < /proc/1/cmdline)"',
      ].join('; '));
      assert.match(reply, /^pids=256$/m);
      assert.match(reply, new RegExp(`^mem=${1024 * 1024 * 1024}$`, 'm'));
      assert.match(reply, /^init=\/run\/podman-init -- /m);
    });

    it('Podman holds the container under its labels with the hardening applied, and has none left after the gateway stops', async () => {
      const running = await runtime.list({ [LABEL_MANAGED]: 'true', [LABEL_HOME]: home });
      assert.equal(running.length, 1, JSON.stringify(running));
      assert.equal(running[0].state, 'running');
      const inspect = JSON.parse(execFileSync('podman', ['--url', `unix://${service.socketPath}`, 'inspect', running[0].name], { encoding: 'utf8' }))[0];
      assert.equal(inspect.OCIRuntime, ociRuntime);
      assert.equal(inspect.Config.User, '61000:61000');
      assert.deepEqual(inspect.EffectiveCaps ?? [], []);
      assert.equal(inspect.HostConfig.ReadonlyRootfs, true);
      assert.equal(inspect.HostConfig.NetworkMode, 'none');
      // Under gVisor the cgroup also holds the sandbox kernel's threads: the profile adds an allowance.
      assert.equal(inspect.HostConfig.PidsLimit, ociRuntime === 'runsc' ? 256 + RUNSC_THREAD_ALLOWANCE : 256);
      assert.equal(inspect.HostConfig.Memory, 1024 * 1024 * 1024);
      assert.ok(inspect.HostConfig.SecurityOpt.includes('no-new-privileges'), JSON.stringify(inspect.HostConfig.SecurityOpt));
      await app!.stop();
      app = undefined;
      assert.deepEqual(await runtime.list({ [LABEL_MANAGED]: 'true', [LABEL_HOME]: home }), []);
    });
  });
});
