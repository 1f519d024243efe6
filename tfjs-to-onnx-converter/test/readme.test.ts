import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
// The built-in converters register on import (the index does this for library users).
import '../src/layers/index.js';
import { withLayerTable } from '../src/table.js';

test('the README supported-layers table equals the registry (npm run readme-table regenerates it)', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  assert.equal(readme, withLayerTable(readme));
  assert.ok(readme.split('\n').length <= 150, 'README stays a front door (≤ 150 lines)');
});
