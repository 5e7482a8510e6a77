import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { envNameFor } from '../src/config/load.ts';
import { ConfigSchema } from '../src/config/schema.ts';

describe('docs stay true', () => {
  it('docs/configuration.md lists every option with its default and environment variable', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const defaults = ConfigSchema.parse({}) as unknown as Record<string, Record<string, unknown>>;
    for (const [section, fields] of Object.entries(defaults)) {
      for (const [field, value] of Object.entries(fields)) {
        const row = doc.split('\n').find((l) => l.startsWith(`| \`${section}.${field}\` |`));
        assert.ok(row, `docs/configuration.md has no row for ${section}.${field}`);
        assert.ok(row.includes(`\`${JSON.stringify(value)}\``), `${section}.${field}: documented default differs from ${JSON.stringify(value)}`);
        assert.ok(row.includes(envNameFor(section, field)), `${section}.${field}: environment variable missing`);
      }
    }
  });
});
