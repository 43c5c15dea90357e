/**
 * `npm run faults [-- --skip-bad-files] [--keep DIR]`: generate the fault corpus (test/fixtures/faults/make.ts) into a
 * temp dir, run every case through every command it concerns (in-process, tiny configs) and print the table
 * case | command | outcome | message. Exits 1 if any row differs from the case's stated behaviour.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../src/backend/init.js';
import { formatFaultTable, runFaultCorpus } from '../test/fixtures/faults/run.js';

const args = process.argv.slice(2);
const skipBadFiles = args.includes('--skip-bad-files');
const keepAt = args.indexOf('--keep');
const dir = keepAt >= 0 && args[keepAt + 1] ? resolve(args[keepAt + 1]) : mkdtempSync(join(tmpdir(), 'mff-faults-'));

await initBackend(undefined, { quiet: true });
const t0 = performance.now();
try {
  const rows = await runFaultCorpus(dir, { skipBadFiles, onRow: (r) => process.stderr.write(`  ${r.case} / ${r.command}: ${r.outcome} (${r.seconds.toFixed(1)} s)\n`) });
  console.log(formatFaultTable(rows));
  const bad = rows.filter((r) => !r.asExpected);
  const slowest = rows.reduce((a, r) => (r.seconds > a.seconds ? r : a));
  console.log(
    `\n${rows.length - bad.length}/${rows.length} rows as stated${skipBadFiles ? ' (--skip-bad-files)' : ''}; ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s, slowest row ${slowest.case} / ${slowest.command} ${slowest.seconds.toFixed(1)} s`,
  );
  if (bad.length) process.exitCode = 1;
} finally {
  if (keepAt < 0) rmSync(dir, { recursive: true, force: true });
}
