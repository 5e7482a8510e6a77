import Docker from 'dockerode';
import { RuntimeError, type ContainerExit, type ContainerRuntime, type ContainerSpec } from '../runtime.ts';

/**
 * Docker Engine through its HTTP API on the local socket (no CLI, no shell).
 * `runtime: 'runsc'` in the spec selects gVisor, registered in the engine's
 * daemon.json by scripts/docker-engine.sh.
 */
export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker;

  constructor(opts: { socketPath?: string } = {}) {
    this.docker = new Docker({ socketPath: opts.socketPath ?? process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });
  }

  async start(spec: ContainerSpec): Promise<{ name: string; id: string }> {
    const tmpfs: Record<string, string> = {};
    for (const [path, t] of Object.entries(spec.tmpfs)) {
      const owner = t.uid !== undefined ? `,uid=${t.uid},gid=${t.gid ?? t.uid}` : '';
      tmpfs[path] = `rw,nosuid,nodev,size=${t.sizeMb}m,mode=${t.uid !== undefined ? '0700' : '1777'}${owner}`;
    }
    try {
      // Only the name goes in the query string: dockerode would otherwise copy
      // the whole body there, token included, where engine logs and proxies see URLs.
      const body = {
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
          Init: true,
        },
      };
      const container = await this.docker.createContainer({ _query: { name: spec.name }, _body: body } as unknown as Docker.ContainerCreateOptions);
      await container.start();
      return { name: spec.name, id: container.id };
    } catch (err) {
      await this.destroy(spec.name, 0).catch(() => {});
      throw new RuntimeError(`could not start container ${spec.name} from ${spec.image}: ${(err as Error).message}. ` +
        'Run `nanoclaw doctor` to check the engine and the image.', { cause: err });
    }
  }

  async destroy(name: string, graceSec = 5): Promise<void> {
    const c = this.docker.getContainer(name);
    try {
      await c.stop({ t: graceSec });
    } catch (err) {
      if (!isGone(err) && (err as any).statusCode !== 304) throw err;
    }
    try {
      await c.remove({ force: true, v: true });
    } catch (err) {
      // 409: removal already in progress (two paths racing to clean up).
      if (!isGone(err) && (err as any).statusCode !== 409) throw err;
    }
  }

  async wait(name: string): Promise<ContainerExit> {
    const c = this.docker.getContainer(name);
    try {
      const res = await c.wait();
      let oomKilled = false;
      try { oomKilled = !!(await c.inspect()).State.OOMKilled; } catch { /* removed meanwhile */ }
      return { exitCode: res.StatusCode, oomKilled };
    } catch (err) {
      if (isGone(err)) return { exitCode: -1, oomKilled: false };
      throw err;
    }
  }

  async list(labels: Record<string, string>) {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const found = await this.docker.listContainers({ all: true, filters });
    return found.map((c) => ({ name: (c.Names[0] ?? '').replace(/^\//, ''), state: c.State, labels: c.Labels }));
  }

  async hasImage(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if (isGone(err)) return false;
      throw err;
    }
  }

  async version(): Promise<string> {
    const v = await this.docker.version();
    return `Docker Engine ${v.Version} (API ${v.ApiVersion})`;
  }
}

function isGone(err: unknown): boolean {
  return (err as any)?.statusCode === 404;
}
