import { resolveHome } from '../config/home.ts';
import { configOptions, envNameFor, loadConfig } from '../config/load.ts';

/** `nanoclaw config`: every option, its value in effect, and where to set it. */
export async function runConfig(opts: { markdown?: boolean } = {}): Promise<void> {
  if (opts.markdown) {
    process.stdout.write(configTable() + '\n');
    return;
  }
  const home = resolveHome();
  const config = loadConfig(home) as unknown as Record<string, any>;
  const lines = [`config file: ${home}/config.json (optional); environment variables override it\n`];
  for (const o of options()) {
    lines.push(`${o.path} = ${JSON.stringify(o.keys.reduce((v, k) => v?.[k], config))}   (${o.env})`);
    lines.push(`    ${o.description}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

/** Every option with its default, environment variable and description, from the schema itself. */
export function options(): Array<{ keys: string[]; path: string; env: string; default: unknown; description: string }> {
  return configOptions().map((o) => ({ keys: o.path, path: o.path.join('.'), env: envNameFor(...o.path), default: o.default, description: o.schema.description ?? '' }));
}

/** The options table of docs/configuration.md (a test keeps the doc equal to it). */
export function configTable(): string {
  return ['| option | default | environment variable | meaning |', '|---|---|---|---|',
    ...options().map((o) => `| \`${o.path}\` | \`${JSON.stringify(o.default)}\` | \`${o.env}\` | ${o.description.replace(/\|/g, '\\|')} |`)].join('\n');
}
