/** SegModelConfig read from seg-upernet.json's `config` (sizes are data, never constants in tests). */
import type { SegModelConfig } from '../../src/models/seg/config.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function segConfigFromFixture(c: Record<string, any>): SegModelConfig {
  const d = c.decode_head;
  const a = c.auxiliary_head;
  const weight = (s: string) => {
    const m = /weight ([\d.]+)/.exec(s);
    if (!m) throw new Error(`seg-upernet.json: cannot read a loss weight from '${s}'`);
    return Number(m[1]);
  };
  return {
    backbone: {
      imgSize: c.img_size, patchSize: c.patch_size, inChannels: c.in_channels, embedDims: c.embed_dims,
      numLayers: c.num_layers, numHeads: c.num_heads, mlpRatio: c.mlp_ratio, outIndices: c.out_indices,
      dropPathRate: c.drop_path_rate, initValues: c.init_values, lnEps: c.ln_eps,
    },
    neck: { rescales: c.neck.rescales },
    decodeHead: {
      inChannels: d.in_channels, inIndex: d.in_index, channels: d.channels, poolScales: d.pool_scales,
      dropoutRatio: d.dropout_ratio, numClasses: d.num_classes, lossWeight: weight(d.loss),
    },
    auxiliaryHead: {
      inChannels: a.in_channels, inIndex: a.in_index, channels: a.channels, numConvs: a.num_convs, kernelSize: a.kernel_size,
      concatInput: a.concat_input, dropoutRatio: a.dropout_ratio, numClasses: a.num_classes, lossWeight: weight(a.loss),
    },
    ignoreIndex: c.ignore_index,
    bnEps: c.bn_eps,
    bnMomentum: c.bn_momentum,
  };
}
