/** Regenerates the README's supported-layers table from the registry: node --import tsx scripts/readme-table.ts */
import { readFile, writeFile } from 'node:fs/promises';
// The built-in converters register on import (the index does this for library users).
import '../src/layers/index.js';
import { withLayerTable } from '../src/table.js';

const path = new URL('../README.md', import.meta.url);
const before = await readFile(path, 'utf8');
const after = withLayerTable(before);
if (after !== before) await writeFile(path, after);
console.log(after === before ? 'README table is up to date' : 'README table updated');
