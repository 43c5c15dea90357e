import { describe, expect, test } from 'vitest';
import { SUITES, withBudget } from '../../src/engine/benchmark/suites.js';
import { loadSegConfig } from '../../src/config/seg.js';

const maxIters = (o: string[]) => Number(o.find((x) => x.startsWith('schedule.maxIters='))!.split('=')[1]);

describe('benchmark suites', () => {
  test('UperNet tasks run segIters, the linear probe probeIters; --seg-iters / --probe-iters override each', () => {
    const d = SUITES.default;
    for (const t of d.tasks.filter((t) => t.kind === 'seg')) expect(maxIters(t.cfgOptions)).toBe(t.head === 'linear' ? d.probeIters : d.segIters);
    const b = withBudget(d, { segIters: 300, probeIters: 50 });
    const byId = Object.fromEntries(b.tasks.map((t) => [t.id, t]));
    expect(maxIters(byId['seg-finetune'].cfgOptions)).toBe(300);
    expect(maxIters(byId['seg-frozen'].cfgOptions)).toBe(300);
    expect(maxIters(byId['seg-linear'].cfgOptions)).toBe(50);
    expect(withBudget(d, { segIters: 300 }).tasks.find((t) => t.id === 'seg-linear')!.cfgOptions).toEqual(d.tasks.find((t) => t.id === 'seg-linear')!.cfgOptions);
  });

  test('the seg config resolves with the suite options (neck at strides 4/8/16/32 for 8-px patches)', async () => {
    const t = SUITES.default.tasks.find((t) => t.id === 'seg-finetune')!;
    const cfg = await loadSegConfig(t.config, { cfgOptions: t.cfgOptions });
    expect(cfg.model.neck.rescales.map((r) => cfg.model.backbone.patchSize / r)).toEqual([4, 8, 16, 32]);
    expect(cfg.schedule.maxIters).toBe(SUITES.default.segIters);
  });
});
