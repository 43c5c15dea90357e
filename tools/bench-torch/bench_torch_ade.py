#!/usr/bin/python3
# Copyright the mff authors. SPDX-License-Identifier: Apache-2.0
"""PyTorch-CPU reference for `npm run bench -- --only seg-train-ade` / `--only seg-eval-ade`: the real mmseg
EncoderDecoder built through the registry from mmseg's `configs/mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py`
(SyncBN -> BN; no pretrained weights), on random data at 512x512, 150 classes.

seg-train-ade: ViT-S/16 UperNet as configs/upernet/upernet_mff-vit-s16_8xb2-160k_ade20k-512x512.ts sets it (backbone
  384-d x 12 blocks x 6 heads, out_indices [3, 5, 7, 11], Feature2Pyramid 384, UPerHead in 384 x 4 -> 512 channels,
  FCN aux 384 -> 256, 150 classes), batch 2, one train step: loss (decode + aux), backward and the config's optimizer
  (AdamW 1e-4, wd 0.05, LayerDecayOptimizerConstructor 0.65, built by mmengine) with the backbone blocks
  checkpointed (with_cp: mmseg's MAE backbone has no such argument, so each block is wrapped in
  torch.utils.checkpoint exactly as mmseg's VisionTransformer does for with_cp=True); median of N steps after 1 warm-up.
seg-eval-ade: ViT-B/16 UperNet as in the config, eval mode, `encode_decode` of one 512x512 window (batch 1); median of
  N after 1 warm-up.

usage: MM_SRC=<sources> /usr/bin/python3 bench_torch_ade.py [torch_threads=1] [steps=2] [train|eval|both=both] [with_cp 1/0=1]
mmenv.py (sources on sys.path, unused imports stubbed) is imported from BENCH_TORCH_SHARED, default
<repo>/../shared/bench-torch. Prints one line per figure: `seg-train-ade ... = X img/s`, `seg-eval-ade ... = X img/s`.
"""
import contextlib
import io
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
shared = os.environ.get('BENCH_TORCH_SHARED') or os.path.join(here, '..', '..', '..', 'shared', 'bench-torch')
if not os.path.isfile(os.path.join(shared, 'mmenv.py')):
    sys.exit(f'no mmenv.py in {shared}: set BENCH_TORCH_SHARED to the folder of the shared bench-torch scripts')
sys.path.insert(0, shared)
import mmenv  # noqa: E402,F401  sources on sys.path, unused imports stubbed
import warnings  # noqa: E402

warnings.filterwarnings('ignore')
import torch  # noqa: E402
import torch.utils.checkpoint as cp  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.model import revert_sync_batchnorm  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
import mmseg.engine  # noqa: E402,F401  registers LayerDecayOptimizerConstructor
import mmseg.models  # noqa: E402,F401  registers the models
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 2
which = sys.argv[3] if len(sys.argv) > 3 else 'both'
with_cp = (sys.argv[4] != '0') if len(sys.argv) > 4 else True
torch.set_num_threads(threads)
torch.manual_seed(0)
DefaultScope.get_instance('bench-ade', scope_name='mmseg')
MMLogger.get_current_instance().setLevel('WARNING')  # no per-parameter init / lr-group log lines
CONFIG = os.path.join(os.environ['MM_SRC'], 'mmsegmentation/configs/mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py')
S, K = 512, 150


def no_sync_bn(d):
    """SyncBN -> BN everywhere in a config (one CPU process)."""
    if isinstance(d, dict):
        for k, v in d.items():
            if k == 'type' and v == 'SyncBN':
                d[k] = 'BN'
            else:
                no_sync_bn(v)
    elif isinstance(d, list):
        for v in d:
            no_sync_bn(v)


def build(vit_s):
    cfg = Config.fromfile(CONFIG)
    m = cfg.model
    m.pretrained = None
    m.backbone.init_cfg = None
    if vit_s:  # configs/upernet/upernet_mff-vit-s16_8xb2-160k_ade20k-512x512.ts
        m.backbone.embed_dims = 384
        m.backbone.num_heads = 6
        m.neck.embed_dim = 384
        m.decode_head.in_channels = [384] * 4
        m.decode_head.channels = 512
        m.auxiliary_head.in_channels = 384
    no_sync_bn(m)
    model = revert_sync_batchnorm(MODELS.build(m))
    model.init_weights()
    return cfg, model


def checkpoint_blocks(backbone):
    """with_cp=True for mmseg's MAE blocks: mmseg's VisionTransformer layer does `cp.checkpoint(_inner_forward, x)`
    when with_cp and x.requires_grad; MAE/BEiT layers lack the argument, so their forward is wrapped the same way."""
    for layer in backbone.layers:
        def forward(x, f=layer.forward):
            return cp.checkpoint(f, x) if x.requires_grad else f(x)
        layer.forward = forward


def meta():
    return dict(img_shape=(S, S), ori_shape=(S, S), pad_shape=(S, S))


def stats(times):
    """median (the mean of the middle two for an even count, as `npm run bench`), min, max"""
    t = sorted(times)
    n = len(t)
    return (t[n // 2] if n % 2 else (t[n // 2 - 1] + t[n // 2]) / 2), t[0], t[-1]


if which in ('train', 'both'):
    cfg, model = build(vit_s=True)
    if with_cp:
        checkpoint_blocks(model.backbone)
    model.train()
    with contextlib.redirect_stdout(io.StringIO()):  # the constructor print()s every parameter's layer id
        optim = build_optim_wrapper(model, cfg.optim_wrapper)  # AdamW + layer decay, as the config trains
    B = 2
    x = torch.randn(B, 3, S, S)
    samples = []
    for _ in range(B):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, K, (1, S, S)))
        s.set_metainfo(meta())
        samples.append(s)
    times = []
    for it in range(steps + 1):
        t0 = time.perf_counter()
        losses = model.loss(x, samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optim.update_params(loss)  # zero_grad, backward, step
        times.append(time.perf_counter() - t0)
    med, lo, hi = stats(times[1:])
    print(f'torch {torch.__version__} threads={threads}: seg-train-ade ViT-S/16 UperNet 512x512 batch {B} with_cp={with_cp} '
          f'median step {med:.2f} s (min {lo:.2f}, max {hi:.2f}, {steps} steps) = {B / med:.4f} img/s', flush=True)
    del model, optim

if which in ('eval', 'both'):
    cfg, model = build(vit_s=False)
    model.eval()
    x = torch.randn(1, 3, S, S)
    times = []
    with torch.no_grad():
        for it in range(steps + 1):
            t0 = time.perf_counter()
            model.encode_decode(x, [meta()])
            times.append(time.perf_counter() - t0)
    med, lo, hi = stats(times[1:])
    print(f'torch {torch.__version__} threads={threads}: seg-eval-ade ViT-B/16 UperNet one 512x512 window encode_decode '
          f'median {med:.2f} s (min {lo:.2f}, max {hi:.2f}, {steps} images) = {1 / med:.4f} img/s', flush=True)
