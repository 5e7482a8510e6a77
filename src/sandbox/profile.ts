import type { Config } from '../config/schema.ts';
import { CONTAINER_PATHS } from '../protocol/messages.ts';
import type { ContainerSpec, Mount } from './runtime.ts';

/** Label on every container the gateway starts: how orphans are found after a crash. */
export const LABEL_MANAGED = 'org.nanoclaw.managed';
export const LABEL_CONVERSATION = 'org.nanoclaw.conversation';
export const LABEL_HOME = 'org.nanoclaw.home';

/** Threads gVisor's own sandbox processes may use on top of the agent's pids limit. */
export const RUNSC_THREAD_ALLOWANCE = 512;

/**
 * The container's user and group (image/build.sh reads this line for the image's `agent` user).
 * Not root: the agent SDK refuses to skip permission prompts as root, and root is not needed.
 * Not 1000 either, which on the host is usually the first human, sudo-capable account: the files
 * the agent writes into bind mounts, and a process that escapes runc, would be that person's.
 * 61000 is above useradd's range for people (1000-60000) and below 65536, so rootless Podman's
 * default subordinate range can still map it.
 */
export const AGENT_UID = 61000;

export interface ContainerPlan {
  name: string;
  /** Host folder with the container's sockets, mounted read-only at /run/nanoclaw. */
  runDir: string;
  workspaceDir: string;
  stateDir: string;
  /** Persistent memory work tree, when the conversation has it. */
  memoryDir?: string;
  globalDir: string;
  /** The approved skills as one plugin folder (layout.skillsLive), mounted read-only at /skills. */
  skillsDir?: string;
  token: string;
  home: string;
  /** Extra host folders, already checked against the mount allowlist. */
  extraMounts?: Mount[];
  conversationId?: string;
}

/**
 * The hardened default for every agent container: non-root, read-only root
 * filesystem, no capabilities, no-new-privileges, resource limits, and no
 * network interface but loopback. The only ways out are the two sockets in
 * /run/nanoclaw, both served by the host. No Docker socket and no host paths
 * besides the ones below are ever mounted.
 */
export function hardenedSpec(config: Config, plan: ContainerPlan): ContainerSpec {
  const c = config.container;
  const mounts: Mount[] = [
    { hostPath: plan.runDir, containerPath: CONTAINER_PATHS.run, readOnly: true },
    { hostPath: plan.workspaceDir, containerPath: CONTAINER_PATHS.workspace, readOnly: false },
    { hostPath: plan.stateDir, containerPath: CONTAINER_PATHS.state, readOnly: false },
    { hostPath: plan.globalDir, containerPath: CONTAINER_PATHS.global, readOnly: true },
  ];
  if (plan.skillsDir) mounts.push({ hostPath: plan.skillsDir, containerPath: CONTAINER_PATHS.skills, readOnly: true });
  if (plan.memoryDir) mounts.push({ hostPath: plan.memoryDir, containerPath: CONTAINER_PATHS.memory, readOnly: false });
  mounts.push(...(plan.extraMounts ?? []));
  return {
    name: plan.name,
    image: c.image,
    runtime: c.runtime === 'runc' ? undefined : c.runtime,
    user: `${AGENT_UID}:${AGENT_UID}`,
    env: {
      HOME: CONTAINER_PATHS.home,
      // Per-container token, checked by this container's credential proxy and
      // revoked when the container stops. The real key never enters.
      NANOCLAW_TOKEN: plan.token,
      // Which runtime the image's entrypoint (/usr/local/bin/nanoclaw-runner) starts the runner on.
      NANOCLAW_RUNNER_RUNTIME: c.runnerRuntime,
    },
    labels: {
      [LABEL_MANAGED]: 'true',
      [LABEL_HOME]: plan.home,
      ...(plan.conversationId ? { [LABEL_CONVERSATION]: plan.conversationId } : {}),
    },
    mounts,
    tmpfs: {
      '/tmp': { sizeMb: c.tmpfsMb },
      [CONTAINER_PATHS.home]: { sizeMb: c.tmpfsMb, uid: AGENT_UID, gid: AGENT_UID },
    },
    readOnlyRoot: true,
    dropAllCapabilities: true,
    noNewPrivileges: true,
    network: false,
    memoryBytes: c.memoryMb * 1024 * 1024,
    nanoCpus: Math.round(c.cpus * 1e9),
    // Under gVisor the cgroup also holds the sandbox kernel's own threads (the
    // Go runtime of runsc's sentry and gofer), which the agent cannot control:
    // without this allowance a busy sandbox dies with exit 2 at the limit.
    pidsLimit: c.runtime === 'runsc' ? c.pidsLimit + RUNSC_THREAD_ALLOWANCE : c.pidsLimit,
  };
}
