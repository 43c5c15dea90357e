/** The vendored fixtures must stay byte-identical to the shared originals (when the shared tree is present). */
import { test, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { GOLDEN_DIR, SHARED_GOLDEN_DIR } from '../helpers/golden.js';

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

test.skipIf(!existsSync(SHARED_GOLDEN_DIR))('vendored golden fixtures equal ../shared/fixtures/golden', () => {
  const shared = readdirSync(SHARED_GOLDEN_DIR).sort();
  expect(readdirSync(GOLDEN_DIR).sort()).toEqual(shared);
  for (const f of shared) expect(sha(join(GOLDEN_DIR, f)), f).toBe(sha(join(SHARED_GOLDEN_DIR, f)));
});
