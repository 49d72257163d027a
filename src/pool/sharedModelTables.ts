/**
 * The built-in models' feature row tables in shared memory (src/model/sharedRows.ts), built on
 * the main thread the first time a source's worker is created: every source's thread then uses
 * the same 2 × 4 MiB instead of filling its own. Only the built-in kinds have such tables (hf
 * models bring their own tokenizer). A spec that cannot be read is skipped here: the worker's own
 * load reports it, as before.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { shareRowTables } from '../model/sharedRows.js';
import { Featurizer, type TokenizerSpec } from '../model/tokenizer.js';
import { TOKENIZER_FILE } from '../model/sentimentModel.js';
import { EntityFeaturizer, type EntitySpec } from '../model/entity/entityFeatures.js';
import { defaultEntityModelDir, ENTITY_TOKENIZER_FILE } from '../model/entity/entityModel.js';

const done = new Map<string, Record<string, SharedArrayBuffer>>();

/** `modelDir`: the built-in sentiment model's folder, or undefined when the model is not built-in. */
export function sharedModelTables(modelDir: string | undefined, entityDir = defaultEntityModelDir): Record<string, SharedArrayBuffer> {
  const key = JSON.stringify([modelDir ?? null, entityDir]);
  let tables = done.get(key);
  if (!tables) {
    tables = shareRowTables(() => {
      if (modelDir !== undefined) quietly(() => new Featurizer(JSON.parse(readFileSync(join(modelDir, TOKENIZER_FILE), 'utf8')) as TokenizerSpec));
      quietly(() => new EntityFeaturizer(JSON.parse(readFileSync(join(entityDir, ENTITY_TOKENIZER_FILE), 'utf8')) as EntitySpec));
    });
    done.set(key, tables);
  }
  return tables;
}

function quietly(build: () => unknown): void {
  try {
    build();
  } catch {
    /* the worker's own load reports a missing or corrupt spec */
  }
}
