import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { profileViolations } from '../sandbox/profiles.ts';
import { ConfigSchema, type Config } from './schema.ts';

/** A config that does not validate; the message names the field and its source. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `container.maxRunning` -> `NANOCLAW_CONTAINER_MAX_RUNNING`. Lists are comma-separated in the environment. */
export function envNameFor(section: string, field: string): string {
  return `NANOCLAW_${section}_${field}`.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

/**
 * Reads `$home/config.json` (optional) and environment overrides, validates
 * both against the schema and returns the result with defaults filled in.
 *
 *   const config = loadConfig('/var/lib/nanoclaw', process.env);
 */
export function loadConfig(home: string, env: NodeJS.ProcessEnv = process.env): Config {
  const file = join(home, 'config.json');
  let fromFile: Record<string, Record<string, unknown>> = {};
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
  const defaults = ConfigSchema.parse({}) as unknown as Record<string, Record<string, unknown>>;
  const merged: Record<string, Record<string, unknown>> = structuredClone(fromFile);
  const sources = new Map<string, string>();
  for (const [section, fields] of Object.entries(defaults)) {
    for (const [field, def] of Object.entries(fields)) {
      const name = envNameFor(section, field);
      const raw = env[name];
      if (raw === undefined || raw === '') continue;
      merged[section] = { ...(merged[section] ?? {}) };
      merged[section][field] = typeof def === 'number' && raw.trim() !== '' && !Number.isNaN(Number(raw)) ? Number(raw)
        : typeof def === 'boolean' && /^(true|false|1|0)$/i.test(raw) ? /^(true|1)$/i.test(raw)
        : Array.isArray(def) ? raw.split(',').map((x) => x.trim()).filter(Boolean)
        : raw;
      sources.set(`${section}.${field}`, name);
    }
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
