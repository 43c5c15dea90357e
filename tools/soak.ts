/**
 * `npx tsx tools/soak.ts [steps=2000]`: a long soak of the tiny pretraining config (test/faults/soak.test.ts runs
 * 200 steps): prints the tensor count per step (must be constant) and the RSS curve (must flatten).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../src/backend/init.js';
import { CASES, makeCase } from '../test/fixtures/faults/make.js';
import { soakPretrain } from '../test/fixtures/faults/soak.js';

const steps = Number(process.argv[2] ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'mff-soak-'));
try {
  console.log(`[soak] backend ${await initBackend(undefined, { quiet: true })}, ${steps} steps`);
  const { cls } = await makeCase(dir, CASES[0]);
  const r = await soakPretrain(cls, join(dir, 'wd'), steps);
  const tensors = new Set(readFileSync(join(r.workDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).tensors));
  const every = Math.max(1, Math.floor(r.samples.length / 20));
  r.samples.forEach(([s, m], i) => {
    const d = r.detail[i];
    if (i % every === 0) console.log(`step ${String(s).padStart(6)}  RSS ${m.toFixed(0)} MB  JS heap ${d.heapUsed.toFixed(1)} MB  external ${d.external.toFixed(1)} MB  array buffers ${d.arrayBuffers.toFixed(1)} MB`);
  });
  console.log(`[soak] ${steps} steps in ${r.seconds.toFixed(1)} s; tensor counts seen: ${[...tensors].join(', ')}; RSS median ${r.rssMb.early.toFixed(0)} -> ${r.rssMb.late.toFixed(0)} MB`);
  if (tensors.size !== 1) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
