/** Pretraining checkpoint -> classifier backbone (mmpretrain Pretrained(prefix='backbone.'), strict=False). */
import { describe, expect, test, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/init.js';
import { Rng } from '../../src/io/rng.js';
import { parseSafetensors, serializeSafetensors, type StTensor } from '../../src/io/safetensors.js';
import { buildPretrainModel, type PretrainModelConfig } from '../../src/models/mae.js';
import { buildClassifier, loadBackboneFromCheckpoint, loadClassifierState, type ClsMode } from '../../src/models/cls/classifier.js';
import { f32, loadFixture, relErr } from '../helpers/golden.js';

beforeAll(async () => {
  await initBackend(undefined, { quiet: true });
});

// The pos-embed fixture: a [1, 1+g*g, C] table and mmpretrain resize_pos_embed of it to a larger grid. The model
// needs dims divisible by 4 (sin-cos table), the fixture's C need not be: the table gets zero channels up to D.
// The resize works channel by channel, so mmpretrain's result padded the same way is the exact reference.
const pe = loadFixture('pos-embed');
const FC = pe.inputs.pos_embed_src.shape[2];
const D = 4 * Math.ceil(FC / 4);
/** [1, T, FC] (fixture) -> [1, T, D] with zero channels FC..D-1. */
function padChannels(t: { shape: number[]; data: (number | null)[] }): StTensor {
  const [, T] = t.shape;
  const src = f32(t as never);
  const out = new Float32Array(T * D);
  for (let i = 0; i < T; i++) out.set(src.subarray(i * FC, (i + 1) * FC), i * D);
  return { dtype: 'F32', shape: [1, T, D], data: out };
}
const [srcGrid] = pe.config.resize.src_grid;
const [dstGrid] = pe.config.resize.dst_square;
const PATCH = 4;

const pretrainCfg: PretrainModelConfig = {
  algorithm: 'mff',
  arch: { embedDims: D, numLayers: 2, numHeads: 2, feedforwardChannels: 2 * D },
  imgSize: srcGrid * PATCH,
  patchSize: PATCH,
  inChannels: 3,
  maskRatio: 0.75,
  outIndices: [0, 1],
  decoder: { embedDims: 8, depth: 1, numHeads: 2 },
  normPix: true,
  lnEps: 1e-6,
};

/** The pretraining state dict with the fixture's pos_embed in place of the sin-cos table. */
function pretrainStateDict(): Map<string, StTensor> {
  const m = buildPretrainModel(pretrainCfg, new Rng(1));
  const sd = m.params.toStateDict();
  m.params.dispose();
  sd.set('backbone.pos_embed', padChannels(pe.inputs.pos_embed_src));
  return sd;
}

function classifier(mode: ClsMode, grid = dstGrid) {
  return buildClassifier(
    { mode, arch: pretrainCfg.arch, imgSize: grid * PATCH, patchSize: PATCH, numClasses: 3, dropPathRate: 0 },
    new Rng(2),
  );
}

describe('loadBackboneFromCheckpoint', () => {
  const sd = pretrainStateDict();
  const decoderKeys = [...sd.keys()].filter((k) => k.startsWith('neck.'));
  const fusionKeys = ['backbone.proj_weights', 'backbone.proj_layers.0.weight', 'backbone.proj_layers.0.bias'];

  test('finetune: drops decoder, fusion and ln1; ln2 and head stay at init; pos_embed resized bicubically', () => {
    const m = classifier('finetune');
    const r = loadBackboneFromCheckpoint(m, sd, { file: 'mff.safetensors' });
    expect(new Set(r.dropped)).toEqual(new Set([...fusionKeys, 'backbone.ln1.weight', 'backbone.ln1.bias', ...decoderKeys]));
    expect(r.missing).toEqual(['backbone.ln2.weight', 'backbone.ln2.bias']);
    expect(r.unexpected).toEqual([]);
    expect(r.posEmbedResized).toEqual({ from: [srcGrid, srcGrid], to: [dstGrid, dstGrid] });
    // every other backbone weight was copied verbatim (PyTorch layout round trip)
    const got = m.params.toStateDict();
    for (const k of r.loaded) {
      if (k === 'backbone.pos_embed') continue;
      expect(relErr(got.get(k)!.data, sd.get(k)!.data), k).toBe(0);
    }
    expect(r.loaded.length).toBe([...sd.keys()].length - r.dropped.length);
    const want = padChannels(pe.expected.mmpretrain_resize_pos_embed_sq);
    expect(got.get('backbone.pos_embed')!.shape).toEqual(want.shape);
    expect(relErr(got.get('backbone.pos_embed')!.data, want.data)).toBeLessThan(1e-5);
    // fine-tuning trains the loaded pos_embed
    expect(m.params.trainableNames()).toContain('backbone.pos_embed');
    m.params.dispose();
  });

  test('linear: keeps backbone.ln1, everything loaded is frozen', () => {
    const m = classifier('linear', srcGrid);
    const r = loadBackboneFromCheckpoint(m, sd);
    expect(new Set(r.dropped)).toEqual(new Set([...fusionKeys, ...decoderKeys]));
    expect(r.loaded).toContain('backbone.ln1.weight');
    expect(r.missing).toEqual([]);
    expect(r.posEmbedResized).toBeUndefined();
    expect(relErr(m.params.toStateDict().get('backbone.pos_embed')!.data, sd.get('backbone.pos_embed')!.data)).toBe(0);
    expect(m.params.trainableNames()).toEqual(['head.layers.head.weight', 'head.layers.head.bias']);
    m.params.dispose();
  });

  test('a shape mismatch names the file and the key', () => {
    const m = classifier('finetune');
    const bad = new Map(sd);
    bad.set('backbone.layers.1.attn.qkv.weight', { dtype: 'F32', shape: [3 * D, D + 1], data: new Float32Array(3 * D * (D + 1)) });
    expect(() => loadBackboneFromCheckpoint(m, bad, { file: 'bad.safetensors' })).toThrow(/bad\.safetensors.*backbone\.layers\.1\.attn\.qkv\.weight/);
    const wrongDims = new Map(sd);
    const T = 1 + srcGrid * srcGrid;
    wrongDims.set('backbone.pos_embed', { dtype: 'F32', shape: [1, T, D * 2], data: new Float32Array(T * D * 2) });
    expect(() => loadBackboneFromCheckpoint(m, wrongDims, { file: 'pe.safetensors' })).toThrow(/pe\.safetensors.*backbone\.pos_embed/);
    m.params.dispose();
  });

  test('a classifier state dict round-trips strictly through safetensors', () => {
    for (const mode of ['finetune', 'linear'] as const) {
      const a = classifier(mode);
      const file = parseSafetensors(serializeSafetensors(a.params.toStateDict()), `${mode}.safetensors`);
      const b = buildClassifier({ ...a.cfg }, new Rng(99));
      const r = loadClassifierState(b, file.tensors, { file: `${mode}.safetensors` });
      expect(r.missing).toEqual([]);
      for (const n of a.params.names()) {
        const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a.params.get(n), b.params.get(n)))).dataSync()[0]);
        expect(d, n).toBe(0);
      }
      a.params.dispose();
      b.params.dispose();
    }
  });
});
