/**
 * The benchmark's report: summary.json (every value, per seed) and summary.md (one row per backbone, one column per
 * task: mean ± std over seeds; Δ vs random init and MFF − MAE as paired means with 95 % t-intervals; the control row;
 * wall time and img/s per phase; machine and engine), plus plots: grouped bars with error bars, per-class IoU,
 * pretraining loss curves, MFF fusion weights per tap.
 */
import { cpus, totalmem, platform, release } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/checkpoint.js';
import { linePlotPng } from '../plot.js';
import { barPlotPng } from './bar-plot.js';
import { fmtDiff, fmtMeanStd, meanCi, pairedDiff, type MeanCi } from './stats.js';
import type { Backbone, BenchTask, Suite } from './suites.js';
import type { PretrainResult, RunResult } from './run-benchmark.js';

export interface ReportInput {
  out: string;
  suite: Suite;
  seeds: number;
  tasks: BenchTask[];
  backbones: Backbone[];
  pretrain: Record<'mff' | 'mae', PretrainResult | null>;
  runs: RunResult[];
  backend: string;
  wallSeconds: number;
  /** Runs at a time (--jobs). */
  jobs: number;
  argv: string[];
}

const NAMES: Record<Backbone, string> = { mff: 'MFF', mae: 'MAE', random: 'random init' };

function bySeed(runs: RunResult[], task: string, backbone: Backbone): Map<number, number> {
  return new Map(runs.filter((r) => r.task === task && r.backbone === backbone).map((r) => [r.seed, r.value]));
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

export function machineLine(backend: string): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}, node ${process.version}, engine ${backend}`;
}

export async function writeBenchmarkReport(r: ReportInput): Promise<{ json: string; md: string }> {
  const cell = (t: BenchTask, b: Backbone) => meanCi([...bySeed(r.runs, t.id, b).values()]);
  const diff = (t: BenchTask, a: Backbone, b: Backbone) => pairedDiff(bySeed(r.runs, t.id, a), bySeed(r.runs, t.id, b));
  const has = (b: Backbone) => r.backbones.includes(b);
  const table: Record<string, Record<string, MeanCi & { per_seed: Record<number, number> }>> = {};
  for (const b of r.backbones) {
    table[b] = {};
    for (const t of r.tasks) table[b][t.id] = { ...cell(t, b), per_seed: Object.fromEntries(bySeed(r.runs, t.id, b)) };
  }
  const deltas: Record<string, Record<string, MeanCi & { seeds: number[] }>> = {};
  if (has('random')) for (const b of ['mff', 'mae'] as const) if (has(b)) deltas[`${b}-random`] = Object.fromEntries(r.tasks.map((t) => [t.id, diff(t, b, 'random')]));
  if (has('mff') && has('mae')) deltas['mff-mae'] = Object.fromEntries(r.tasks.map((t) => [t.id, diff(t, 'mff', 'mae')]));
  // the control: the same UperNet on a fine-tuned vs a frozen backbone (random init; pretrained too where present)
  const ft = r.tasks.find((t) => t.id === 'seg-finetune');
  const fr = r.tasks.find((t) => t.id === 'seg-frozen');
  const control = ft && fr ? Object.fromEntries(r.backbones.map((b) => [b, pairedDiff(bySeed(r.runs, ft.id, b), bySeed(r.runs, fr.id, b))])) : null;
  const phases = [
    ...(['mff', 'mae'] as const).filter((a) => r.pretrain[a]).map((a) => ({ phase: `pretrain ${NAMES[a]}`, runs: 1, wall_s: r.pretrain[a]!.wall_s, img_per_s: r.pretrain[a]!.img_per_s })),
    ...r.tasks.map((t) => {
      const rs = r.runs.filter((x) => x.task === t.id);
      return { phase: t.id, runs: rs.length, wall_s: rs.reduce((a, x) => a + x.wall_s, 0), img_per_s: mean(rs.map((x) => x.img_per_s)) };
    }),
  ];
  const machine = machineLine(r.backend);
  const date = new Date().toISOString();
  const command = `mff benchmark ${r.argv.join(' ')}`.trim();

  const json = {
    suite: r.suite.name, description: r.suite.description, seeds: r.seeds, seg_iters: r.suite.segIters, probe_iters: r.suite.probeIters, cls_epochs: r.suite.clsEpochs, pretrain_cfg_options: r.suite.pretrain.cfgOptions, pool_images: r.suite.poolImages, date, machine, backend: r.backend, command, wall_s: r.wallSeconds, jobs: r.jobs,
    tasks: r.tasks.map((t) => ({ id: t.id, title: t.title, metric: t.kind === 'cls' ? 'top-1 %' : 'mIoU %' })),
    pretrain: r.pretrain, table, deltas, control, phases, runs: r.runs,
  };
  const jsonFile = join(r.out, 'summary.json');
  writeFileAtomic(jsonFile, JSON.stringify(json, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');

  // ---- markdown
  const md: string[] = [`# mff benchmark: suite \`${r.suite.name}\``, '', r.suite.description + '.', ''];
  md.push(`- budget: pretraining ${r.suite.pretrain.cfgOptions.join(' ')} on ${r.suite.poolImages} unlabeled scenes; seg UperNet ${r.suite.segIters} iterations, linear probe ${r.suite.probeIters}; cls ${r.suite.clsEpochs} epochs`);
  md.push(`- date: ${date}`, `- machine: ${machine}`, `- command: \`${command}\``, `- seeds (downstream): ${r.seeds}; ${r.jobs} run(s) at a time; wall time of this invocation ${r.wallSeconds.toFixed(0)} s (runs found finished in the output folder are reused, not re-run: their own wall times are in the runs' rows)`, '');
  md.push('## Results (mean ± std over seeds; cls: top-1 %, seg: mIoU %)', '');
  md.push(`| backbone | ${r.tasks.map((t) => t.title).join(' | ')} |`, `| --- | ${r.tasks.map(() => '---').join(' | ')} |`);
  for (const b of r.backbones) md.push(`| ${NAMES[b]} | ${r.tasks.map((t) => fmtMeanStd(table[b][t.id])).join(' | ')} |`);
  for (const [k, row] of Object.entries(deltas)) {
    const label = k === 'mff-mae' ? 'MFF − MAE' : `Δ ${NAMES[k.split('-')[0] as Backbone]} − random`;
    md.push(`| ${label} [95 % CI] | ${r.tasks.map((t) => fmtDiff(row[t.id])).join(' | ')} |`);
  }
  md.push('');
  if (control) {
    md.push('## Control: does the backbone matter on this set?', '');
    md.push('Same UperNet, same seeds: fine-tuned backbone minus frozen backbone (mIoU, paired mean [95 % CI]). A set where the backbone matters shows a clear positive gap for random init.', '');
    md.push('| backbone | seg fine-tune − frozen |', '| --- | --- |');
    for (const b of r.backbones) md.push(`| ${NAMES[b]} | ${fmtDiff(control[b])} |`);
    md.push('');
  }
  md.push('## Per seed', '', `| task | backbone | ${Array.from({ length: r.seeds }, (_, s) => `seed ${s}`).join(' | ')} |`, `| --- | --- | ${Array.from({ length: r.seeds }, () => '---').join(' | ')} |`);
  for (const t of r.tasks) for (const b of r.backbones) md.push(`| ${t.id} | ${NAMES[b]} | ${Array.from({ length: r.seeds }, (_, s) => table[b][t.id].per_seed[s]?.toFixed(2) ?? '—').join(' | ')} |`);
  md.push('', '## Phases (wall time summed over runs; img/s = mean of the runs\' training img/s)', '', '| phase | runs | wall s | img/s |', '| --- | --- | --- | --- |');
  for (const p of phases) md.push(`| ${p.phase} | ${p.runs} | ${p.wall_s.toFixed(0)} | ${Number.isFinite(p.img_per_s) ? p.img_per_s.toPrecision(3) : '—'} |`);
  md.push('');
  const pre = (['mff', 'mae'] as const).filter((a) => r.pretrain[a]);
  if (pre.length) {
    md.push('## Pretraining', '', '| algorithm | steps | final loss | wall s | checkpoint |', '| --- | --- | --- | --- | --- |');
    for (const a of pre) {
      const p = r.pretrain[a]!;
      md.push(`| ${NAMES[a]} | ${p.iterations} | ${p.final_loss.toFixed(4)} | ${p.wall_s.toFixed(0)} | ${p.checkpoint} |`);
    }
    md.push('');
  }

  // ---- plots
  const plots: [string, string][] = [];
  await barPlotPng(join(r.out, 'results.png'), {
    title: `mff benchmark (${r.suite.name}): mean ± std over ${r.seeds} seed(s)`, yLabel: 'top-1 % / mIoU %', groups: r.tasks.map((t) => t.id),
    series: r.backbones.map((b) => ({ name: NAMES[b], values: r.tasks.map((t) => table[b][t.id].mean), err: r.tasks.map((t) => table[b][t.id].std) })),
  });
  plots.push(['Results', 'results.png']);
  const segTask = r.tasks.find((t) => t.kind === 'seg' && r.runs.some((x) => x.task === t.id && x.per_class));
  if (segTask) {
    const classes = r.runs.find((x) => x.task === segTask.id && x.per_class)!.per_class!.map((c) => c.class);
    await barPlotPng(join(r.out, 'per-class-iou.png'), {
      title: `${segTask.id}: per-class IoU (mean over seeds)`, yLabel: 'IoU %', groups: classes,
      series: r.backbones.map((b) => ({
        name: NAMES[b],
        values: classes.map((_, i) => mean(r.runs.filter((x) => x.task === segTask.id && x.backbone === b && x.per_class).map((x) => x.per_class![i].IoU).filter(Number.isFinite))),
      })),
    });
    plots.push(['Per-class IoU', 'per-class-iou.png']);
  }
  const curves = pre.map((a) => ({ a, rows: readJsonl(join(r.pretrain[a]!.run_dir, 'metrics.jsonl')).filter((x) => typeof x.loss === 'number') })).filter((c) => c.rows.length > 1);
  if (curves.length) {
    await linePlotPng(join(r.out, 'pretrain-loss.png'), {
      title: 'Pretraining loss (identical data, schedule, seed)', xLabel: 'step', yLabel: 'reconstruction loss', logY: true,
      series: curves.map((c) => ({ name: NAMES[c.a], x: c.rows.map((x) => x.iter), y: c.rows.map((x) => x.loss) })),
    });
    plots.push(['Pretraining loss', 'pretrain-loss.png']);
  }
  const mff = r.pretrain.mff;
  const fw = mff ? readJsonl(join(mff.run_dir, 'metrics.jsonl')).filter((x) => typeof x.weight_0 === 'number') : [];
  if (fw.length > 1) {
    const taps = Object.keys(fw[0]).filter((k) => /^weight_\d+$/.test(k));
    const blocks = mff!.fusion_weights?.map((w) => w.block) ?? taps.map((_, i) => i);
    await linePlotPng(join(r.out, 'mff-fusion-weights.png'), {
      title: 'MFF fusion weights per tap over pretraining', xLabel: 'step', yLabel: 'softmax weight',
      series: taps.map((k, i) => ({ name: `block ${blocks[i] ?? i}`, x: fw.map((x) => x.iter), y: fw.map((x) => x[k]) })),
    });
    plots.push(['MFF fusion weights', 'mff-fusion-weights.png']);
  }
  md.push('## Plots', '', ...plots.map(([t, f]) => `![${t}](${f})`), '');
  const mdFile = join(r.out, 'summary.md');
  writeFileAtomic(mdFile, md.join('\n'));
  return { json: jsonFile, md: mdFile };
}

function readJsonl(file: string): Record<string, number>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);
}
