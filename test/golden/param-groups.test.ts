/** Layer-decay parameter groups vs what mmpretrain / mmseg constructors produced (fixtures cls-finetune, seg-upernet). */
import { describe, expect, test } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors.js';
import { customKeysFromMm, mmpretrainLayerDecayGroups, mmsegLayerDecayGroups, type LayerDecayGroup } from '../../src/engine/param-groups.js';
import { goldenPath, loadFixture } from '../helpers/golden.js';

type Want = { lr_scale: number; weight_decay: number; layer_id: number; lr: number };

function compare(got: Map<string, LayerDecayGroup>, want: Record<string, Want>): void {
  expect([...got.keys()]).toEqual(Object.keys(want));
  for (const [name, w] of Object.entries(want)) {
    const g = got.get(name)!;
    expect(Math.abs(g.lrScale - w.lr_scale) / w.lr_scale, `${name} lr_scale`).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(g.lr - w.lr) / w.lr, `${name} lr`).toBeLessThanOrEqual(1e-12);
    expect(g.weightDecay, `${name} weight_decay`).toBe(w.weight_decay);
    expect(g.layerId, `${name} layer_id`).toBe(w.layer_id);
  }
}

function shapesOf(file: string): Map<string, number[]> {
  return new Map([...readSafetensors(goldenPath(file)).tensors].map(([k, t]) => [k, t.shape]));
}

describe('mmpretrain LearningRateDecayOptimWrapperConstructor (cls-finetune)', () => {
  const fx = loadFixture('cls-finetune');
  const shapes = shapesOf(fx.weights!);
  const { optimizer, paramwise_cfg: pw } = fx.optim_wrapper;

  test('every trainable parameter: lr_scale, lr, weight_decay, layer_id', () => {
    const groups = mmpretrainLayerDecayGroups([...shapes.keys()], shapes, {
      numLayers: fx.config.num_layers,
      layerDecayRate: pw.layer_decay_rate,
      weightDecay: optimizer.weight_decay,
      baseLr: optimizer.lr,
      normDecayMult: pw.norm_decay_mult,
      biasDecayMult: pw.bias_decay_mult,
      flatDecayMult: pw.flat_decay_mult,
      customKeys: customKeysFromMm(pw.custom_keys),
    });
    compare(groups, fx.expected.param_groups);
  });

  test('without custom keys the 1-D / norm / bias rules decide alone', () => {
    const groups = mmpretrainLayerDecayGroups([...shapes.keys()], shapes, {
      numLayers: fx.config.num_layers, layerDecayRate: pw.layer_decay_rate, weightDecay: optimizer.weight_decay, baseLr: optimizer.lr,
      normDecayMult: 0, biasDecayMult: 0, flatDecayMult: 0,
    });
    // cls_token / pos_embed are 3-D and not norms: without '.cls_token' / '.pos_embed' keys they are decayed.
    expect(groups.get('backbone.cls_token')!.weightDecay).toBe(optimizer.weight_decay);
    expect(groups.get('backbone.ln2.weight')!.weightDecay).toBe(0);
    expect(groups.get('head.fc.bias')!.weightDecay).toBe(0);
  });
});

describe('mmseg LayerDecayOptimizerConstructor (seg-upernet)', () => {
  const fx = loadFixture('seg-upernet');
  const file = readSafetensors(goldenPath(fx.weights!));
  const shapes = new Map([...file.tensors].map(([k, t]) => [k, t.shape]));
  // Buffers (not nn.Parameters): relative_position_index and BatchNorm running statistics.
  const buffers = /(relative_position_index|running_mean|running_var|num_batches_tracked)$/;
  const names = [...shapes.keys()].filter((n) => !buffers.test(n));
  const { optimizer, paramwise_cfg: pw } = fx.optim_wrapper;

  test('every trainable parameter: lr_scale, lr, weight_decay, layer_id', () => {
    const groups = mmsegLayerDecayGroups(names, shapes, {
      numLayers: pw.num_layers,
      layerDecayRate: pw.layer_decay_rate,
      weightDecay: optimizer.weight_decay,
      baseLr: optimizer.lr,
    });
    compare(groups, fx.expected.param_groups);
    expect(groups.get('backbone.pos_embed')!.weightDecay).toBe(optimizer.weight_decay);
    expect(groups.get('backbone.layers.0.attn.relative_position_bias_table')!.weightDecay).toBe(optimizer.weight_decay);
  });

  test('a parameter without a shape fails loudly', () => {
    expect(() => mmsegLayerDecayGroups(['neck.nope.weight'], shapes, { numLayers: 1, layerDecayRate: 0.65, weightDecay: 0.05, baseLr: 1 })).toThrow(/neck\.nope\.weight/);
  });
});
