import { DockerRuntime } from '../docker/index.ts';
import { createBody as dockerCreateBody } from '../docker/runtime.ts';
import { containerStats, EngineApi } from '../docker/engine-api.ts';
import { RuntimeError, type ContainerExit, type ContainerRuntime, type ContainerSpec } from '../runtime.ts';

/**
 * Podman through the Docker-compatible API that `podman system service`
 * serves on a Unix socket: the same requests as Docker, with the differences
 * below. Stopping, waiting, listing and image checks are the same calls, so
 * they go through DockerRuntime on the same socket.
 *
 *   const runtime = new PodmanRuntime({ socketPath: '/run/podman/podman.sock' });
 *   const c = await runtime.start(spec);
 *
 * Differences that matter (checked against Podman 4.3):
 * - A tmpfs owned by a uid: Podman refuses Docker's `uid=`/`gid=` mount
 *   options ("unknown mount option"). Its `U` option chowns the tmpfs to the
 *   container's user instead, which is what the profile asks for; a tmpfs
 *   owned by anyone else is refused rather than left owned by root.
 * - Limits: rootless Podman on cgroup v1 (or on v2 without the controllers
 *   delegated to the user) accepts Memory/PidsLimit/NanoCpus and then drops
 *   them with only a warning in its own log. `start` asks the engine first
 *   (libpod /info) and refuses instead.
 * - `Init: true` runs catatonit (Debian package `catatonit`), not tini.
 * - gVisor: Podman's API does not honour the runtime a request names
 *   (HostConfig.Runtime, like the libpod API's oci_runtime, is dropped and
 *   the service's default runtime is used; checked on 4.3, reported upstream
 *   as containers/podman#28429). Asking for runsc would silently give runc.
 *   So `start` reads back the runtime Podman actually chose (libpod inspect)
 *   before starting the container, and refuses a mismatch. gVisor under
 *   Podman therefore means a Podman service whose default runtime is runsc
 *   (containers.conf `[engine] runtime = "runsc"`); see docs/runtimes.md.
 * - Rootful Podman sets the container's nofile limit to 1048576 (and nproc
 *   to 32768) unless containers.conf `default_ulimits` says otherwise; where
 *   root lacks CAP_SYS_RESOURCE and the host's hard limit is lower (some VMs
 *   and nested containers) runc then fails with "error setting rlimits".
 *   The error says so.
 */
export class PodmanRuntime implements ContainerRuntime {
  readonly socketPath: string;
  private readonly api: EngineApi;
  private readonly compat: DockerRuntime;

  constructor(opts: { socketPath?: string } = {}) {
    this.socketPath = opts.socketPath || defaultPodmanSocket();
    this.api = new EngineApi(this.socketPath);
    this.compat = new DockerRuntime({ socketPath: this.socketPath });
  }

  async start(spec: ContainerSpec): Promise<{ name: string; id: string }> {
    const facts = await this.facts();
    const refusal = refuse(spec, facts);
    if (refusal) throw new RuntimeError(`will not start container ${spec.name} on Podman (${this.socketPath}): ${refusal}`);
    try {
      // The create options travel only as the body: they carry the token in Env.
      const container = await this.api.request<{ Id: string }>('POST', '/containers/create', { query: { name: spec.name }, body: createBody(spec) });
      if (spec.runtime) {
        const chosen = (await this.libpod(`/containers/${encodeURIComponent(spec.name)}/json`)).OCIRuntime;
        if (chosen !== spec.runtime) {
          await this.destroy(spec.name, 0).catch(() => {});
          throw new RuntimeError(`will not start container ${spec.name}: it asked for the ${spec.runtime} runtime and Podman (${this.socketPath}) created it with ${chosen}. ` +
            `Podman's API ignores the runtime a request names; make ${spec.runtime} the default runtime of this Podman service (containers.conf [engine] runtime = "${spec.runtime}"), see docs/runtimes.md.`);
        }
      }
      await this.api.request('POST', `/containers/${container.Id}/start`);
      return { name: spec.name, id: container.Id };
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      await this.destroy(spec.name, 0).catch(() => {});
      throw new RuntimeError(`could not start container ${spec.name} from ${spec.image} on Podman (${this.socketPath}): ${(err as Error).message}. ${hint(err)}`, { cause: err });
    }
  }

  destroy(name: string, graceSec?: number): Promise<void> {
    return this.compat.destroy(name, graceSec);
  }

  wait(name: string): Promise<ContainerExit> {
    return this.compat.wait(name);
  }

  list(labels: Record<string, string>) {
    return this.compat.list(labels);
  }

  hasImage(image: string): Promise<boolean> {
    return this.compat.hasImage(image);
  }

  stats(name: string) {
    return containerStats(this.api, name);
  }

  async version(): Promise<string> {
    let v: { Version: string; ApiVersion: string; Components?: Array<{ Name: string; Version: string }> };
    try {
      v = await this.api.request('GET', '/version', { timeoutMs: 10_000 });
    } catch (err) {
      throw notAnswering(this.socketPath, err);
    }
    const podman = v.Components?.find((c) => c.Name === 'Podman Engine');
    if (!podman) {
      throw new RuntimeError(`${this.socketPath} answers, but not as Podman (it says ${v.Components?.[0]?.Name ?? 'Docker Engine'} ${v.Version}). Point container.podmanSocket at Podman's socket.`);
    }
    return `Podman ${podman.Version} (Docker API ${v.ApiVersion})`;
  }

  /** A GET on Podman's own (libpod) API, for what the Docker-compatible one does not say. */
  private libpod(path: string): Promise<any> {
    return this.api.request('GET', `/v4.0.0/libpod${path}`);
  }

  /**
   * What the engine can enforce, from Podman's own info (the Docker-compatible
   * /info reports the host's cgroups even where rootless Podman cannot use
   * them). Asked before each start: one request, and the service may have
   * been reconfigured meanwhile.
   */
  private async facts(): Promise<EngineFacts> {
    let info: any;
    try {
      info = await this.libpod('/info');
    } catch (err) {
      throw notAnswering(this.socketPath, err);
    }
    return {
      rootless: info.host?.security?.rootless === true,
      cgroupVersion: String(info.host?.cgroupVersion ?? ''),
      controllers: info.host?.cgroupControllers ?? [],
    };
  }
}

interface EngineFacts {
  rootless: boolean;
  /** `v1` or `v2`. */
  cgroupVersion: string;
  /** The cgroup controllers Podman can use for its containers. */
  controllers: string[];
}

/** Rootful Podman listens on /run/podman/podman.sock, a user's own Podman under $XDG_RUNTIME_DIR. */
export function defaultPodmanSocket(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (uid === 0) return '/run/podman/podman.sock';
  return `${env.XDG_RUNTIME_DIR || `/run/user/${uid}`}/podman/podman.sock`;
}

/** Why this engine cannot give the spec what it asks for, or undefined when it can. */
function refuse(spec: ContainerSpec, facts: EngineFacts): string | undefined {
  if (facts.rootless && facts.cgroupVersion === 'v1') {
    return 'rootless Podman on cgroup v1 cannot enforce memory, pids or CPU limits and would run the container without them. Use rootful Podman, or cgroup v2.';
  }
  const missing = ['memory', 'pids', 'cpu'].filter((c) => !facts.controllers.includes(c));
  if (missing.length) {
    return `Podman cannot use the ${missing.join(', ')} cgroup controller${missing.length > 1 ? 's' : ''} here and would run the container without those limits. ` +
      (facts.rootless ? 'Delegate them to this user (systemd: Delegate=memory pids cpu for user@.service).' : 'Enable them in the kernel/cgroup setup.');
  }
  for (const [path, t] of Object.entries(spec.tmpfs)) {
    if (t.uid === undefined) continue;
    if (`${t.uid}:${t.gid ?? t.uid}` !== spec.user) {
      return `tmpfs ${path} must belong to ${t.uid}:${t.gid ?? t.uid}, but Podman can only give a tmpfs to the container's user (${spec.user}).`;
    }
  }
  return undefined;
}

/**
 * The create request body: Docker's, field for field, except the tmpfs
 * options. The name goes in the query string.
 */
function createBody(spec: ContainerSpec): Record<string, unknown> {
  // `U` = chown to the container's user (refuse() made sure that is the owner asked for).
  return dockerCreateBody(spec, (t) => (t.uid !== undefined ? '0700,U' : '1777'));
}

function notAnswering(socketPath: string, err: unknown): RuntimeError {
  return new RuntimeError(`Podman does not answer on ${socketPath} (${(err as Error).message}). ` +
    `Start it with \`podman system service --time=0 unix://${socketPath}\` (or \`systemctl enable --now podman.socket\`), or set container.podmanSocket.`, { cause: err });
}

/** What to check, for the failures Podman is known for. */
function hint(err: unknown): string {
  const msg = String((err as Error)?.message ?? '');
  if (/setting rlimit/i.test(msg)) {
    return 'Podman asked for nofile/nproc limits above what this host allows (root without CAP_SYS_RESOURCE): set `default_ulimits` in containers.conf, see docs/runtimes.md.';
  }
  if (/catatonit|container-init|init binary/i.test(msg)) return 'Install catatonit (Podman\'s --init).';
  if (/image not known|no such image/i.test(msg)) return 'Load the agent image into Podman: `docker save nanoclaw-agent:latest | podman load`.';
  return 'Run `nanoclaw doctor` to check the engine and the image.';
}
