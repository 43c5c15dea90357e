/**
 * A `mff benchmark --jobs N` worker (forked by run-benchmark.ts WorkerPool): runs the jobs its parent sends, one at a
 * time, exactly as the parent would in-process (runJob), and answers each with its result or error. Exits when the
 * parent disconnects.
 */
import { BenchmarkInterrupted, runJob, type BenchJob, type JobContext, type WorkerReply } from './run-benchmark.js';

process.on('message', async (m: { id: number; ctx: JobContext; job: BenchJob }) => {
  let reply: WorkerReply;
  try {
    reply = { id: m.id, ok: true, result: await runJob(m.ctx, m.job) };
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    reply = { id: m.id, ok: false, message: err.message, stack: err.stack, interrupted: e instanceof BenchmarkInterrupted, dir: e instanceof BenchmarkInterrupted ? e.dir : undefined };
  }
  if (process.connected) process.send!(reply);
});
process.on('disconnect', () => process.exit(0));
