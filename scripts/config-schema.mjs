// Writes docs/config.schema.json from the zod config schema (after `npm run build`).
import { writeFileSync } from 'node:fs';
import { configJsonSchemaText } from '../dist/src/config/jsonSchema.js';

const file = new URL('../docs/config.schema.json', import.meta.url);
writeFileSync(file, configJsonSchemaText());
process.stdout.write(`wrote ${file.pathname}\n`);
