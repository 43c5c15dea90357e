/** Reading ../shared/fixtures/golden: JSON tensors, tensor-wise relative error. */
import { readFileSync, existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { PretrainModelConfig } from '../../src/models/mae.js';
import type { ClsModelConfig } from '../../src/models/cls/classifier.js';

const here = dirname(fileURLToPath(import.meta.url));
/**
 * The golden fixtures are vendored in test/fixtures/golden (a byte-identical copy of ../shared/fixtures/golden,
 * checked by test/golden/vendored.test.ts) so a clean clone tests without the shared tree; MFF_GOLDEN overrides.
 */
export const GOLDEN_DIR = process.env.MFF_GOLDEN ?? resolve(here, '../fixtures/golden');
export const SHARED_GOLDEN_DIR = resolve(here, '../../../shared/fixtures/golden');

export interface JsonTensor {
  shape: number[];
  dtype: 'float32' | 'int64' | 'uint8';
  data: (number | null)[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Fixture = { config: any; inputs: any; expected: any; weights?: string; [k: string]: any };

export function goldenPath(name: string): string {
  return resolve(GOLDEN_DIR, name);
}

export function hasGolden(): boolean {
  return existsSync(GOLDEN_DIR);
}

export function loadFixture(name: string): Fixture {
  return JSON.parse(readFileSync(goldenPath(`${name}.json`), 'utf8')) as Fixture;
}

export function f32(t: JsonTensor): Float32Array {
  return Float32Array.from(t.data.map((v) => (v === null ? NaN : v)));
}

export function i32(t: JsonTensor): Int32Array {
  return Int32Array.from(t.data.map((v) => v ?? 0));
}

/** NCHW JSON tensor -> NHWC tf tensor. */
export function nchwToNhwc(t: JsonTensor): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(f32(t), t.shape as [number, number, number, number]), [0, 2, 3, 1]));
}

/** max|got - want| / max(max|want|, tiny) */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length mismatch: got ${got.length}, want ${want.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num = Math.max(num, Math.abs(got[i] - want[i]));
    den = Math.max(den, Math.abs(want[i]));
  }
  return num / Math.max(den, 1e-12);
}

/**
 * The pretraining model config of an mmpretrain MFF/MAE fixture, read from its `config` (never constants): one
 * mapping for every test that builds the fixture model (golden parity, the pretrain CLI, the seg backbone transfer).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function pretrainModelConfig(c: Record<string, any>): PretrainModelConfig {
  return {
    algorithm: c.model === 'MFF' ? 'mff' : 'mae',
    arch: { embedDims: c.embed_dims, numLayers: c.num_layers, numHeads: c.num_heads, feedforwardChannels: c.feedforward_channels },
    imgSize: c.img_size,
    patchSize: c.patch_size,
    inChannels: c.in_channels,
    maskRatio: c.mask_ratio,
    outIndices: c.out_indices,
    decoder: { embedDims: c.decoder_embed_dim, depth: c.decoder_depth, numHeads: c.decoder_num_heads, feedforwardChannels: c.decoder_feedforward_channels },
    normPix: c.norm_pix,
    lnEps: c.ln_eps,
  };
}

/** The classifier config of an mmpretrain cls fixture, read from its `config` (cls-transfer and scale-224 tests). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function clsModelConfig(c: Record<string, any>): ClsModelConfig {
  return {
    mode: c.out_type === 'avg_featmap' ? 'finetune' : 'linear',
    arch: { embedDims: c.embed_dims, numLayers: c.num_layers, numHeads: c.num_heads, feedforwardChannels: c.feedforward_channels },
    imgSize: c.img_size,
    patchSize: c.patch_size,
    inChannels: c.in_channels,
    numClasses: c.num_classes,
    dropPathRate: c.drop_path_rate ?? 0,
    lnEps: c.ln_eps,
    bnEps: c.neck_bn?.eps,
  };
}
