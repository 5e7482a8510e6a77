import type { ContainerExit, ContainerSpec } from './runtime.ts';

/**
 * How a container is put into words: for the audit log when it is created
 * (its hardening, never its token) and for the user when it ends.
 *
 *   audit({ type: 'container.created', data: describeSpec(spec, 'strict') });
 *   describeExit({ exitCode: 137, oomKilled: true }, 1024) // 'the agent container ran out of memory (limit 1024 MiB) and was stopped'
 */
/** What the audit log records about a container: everything but its token. */
export function describeSpec(spec: ContainerSpec, profile: string): Record<string, unknown> {
  return {
    profile, image: spec.image, runtime: spec.runtime ?? 'runc', user: spec.user,
    mounts: spec.mounts.map((m) => `${m.hostPath}:${m.containerPath}:${m.readOnly ? 'ro' : 'rw'}`),
    readOnlyRoot: spec.readOnlyRoot, capabilities: spec.dropAllCapabilities ? 'none' : 'default', noNewPrivileges: spec.noNewPrivileges,
    network: spec.network ? 'bridge' : 'none', memoryBytes: spec.memoryBytes, nanoCpus: spec.nanoCpus, pidsLimit: spec.pidsLimit,
  };
}

export function describeExit(exit: ContainerExit | undefined, memoryMb: number): string {
  if (!exit) return 'the agent container stopped unexpectedly';
  if (exit.oomKilled || exit.exitCode === 137) {
    return exit.oomKilled ? `the agent container ran out of memory (limit ${memoryMb} MiB) and was stopped`
      : 'the agent container was killed (exit 137: out of memory or stopped)';
  }
  if (exit.exitCode === 0) return 'the agent container exited';
  if (exit.exitCode === -1) return 'the agent container was removed';
  return `the agent container crashed (exit code ${exit.exitCode})`;
}
