/** Writes configs/config.schema.json from the zod schema (`npm run configs:schema -w pipeline`). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_DIR, configJsonSchema } from './config.js';

const path = join(CONFIG_DIR, 'config.schema.json');
writeFileSync(path, JSON.stringify(configJsonSchema(), null, 2) + '\n');
console.log(`wrote ${path}`);
