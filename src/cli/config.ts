import { resolveHome } from '../config/home.ts';
import { envNameFor, loadConfig } from '../config/load.ts';
import { ConfigSchema } from '../config/schema.ts';

/** `nanoclaw config`: every option, its value in effect, and where to set it. */
export async function runConfig(opts: { markdown?: boolean } = {}): Promise<void> {
  if (opts.markdown) {
    process.stdout.write(configTable() + '\n');
    return;
  }
  const home = resolveHome();
  const config = loadConfig(home) as unknown as Record<string, Record<string, unknown>>;
  const lines = [`config file: ${home}/config.json (optional); environment variables override it\n`];
  for (const o of options()) {
    lines.push(`${o.path} = ${JSON.stringify(config[o.section][o.field])}   (${o.env})`);
    lines.push(`    ${o.description}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

/** Every option with its default, environment variable and description, from the schema itself. */
export function options(): Array<{ section: string; field: string; path: string; env: string; default: unknown; description: string }> {
  const defaults = ConfigSchema.parse({}) as unknown as Record<string, Record<string, unknown>>;
  const shape = (ConfigSchema as any).shape as Record<string, any>;
  const out = [];
  for (const [section, sectionSchema] of Object.entries(shape)) {
    const inner = sectionSchema.unwrap?.() ?? sectionSchema._zod?.def?.innerType ?? sectionSchema;
    for (const [field, fieldSchema] of Object.entries(inner.shape as Record<string, any>)) {
      out.push({ section, field, path: `${section}.${field}`, env: envNameFor(section, field), default: defaults[section][field], description: fieldSchema.description ?? '' });
    }
  }
  return out;
}

/** The options table of docs/configuration.md (a test keeps the doc equal to it). */
export function configTable(): string {
  return ['| option | default | environment variable | meaning |', '|---|---|---|---|',
    ...options().map((o) => `| \`${o.path}\` | \`${JSON.stringify(o.default)}\` | \`${o.env}\` | ${o.description.replace(/\|/g, '\\|')} |`)].join('\n');
}
