/**
 * Masked-reconstruction loss of a pretraining checkpoint on a held-out split (what `tools/test.ts` reports for a
 * pretraining config): deterministic eval transform (resize short side + center crop), fixed masking noise; and,
 * with `reconFile`, the reconstruction grid of the checkpoint (engine/recon.ts).
 */
import { basename, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../backend/init.js';
import type { PretrainConfig } from '../config/pretrain.js';
import { buildPretrainModel, drawNoise, pretrainForward, randomMasking } from '../models/mae.js';
import { fusionWeights } from '../models/mff.js';
import { Rng } from '../io/rng.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { scanImageFolder } from '../data/imagenet.js';
import { buildEvalTransform } from '../data/transforms.js';
import { BatchLoader } from '../data/loader.js';
import { Progress } from './progress.js';
import { reconGridWriter } from './recon.js';
import { SILENT } from './train-loop.js';

export interface PretrainEvalResult {
  checkpoint: string;
  split: string;
  images: number;
  loss: number;
  fusion_weights: number[] | null;
  /** images / wall-clock seconds of the evaluation pass */
  img_per_s: number;
  wall_s: number;
  /** The reconstruction grid written (opts.reconFile), or null. */
  recon: string | null;
}

/**
 * Build the model from `cfg` (or the checkpoint's embedded config when `cfg` is null), load the checkpoint strictly
 * (mmpretrain key names; a bare state dict converted from a .pth works with an explicit config) and evaluate.
 */
export async function runPretrainEval(
  cfg: PretrainConfig | null,
  checkpoint: string,
  opts: { split?: string; backend?: BackendName; quiet?: boolean; seed?: number; reconFile?: string } = {},
): Promise<PretrainEvalResult> {
  await initBackend(opts.backend, { quiet: opts.quiet });
  const ck = loadCheckpoint(checkpoint);
  const config = cfg ?? (ck.meta?.config as PretrainConfig | undefined);
  if (!config) throw new Error(`${checkpoint}: no embedded config (a bare state dict): pass the config file it was trained with`);
  const model = buildPretrainModel(config.model, new Rng(0));
  try {
    model.params.load(ck.tensors, { strict: true, file: checkpoint });
    const split = opts.split ?? 'val';
    const dataset = scanImageFolder(resolve(config.data.root), split, {});
    const size = config.model.imgSize;
    const batchSize = Math.min(config.batchSize, dataset.records.length);
    const loader = new BatchLoader({
      dataset,
      batchSize,
      transform: buildEvalTransform({ resize: Math.floor((size * 256) / 224), crop: size, interp: 'bilinear' }, config.data.mean, config.data.std),
      seed: 0,
      shuffle: false,
      dropLast: false,
      concurrency: config.data.concurrency,
      prefetch: config.data.prefetch,
    });
    const maskRng = new Rng(opts.seed ?? 0);
    const progress = new Progress({ total: loader.iterationsPerEpoch(), every: 20, label: 'pretrain-eval', ...(opts.quiet ? { stream: SILENT } : {}) });
    const t0 = performance.now();
    let sum = 0;
    let n = 0;
    for await (const batch of loader.batches(0)) {
      const B = batch.labels.length;
      const mk = randomMasking(drawNoise(maskRng, B, model.numPatches), B, model.numPatches, model.lenKeep);
      const loss = tf.tidy(() => {
        const imgs = tf.tensor4d(batch.images, [B, size, size, 3]);
        return pretrainForward(model, imgs, mk).loss.dataSync()[0];
      });
      sum += loss * B;
      n += B;
      progress.update(batch.iter + 1, { loss: (sum / n).toFixed(4), 'img/s': (n / ((performance.now() - t0) / 1000)).toFixed(1) });
    }
    progress.done();
    const wall = (performance.now() - t0) / 1000;
    const fw = config.model.algorithm === 'mff' ? Array.from(tf.tidy(() => fusionWeights(model.params).dataSync())) : null;
    if (opts.reconFile) await reconGridWriter(config, model)(opts.reconFile, `${config.model.algorithm.toUpperCase()} ViT, ${basename(checkpoint)}`);
    return { checkpoint, split, images: n, loss: sum / n, fusion_weights: fw, img_per_s: wall > 0 ? n / wall : 0, wall_s: wall, recon: opts.reconFile ?? null };
  } finally {
    model.params.dispose();
  }
}
