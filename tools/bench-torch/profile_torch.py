#!/usr/bin/python3
# Copyright the mff authors. SPDX-License-Identifier: Apache-2.0
"""PyTorch's own profile of a shared reference bench, to set beside `npm run bench -- --only X --profile`.

Runs ../shared/bench-torch/bench_torch_mff.py (config P) or bench_torch_seg.py (config S) unchanged under
torch.profiler (CPU activities, no shapes) and prints, per operator, its self CPU time per timed iteration, then the
same times grouped into the categories our `kernel-profile` lines use (GEMM, attention, norm, activation,
elementwise, optimizer, conv, copy/reshape, other). The script's own printed figure comes first (slower than without
the profiler, which adds a few µs per op).

usage: MM_SRC=<sources> /usr/bin/python3 profile_torch.py mff|seg [threads=2] [steps=6]
Only the timed iterations are traced (model building and the two warm-up steps are left out); for `seg` the train
step and the eval forward (`encode_decode` of one image) get one table each.
"""
import os
import runpy
import sys
from collections import defaultdict

here = os.path.dirname(os.path.abspath(__file__))
shared = os.environ.get('BENCH_TORCH_SHARED') or os.path.join(here, '..', '..', '..', 'shared', 'bench-torch')
which = sys.argv[1] if len(sys.argv) > 1 else 'mff'
threads = sys.argv[2] if len(sys.argv) > 2 else '2'
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 6
script = os.path.join(shared, {'mff': 'bench_torch_mff.py', 'seg': 'bench_torch_seg.py'}[which])
if not os.path.isfile(script):
    sys.exit(f'{script}: not found (set BENCH_TORCH_SHARED to the shared bench-torch folder)')

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

CATEGORIES = [
    ('GEMM (Linear fwd/bwd)', ('addmm', 'aten::mm', 'aten::linear', 'aten::matmul', 'aten::baddbmm')),
    ('attention', ('bmm', 'softmax', '_softmax', 'scaled_dot_product', 'flash_attention')),
    ('conv', ('convolution', 'conv2d', 'mkldnn_convolution', 'slow_conv', 'thnn_conv', 'im2col', 'col2im')),
    ('norm (LN/BN)', ('layer_norm', 'batch_norm', 'native_batch_norm')),
    ('activation', ('gelu', 'relu', 'threshold')),
    ('optimizer', ('_foreach', 'adam', 'lerp', 'addcdiv', 'addcmul')),
    ('copy/reshape', ('copy_', 'clone', 'contiguous', 'cat', 'index', 'gather', 'scatter', 'permute', 'transpose',
                      'view', 'reshape', 'expand', 'slice', 'select', 'unsqueeze', 'squeeze', 'stack', 'empty', 'zero_',
                      'fill_', 'as_strided', 'resize', 'interpolate', 'upsample', 'grid_sampler', 'argsort', 'sort')),
    ('elementwise/reduce', ('add', 'mul', 'sub', 'div', 'sum', 'mean', 'pow', 'sqrt', 'rsqrt', 'exp', 'neg', 'var',
                            'max', 'min', 'where', 'eq', 'ne', 'lt', 'gt', 'ge', 'le', 'clamp', 'norm')),
]


def category(name):
    n = name.lower()
    for cat, keys in CATEGORIES:
        if any(k in n for k in keys):
            return cat
    return 'other'



def table(prof, label, iters):
    rows = [(e.key, e.self_cpu_time_total / 1000 / iters, e.count / iters) for e in prof.key_averages()]
    rows = [r for r in rows if r[1] > 0]
    rows.sort(key=lambda r: -r[1])
    total = sum(r[1] for r in rows)
    print(f'\ntorch-profile {which} {label} threads={threads}: self CPU per iteration (mean of {iters}) {total:.1f} ms '
          f'over {sum(r[2] for r in rows):.0f} op calls')
    for name, ms, calls in rows[:25]:
        print(f'torch-op {label} {name:<40} {ms:8.2f} ms {calls:7.1f} calls  [{category(name)}]')
    cats = defaultdict(float)
    for name, ms, _ in rows:
        cats[category(name)] += ms
    for cat, ms in sorted(cats.items(), key=lambda kv: -kv[1]):
        print(f'torch-category {label} {cat:<24} {ms:8.2f} ms {100 * ms / total:5.1f} %')


# Profile only the timed iterations: the train profiler starts at the third call of the model's `loss` (the shared
# scripts run two warm-up steps) and stops when the eval forwards begin; the eval one (seg) starts at the third
# `encode_decode` in eval mode. Model building and initialisation stay out of the trace.
sys.path.insert(0, shared)
import mmenv  # noqa: E402,F401  (the shared sources on sys.path, unused imports stubbed)
if which == 'mff':
    from mmpretrain.models.selfsup.mff import MFF as Model  # noqa: E402
else:
    from mmseg.models.segmentors import EncoderDecoder as Model  # noqa: E402
state = {'loss': 0, 'eval': 0, 'train': profile(activities=[ProfilerActivity.CPU]),
         'evalp': profile(activities=[ProfilerActivity.CPU]), 'train_on': False, 'eval_on': False}
orig_loss, orig_ed = Model.loss, getattr(Model, 'encode_decode', None)


def loss(self, *a, **k):
    state['loss'] += 1
    if state['loss'] == 3:
        state['train'].start(); state['train_on'] = True
    return orig_loss(self, *a, **k)


def encode_decode(self, *a, **k):
    if not self.training:
        if state['train_on']:
            state['train'].stop(); state['train_on'] = False
        state['eval'] += 1
        if state['eval'] == 3:
            state['evalp'].start(); state['eval_on'] = True
    return orig_ed(self, *a, **k)


Model.loss = loss
if orig_ed is not None:
    Model.encode_decode = encode_decode
sys.argv = [script, threads, str(steps)]
runpy.run_path(script, run_name='__main__')
for key, on in (('train', 'train_on'), ('evalp', 'eval_on')):
    if state[on]:
        state[key].stop()
table(state['train'], 'train-step', steps)
if state['eval'] >= 3:
    table(state['evalp'], 'eval-forward', steps * 4)
