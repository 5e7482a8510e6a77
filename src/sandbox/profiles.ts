import type { Config } from '../config/schema.ts';

/**
 * Named security presets. Both keep the boundary itself (non-root,
 * read-only root, no capabilities, no-new-privileges, no network, no
 * secrets): no option removes those. They differ in how far the operator may
 * loosen the rest:
 * - `strict` (the default): limits may only be tightened below its ceilings,
 *   extra mounts are read-only, and the egress proxy may not reach private
 *   or loopback addresses;
 * - `standard`: the operator may raise the limits, grant read-write extra
 *   mounts (when the allowlist also allows it) and open private ranges.
 *
 *   const problems = profileViolations(config);   // [] when the config fits its profile
 */
export const PROFILES = {
  strict: { memoryMb: 1024, cpus: 1, pidsLimit: 256, tmpfsMb: 256, turnTimeoutSec: 600, readWriteMounts: false, privateEgress: false },
  standard: { memoryMb: Infinity, cpus: Infinity, pidsLimit: Infinity, tmpfsMb: Infinity, turnTimeoutSec: Infinity, readWriteMounts: true, privateEgress: true },
} as const;

export type ProfileName = keyof typeof PROFILES;

/** Each way the config loosens its profile, as `{ path, message }`. */
export function profileViolations(config: Config): Array<{ path: string; message: string }> {
  const name = config.security.profile;
  const p = PROFILES[name];
  const out: Array<{ path: string; message: string }> = [];
  const hint = 'lower it, or set security.profile to "standard" to loosen it deliberately';
  for (const key of ['memoryMb', 'cpus', 'pidsLimit', 'tmpfsMb', 'turnTimeoutSec'] as const) {
    if (config.container[key] > p[key]) out.push({ path: `container.${key}`, message: `${config.container[key]} is above the ${name} profile's ceiling of ${p[key]}; ${hint}` });
  }
  if (!p.readWriteMounts) {
    config.container.extraMounts.forEach((m, i) => {
      if (!m.readOnly) out.push({ path: `container.extraMounts.${i}.readOnly`, message: `read-write extra mounts are not allowed by the ${name} profile; ${hint}` });
    });
  }
  if (!p.privateEgress && config.egress.allowPrivate.length) {
    out.push({ path: 'egress.allowPrivate', message: `the ${name} profile keeps egress off private and loopback addresses; ${hint}` });
  }
  return out;
}
