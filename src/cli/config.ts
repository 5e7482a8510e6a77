import { resolveHome } from '../config/home.ts';
import { envNameFor, loadConfig } from '../config/load.ts';
import { ConfigSchema } from '../config/schema.ts';

/** `nanoclaw config`: every option, its value in effect, and where to set it. */
export async function runConfig(): Promise<void> {
  const home = resolveHome();
  const config = loadConfig(home) as unknown as Record<string, Record<string, unknown>>;
  const shape = (ConfigSchema as any).shape as Record<string, any>;
  const lines = [`config file: ${home}/config.json (optional); environment variables override it\n`];
  for (const [section, sectionSchema] of Object.entries(shape)) {
    const inner = sectionSchema.unwrap?.() ?? sectionSchema._zod?.def?.innerType ?? sectionSchema;
    for (const [field, fieldSchema] of Object.entries(inner.shape as Record<string, any>)) {
      lines.push(`${section}.${field} = ${JSON.stringify(config[section][field])}   (${envNameFor(section, field)})`);
      if (fieldSchema.description) lines.push(`    ${fieldSchema.description}`);
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
}
