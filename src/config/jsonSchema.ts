/**
 * The config's JSON Schema (docs/config.schema.json), generated from the zod schema so editors
 * can validate a YAML config (e.g. `# yaml-language-server: $schema=…/docs/config.schema.json`).
 * Written by `npm run config-schema`; test/config/jsonSchema.test.ts fails when it is stale.
 * It describes what you write (durations and sizes as strings), not the parsed values; checks
 * that span fields (duplicate source ids, body size against worker heap) exist only in the daemon.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    title: 'tickerpulse config',
    description: 'tickerpulse start --config FILE (YAML or JSON); see README.md, Configuration',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}

export function configJsonSchemaText(): string {
  return JSON.stringify(configJsonSchema(), null, 2) + '\n';
}
