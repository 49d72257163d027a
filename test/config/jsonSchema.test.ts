/** docs/config.schema.json is what the zod schema generates (run `npm run config-schema` after changing it). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configJsonSchema, configJsonSchemaText } from '../../src/config/jsonSchema.js';
import { packageRoot } from '../../src/lib/paths.js';

test('docs/config.schema.json is in sync with src/config/schema.ts', () => {
  const file = readFileSync(join(packageRoot, 'docs', 'config.schema.json'), 'utf8');
  assert.equal(file, configJsonSchemaText(), 'docs/config.schema.json is stale: run `npm run build && npm run config-schema`');
});

test('the JSON Schema describes what a config file holds: durations as patterned strings, unknown keys refused', () => {
  const s = configJsonSchema() as any;
  assert.equal(s.additionalProperties, false);
  const retention = s.properties.retention.properties;
  assert.equal(retention.items.type, 'string');
  const re = new RegExp(retention.items.pattern);
  for (const ok of ['90d', '1y', '30s', '250ms', '2w']) assert.ok(re.test(ok), ok);
  for (const bad of ['90', 'soon', '1 year']) assert.ok(!re.test(bad), bad);
  assert.ok(s.properties.sources.items.oneOf.length >= 4, 'one branch per source kind');
});
