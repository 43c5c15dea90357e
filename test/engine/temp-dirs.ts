/**
 * Temporary directories for tests, removed after the test file that made them (so `npm test` leaves no mff-*
 * folders in the system temp dir). Importing this module registers the file-level afterAll hook.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** mkdtemp under the system temp dir; removed with everything in it once the current test file is done. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
