/**
 * What the gateway needs from a container runtime, and nothing more. Docker
 * Engine (runc or gVisor) implements it today; Podman, Apple Container or a
 * cluster would implement the same few calls.
 *
 *   const c = await runtime.start(spec);
 *   const exit = await runtime.wait(c.name);   // resolves when it stops
 */
export interface ContainerRuntime {
  /** Creates and starts a container; resolves once it is running. */
  start(spec: ContainerSpec): Promise<{ name: string; id: string }>;
  /** Stops (SIGTERM, then SIGKILL after `graceSec`) and removes it; a missing container is not an error. */
  destroy(name: string, graceSec?: number): Promise<void>;
  /** Resolves when the container exits, with why. */
  wait(name: string): Promise<ContainerExit>;
  /** Containers carrying all the given labels, running or not. */
  list(labels: Record<string, string>): Promise<Array<{ name: string; state: string; labels: Record<string, string> }>>;
  /** Whether the image exists locally. */
  hasImage(image: string): Promise<boolean>;
  /** Engine version, for `nanoclaw doctor`; throws when the engine does not answer. */
  version(): Promise<string>;
  /**
   * Calls `onOom(name)` each time the kernel's OOM killer kills a process in
   * a container carrying all the labels, until the returned function is
   * called. Optional: a runtime without an event stream leaves it out. Under
   * gVisor an OOM kill can leave the sandbox alive but wedged, so the gateway
   * needs the event, not just the exit status.
   */
  watchOutOfMemory?(labels: Record<string, string>, onOom: (name: string) => void): () => void;
  /** Memory in use, its limit and the process count of a running container, for the dashboard. Optional: null fields where the engine does not say. */
  stats?(name: string): Promise<{ memoryBytes: number | null; memoryLimitBytes: number | null; pids: number | null }>;
}

export interface ContainerExit {
  exitCode: number;
  oomKilled: boolean;
}

export interface Mount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

/** Everything the hardening profile decides about one container. */
export interface ContainerSpec {
  name: string;
  image: string;
  /** gVisor is `runsc`; undefined is the engine's default (runc). */
  runtime?: string;
  user: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  mounts: Mount[];
  /** Scratch filesystems: path -> size in MiB. */
  tmpfs: Record<string, { sizeMb: number; uid?: number; gid?: number }>;
  readOnlyRoot: boolean;
  dropAllCapabilities: boolean;
  noNewPrivileges: boolean;
  /** `false` means no network interface but loopback. */
  network: false;
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
}

/** Thrown when a container cannot be started; says what to check. */
export class RuntimeError extends Error {
  override name = 'RuntimeError';
}
