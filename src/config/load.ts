import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { profileViolations } from '../sandbox/profiles.ts';
import { ConfigSchema, type Config } from './schema.ts';

/** A config that does not validate; the message names the field and its source. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * `container.maxRunning` -> `NANOCLAW_CONTAINER_MAX_RUNNING`,
 * `channels.api.port` -> `NANOCLAW_CHANNELS_API_PORT`. Lists are comma-separated in the environment.
 */
export function envNameFor(...path: string[]): string {
  return `NANOCLAW_${path.join('_')}`.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

/** One option of the schema: its path (`['channels', 'api', 'port']`), its schema and default. */
export interface ConfigOption { path: string[]; schema: any; default: unknown }

/** Every leaf option of the schema, walking nested sections (`channels.<name>.<field>`). */
export function configOptions(): ConfigOption[] {
  const defaults = ConfigSchema.parse({}) as unknown;
  const out: ConfigOption[] = [];
  const unwrap = (s: any): any => (['prefault', 'default', 'optional'].includes(s?._zod?.def?.type) ? unwrap(s._zod.def.innerType) : s);
  const walk = (schema: any, path: string[], value: any) => {
    const inner = unwrap(schema);
    if (inner?._zod?.def?.type === 'object' && path.length < 4) {
      for (const [key, child] of Object.entries(inner.shape as Record<string, any>)) walk(child, [...path, key], value?.[key]);
    } else {
      out.push({ path, schema, default: value });
    }
  };
  walk(ConfigSchema, [], defaults);
  return out;
}

function setIn(target: Record<string, any>, path: string[], value: unknown): void {
  let at = target;
  for (const key of path.slice(0, -1)) at = at[key] = typeof at[key] === 'object' && at[key] !== null && !Array.isArray(at[key]) ? { ...at[key] } : {};
  at[path[path.length - 1]] = value;
}

/**
 * Reads `$home/config.json` (optional) and environment overrides, validates
 * both against the schema and returns the result with defaults filled in.
 *
 *   const config = loadConfig('/var/lib/nanoclaw', process.env);
 */
export function loadConfig(home: string, env: NodeJS.ProcessEnv = process.env): Config {
  const file = join(home, 'config.json');
  let fromFile: Record<string, any> = {};
  if (existsSync(file)) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`${file} is not valid JSON: ${(err as Error).message}. Fix the file or remove it to use the defaults.`, { cause: err });
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
      throw new ConfigError(`${file} must hold a JSON object, like {"container": {"maxRunning": 2}}.`);
    }
  }

  // Environment overrides: one variable per leaf, typed like the default.
  const merged: Record<string, any> = structuredClone(fromFile);
  const sources = new Map<string, string>();
  for (const { path, default: def } of configOptions()) {
    const name = envNameFor(...path);
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setIn(merged, path, typeof def === 'number' && raw.trim() !== '' && !Number.isNaN(Number(raw)) ? Number(raw)
      : typeof def === 'boolean' && /^(true|false|1|0)$/i.test(raw) ? /^(true|1)$/i.test(raw)
      : Array.isArray(def) ? raw.split(',').map((x) => x.trim()).filter(Boolean)
      : raw);
    sources.set(path.join('.'), name);
  }
  if (env.ANTHROPIC_BASE_URL && !env[envNameFor('model', 'baseUrl')]) {
    merged.model = { ...(merged.model ?? {}), baseUrl: env.ANTHROPIC_BASE_URL };
    sources.set('model.baseUrl', 'ANTHROPIC_BASE_URL');
  }

  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const path = issue.path.join('.') || '(top level)';
      const from = sources.get(path) ?? file;
      const hint = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
      return `  ${path}${hint}: ${issue.message} [from ${from}]`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}\nSee docs/configuration.md for every option.`);
  }
  const violations = profileViolations(result.data);
  if (violations.length) {
    throw new ConfigError(`Configuration loosens its security profile:\n${violations.map((v) => `  ${v.path}: ${v.message} [from ${sources.get(v.path) ?? file}]`).join('\n')}`);
  }
  return result.data;
}
