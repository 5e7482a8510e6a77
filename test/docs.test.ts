import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configTable } from '../src/cli/config.ts';

describe('docs stay true', () => {
  it('docs/configuration.md holds the options table generated from the schema (nanoclaw config --markdown)', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    assert.ok(doc.includes(configTable()), 'docs/configuration.md is out of date: regenerate its table with `bin/nanoclaw config --markdown`');
  });
});
