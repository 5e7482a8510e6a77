import { setTimeout as sleep } from 'node:timers/promises';
import { containerStats, EngineApi } from './engine-api.ts';
import { RuntimeError, type ContainerExit, type ContainerRuntime, type ContainerSpec } from '../runtime.ts';

/**
 * Docker Engine through its HTTP API on the local socket (no CLI, no shell).
 * `runtime: 'runsc'` in the spec selects gVisor, registered in the engine's
 * daemon.json by scripts/docker-engine.sh.
 */
export class DockerRuntime implements ContainerRuntime {
  private readonly api: EngineApi;

  constructor(opts: { socketPath?: string } = {}) {
    this.api = new EngineApi(opts.socketPath ?? process.env.DOCKER_SOCKET ?? '/var/run/docker.sock');
  }

  async start(spec: ContainerSpec): Promise<{ name: string; id: string }> {
    try {
      const body = createBody(spec, (t) => t.uid !== undefined ? `0700,uid=${t.uid},gid=${t.gid ?? t.uid}` : '1777');
      const created = await this.api.request<{ Id: string }>('POST', '/containers/create', { query: { name: spec.name }, body });
      await this.api.request('POST', `/containers/${created.Id}/start`);
      return { name: spec.name, id: created.Id };
    } catch (err) {
      await this.destroy(spec.name, 0).catch(() => {});
      throw new RuntimeError(`could not start container ${spec.name} from ${spec.image}: ${(err as Error).message}. ` +
        'Run `nanoclaw doctor` to check the engine and the image.', { cause: err });
    }
  }

  async destroy(name: string, graceSec = 5): Promise<void> {
    const path = `/containers/${encodeURIComponent(name)}`;
    try {
      await this.api.request('POST', `${path}/stop`, { query: { t: graceSec } });
    } catch (err) {
      // 304: already stopped.
      if (!isGone(err) && (err as any).statusCode !== 304) throw err;
    }
    try {
      await this.api.request('DELETE', path, { query: { force: true, v: true } });
    } catch (err) {
      // 409: removal already in progress (two paths racing to clean up).
      if (!isGone(err) && (err as any).statusCode !== 409) throw err;
    }
  }

  async wait(name: string): Promise<ContainerExit> {
    const path = `/containers/${encodeURIComponent(name)}`;
    try {
      const res = await this.api.request<{ StatusCode: number }>('POST', `${path}/wait`);
      let oomKilled = false;
      try { oomKilled = !!(await this.api.request<any>('GET', `${path}/json`)).State?.OOMKilled; } catch { /* removed meanwhile */ }
      return { exitCode: res.StatusCode, oomKilled };
    } catch (err) {
      if (isGone(err)) return { exitCode: -1, oomKilled: false };
      throw err;
    }
  }

  async list(labels: Record<string, string>) {
    const filters = JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
    const found = await this.api.request<Array<{ Names: string[]; State: string; Labels: Record<string, string> }>>('GET', '/containers/json', { query: { all: true, filters } });
    return found.map((c) => ({ name: (c.Names[0] ?? '').replace(/^\//, ''), state: c.State, labels: c.Labels ?? {} }));
  }

  async hasImage(image: string): Promise<boolean> {
    try {
      await this.api.request('GET', `/images/${encodeURI(image)}/json`);
      return true;
    } catch (err) {
      if (isGone(err)) return false;
      throw err;
    }
  }

  stats(name: string) {
    return containerStats(this.api, name);
  }

  async version(): Promise<string> {
    const v = await this.api.request<{ Version: string; ApiVersion: string }>('GET', '/version', { timeoutMs: 10_000 });
    return `Docker Engine ${v.Version} (API ${v.ApiVersion})`;
  }

  /** The engine's event stream, filtered to OOM events; reconnects (with a pause) while watched. */
  watchOutOfMemory(labels: Record<string, string>, onOom: (name: string) => void): () => void {
    const controller = new AbortController();
    const filters = JSON.stringify({ type: ['container'], event: ['oom'], label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
    void (async () => {
      while (!controller.signal.aborted) {
        await this.api.stream('/events', { filters }, (ev) => {
          const name = ev?.Actor?.Attributes?.name;
          if (ev?.Action === 'oom' && typeof name === 'string') onOom(name);
        }, controller.signal).catch(() => {});
        await sleep(1000, undefined, { ref: false, signal: controller.signal }).catch(() => {});
      }
    })();
    return () => controller.abort();
  }
}

/**
 * The Engine API's create body for a hardened spec (Docker's, and Podman's
 * Docker-compatible one). Engines differ only in how a tmpfs is given an
 * owner, so the caller supplies the mode part of each tmpfs's options.
 */
export function createBody(spec: ContainerSpec, tmpfsMode: (t: ContainerSpec['tmpfs'][string]) => string): Record<string, unknown> {
  const tmpfs: Record<string, string> = {};
  for (const [path, t] of Object.entries(spec.tmpfs)) tmpfs[path] = `rw,nosuid,nodev,size=${t.sizeMb}m,mode=${tmpfsMode(t)}`;
  return {
    Image: spec.image,
    User: spec.user,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels,
    NetworkDisabled: !spec.network,
    HostConfig: {
      Runtime: spec.runtime,
      NetworkMode: spec.network ? 'bridge' : 'none',
      ReadonlyRootfs: spec.readOnlyRoot,
      CapDrop: spec.dropAllCapabilities ? ['ALL'] : [],
      SecurityOpt: spec.noNewPrivileges ? ['no-new-privileges'] : [],
      Memory: spec.memoryBytes,
      MemorySwap: spec.memoryBytes,
      NanoCpus: spec.nanoCpus,
      PidsLimit: spec.pidsLimit,
      Tmpfs: tmpfs,
      Binds: spec.mounts.map((m) => `${m.hostPath}:${m.containerPath}:${m.readOnly ? 'ro' : 'rw'}`),
      IpcMode: 'private',
      // tini as PID 1: reaps zombies the agent's tools leave, forwards signals.
      Init: true,
    },
  };
}

function isGone(err: unknown): boolean {
  return (err as any)?.statusCode === 404;
}
