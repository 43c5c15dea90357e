import { describe, expect, test } from 'vitest';
import { barPlotSvg } from '../../src/engine/benchmark/bar-plot.js';

describe('benchmark bar plot', () => {
  test('every bar and whisker stays inside the plot area, below the title, when the ticks end under the tallest bar', () => {
    // 88.7 + 0.2: nice ticks for [0, 88.9] end at 80 (the suite's Fashion-MNIST fine-tune bars reached the title)
    const svg = barPlotSvg({
      title: 'suite',
      yLabel: '%',
      groups: ['cls-finetune', 'seg-linear'],
      series: [
        { name: 'MFF', values: [88.7, 22.7], err: [0.2, 0.3] },
        { name: 'random init', values: [87.3, -1], err: [0.04, NaN] },
      ],
    });
    const top = 40; // the plot area's top margin (the title sits above it)
    const bars = [...svg.matchAll(/<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" fill="#/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const legend = bars.filter(([y]) => y > 380); // legend swatches at the bottom
    const plotted = bars.filter(([y]) => y <= 380);
    expect(plotted.length).toBe(4);
    expect(legend.length).toBe(2);
    for (const [y] of plotted) expect(y).toBeGreaterThanOrEqual(top);
    const whiskerTops = [...svg.matchAll(/<path d="M[^ ]+ [^V]+V([^M]+)M/g)].map((m) => Number(m[1]));
    expect(whiskerTops.length).toBe(3);
    for (const y of whiskerTops) expect(y).toBeGreaterThanOrEqual(top);
  });
});
