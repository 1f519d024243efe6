import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { withLayerTable } from '../src/index.js';

test('the README supported-layers table equals the registry (npm run readme-table regenerates it)', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  assert.equal(readme, withLayerTable(readme));
  assert.ok(readme.split('\n').length <= 150, 'README stays a front door (≤ 150 lines)');
});
