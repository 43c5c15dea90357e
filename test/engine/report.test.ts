/** Progress lines, metrics.jsonl, PNG plots and summaries. */
import { describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Progress, formatDuration } from '../../src/engine/progress.js';
import { MetricsLog } from '../../src/engine/log.js';
import { linePlotPng, linePlotSvg, logTicks, niceTicks } from '../../src/engine/plot.js';
import { formatNumber, markdownTable, writeSummary } from '../../src/engine/summary.js';
import { tempDir } from './temp-dirs.js';

const tmp = () => tempDir('mff-engine-');

function fakeStream(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (s: string) => out.push(s) } };
}

describe('Progress', () => {
  test('non-TTY: a plain line every N iterations and at the end, with ETA from the speed of this run', () => {
    let t = 0;
    const { out, stream } = fakeStream(false);
    const p = new Progress({ total: 100, every: 25, label: 'pretrain', startIter: 50, stream, now: () => t });
    for (let it = 51; it <= 100; it++) {
      t += 200; // 5 it/s
      p.update(it, { loss: 0.123456, lr: 2.4e-7, 'img/s': '12.5' });
    }
    p.done();
    expect(out.length).toBe(2); // iterations 75 and 100; done() adds nothing
    expect(out[0]).toMatch(/^pretrain\s+75\/100\s+75\.0%/);
    expect(out[0]).toContain('ETA 0:05'); // 25 left at 5 it/s
    expect(out[0]).toContain('loss 0.1235');
    expect(out[0]).toContain('lr 2.40e-7');
    expect(out[0]).toContain('img/s 12.5');
    expect(out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
  });

  test('non-TTY: done() prints the last state when it fell between intervals', () => {
    const { out, stream } = fakeStream(false);
    const p = new Progress({ total: 100, every: 10, stream, now: () => 0 });
    p.update(7, {});
    p.done();
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/7\/100/);
  });

  test('TTY: one line redrawn with \\r, throttled, ended by done()', () => {
    let t = 0;
    const { out, stream } = fakeStream(true);
    const p = new Progress({ total: 10, every: 1, stream, now: () => t });
    for (let it = 1; it <= 10; it++) {
      t += 50;
      p.update(it, { loss: 1 });
    }
    p.done();
    // the final state is drawn once (by update at 10/10); done() only ends the line
    expect(out.at(-1)).toBe('\n');
    const lines = out.slice(0, -1);
    expect(lines.every((s) => s.startsWith('\r'))).toBe(true);
    expect(lines.length).toBeLessThan(10);
    expect(lines.filter((s) => /10\/10/.test(s))).toHaveLength(1);
  });

  test('TTY: done() draws the last state when throttling skipped it', () => {
    let t = 0;
    const { out, stream } = fakeStream(true);
    const p = new Progress({ total: 10, every: 1, stream, now: () => t });
    p.update(1);
    t += 50;
    p.update(2); // throttled
    p.done();
    expect(out).toHaveLength(2);
    expect(out[1]).toMatch(/^\r.* 2\/10.*\n$/);
  });

  test('formatDuration', () => {
    expect(formatDuration(59.6)).toBe('1:00');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(NaN)).toBe('--:--');
  });
});

describe('MetricsLog', () => {
  test('append, read, truncateAfter for resume, torn last line', () => {
    const file = join(tmp(), 'sub', 'metrics.jsonl');
    const log = new MetricsLog(file);
    for (let i = 1; i <= 5; i++) log.append({ iter: i * 10, loss: 1 / i, nan: NaN });
    expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(6);
    expect(log.read().map((e) => e.iter)).toEqual([10, 20, 30, 40, 50]);
    expect(log.read()[0].nan).toBeNull();
    appendFileSync(file, '{"iter": 60, "lo'); // crash mid-write
    expect(log.read()).toHaveLength(5);
    log.truncateAfter(30);
    expect(log.read().map((e) => e.iter)).toEqual([10, 20, 30]);
    expect(readFileSync(file, 'utf8').endsWith('}\n')).toBe(true);
    log.truncateAfter(-1);
    expect(log.read()).toEqual([]);
  });

  test('a malformed line in the middle names the file and line', () => {
    const file = join(tmp(), 'm.jsonl');
    writeFileSync(file, '{"iter":1}\nnot json\n{"iter":2}\n');
    expect(() => new MetricsLog(file).read()).toThrow(/m\.jsonl:2/);
  });
});

describe('linePlotPng', () => {
  test('valid PNG of the requested size; non-finite values skipped; log axis', async () => {
    const dir = tmp();
    const x = Array.from({ length: 200 }, (_, i) => i + 1);
    const file = join(dir, 'loss.png');
    await linePlotPng(file, {
      title: 'MFF pretraining loss',
      xLabel: 'iteration',
      yLabel: 'loss',
      series: [
        { name: 'train', x, y: x.map((i) => (i === 50 ? NaN : i === 60 ? Infinity : 1.5 * Math.exp(-i / 60) + 0.2)) },
        { name: 'val', x: x.filter((i) => i % 20 === 0), y: x.filter((i) => i % 20 === 0).map((i) => 1.6 * Math.exp(-i / 70) + 0.25) },
      ],
      width: 640,
      height: 400,
    });
    const meta = await sharp(file).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([640, 400]);
    // the curve has colour: some pixels are the first palette colour's hue (not grey)
    const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    let coloured = 0;
    for (let i = 0; i < data.length; i += info.channels) if (data[i + 2] - data[i] > 80) coloured++;
    expect(coloured).toBeGreaterThan(100);

    const logFile = join(dir, 'lr.png');
    await linePlotPng(logFile, { title: 'lr', xLabel: 'iteration', yLabel: 'lr', logY: true, series: [{ name: 'lr', x, y: x.map((i) => (i < 10 ? 0 : 1e-3 * 0.98 ** i)) }] });
    expect((await sharp(logFile).metadata()).width).toBe(800);
    if (process.env.MFF_KEEP_PLOTS) console.log(`plots kept in ${dir}`);
  });

  test('the SVG breaks the line at skipped points and escapes text', () => {
    const svg = linePlotSvg({ title: 'a < b & c', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [0, 1, 2, 3, 4], y: [1, 2, NaN, 3, 4] }] });
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('a &lt; b &amp; c');
    expect(() => linePlotSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', x: [1], y: [] }] })).toThrow(/'s'/);
  });

  test('niceTicks uses 1-2-5 steps and covers the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(3, 97)).toEqual([20, 40, 60, 80]);
    expect(logTicks(-4.6, -2.9)).toEqual([5e-5, 1e-4, 2e-4, 5e-4, 1e-3]);
    expect(logTicks(-9.2, 0.1)).toEqual([1e-8, 1e-6, 1e-4, 1e-2, 1]);
  });
});

describe('summary', () => {
  test('summary.json + summary.md with paper-ready tables', () => {
    const dir = tmp();
    writeSummary(dir, { task: 'seg', mIoU: 41.234, nan: NaN }, [
      { title: 'Results', table: { header: ['model', 'mIoU', 'aAcc'], rows: [['MFF | ViT-B', 48.3, 82.71], ['MAE', 47.1, 82.4]] } },
      { title: 'Notes', text: 'single-scale, slide inference' },
    ]);
    const json = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(json).toEqual({ task: 'seg', mIoU: 41.234, nan: 'NaN' });
    const md = readFileSync(join(dir, 'summary.md'), 'utf8');
    expect(md).toContain('# Summary: seg');
    expect(md).toContain('## Results');
    expect(md).toContain('| model | mIoU | aAcc |\n| --- | ---: | ---: |\n| MFF \\| ViT-B | 48.3 | 82.71 |');
    expect(md).toContain('single-scale, slide inference');
  });

  test('formatNumber and ragged tables', () => {
    expect(formatNumber(1234)).toBe('1234');
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(2.4e-7)).toBe('2.40e-7');
    expect(formatNumber(123456.7)).toBe('1.23e+5');
    expect(formatNumber(3.14159, 2)).toBe('3.14');
    expect(formatNumber(NaN)).toBe('NaN');
    expect(() => markdownTable(['a', 'b'], [[1]])).toThrow(/row 0/);
  });
});
