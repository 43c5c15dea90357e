"""
Check `mff export` output with the real OpenMMLab code: build each exported config's model through the mmpretrain /
mmseg registry, convert the weights beside it to .pth (what the two-line conversion does), load them as the config
says (load_from strictly, or the backbone's init_cfg) and compare every value; then build the train dataset and run
its pipeline on the first sample (needs the data on disk).

  MM_SRC=$HOME/mmsrc python3 tools/check_export.py CONFIG.py WEIGHTS.safetensors [CONFIG.py WEIGHTS.safetensors ...]

MM_SRC holds the source trees as for ../shared/bench-torch (README there); its mmenv.py is used.
"""
import json, os, struct, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../shared/bench-torch'))
import mmenv  # noqa: F401  (MM_SRC trees on sys.path)
mmenv._STUB_ROOTS = mmenv._STUB_ROOTS + ('torchvision',)  # torch 1.13 here has no torchvision: its transforms cannot be checked
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint

DT = {'F32': np.float32, 'I64': np.int64, 'I32': np.int32, 'F64': np.float64}

def read_safetensors(f):
    b = open(f, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n]); h.pop('__metadata__', None)
    out = {}
    for k, v in h.items():
        s, e = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + s:8 + n + e], dtype=DT[v['dtype']]).reshape(v['shape']).copy())
    return out

def convert(weights, pth):  # = the two-line conversion (safetensors.torch.load_file is not installed here)
    torch.save({'state_dict': read_safetensors(weights)}, pth)

args = sys.argv[1:]
if not args or len(args) % 2:
    sys.exit(__doc__)
for cfg_file, weights in zip(args[::2], args[1::2]):
    cfg = Config.fromfile(cfg_file)
    scope = cfg.default_scope
    init_default_scope(scope)
    if scope == 'mmpretrain':
        import mmpretrain.models  # noqa
        from mmpretrain.registry import MODELS, DATASETS
    else:
        import mmseg.models, mmseg.datasets  # noqa
        from mmseg.registry import MODELS, DATASETS
    pth = weights.replace('.safetensors', '.pth')
    convert(weights, pth)
    model = MODELS.build(cfg.model)
    if cfg.load_from:
        assert cfg.load_from == pth, (cfg.load_from, pth)
        load_checkpoint(model, pth, strict=True, map_location='cpu')
        sd = model.state_dict(); w = read_safetensors(weights)
        same = all(torch.equal(sd[k].to(w[k].dtype), w[k]) for k in w)
        how = f'load_from strict: {len(w)} tensors, values equal: {same}'
    else:
        model.init_weights()
        w = read_safetensors(weights)
        sd = model.backbone.state_dict()
        keys = [k[len('backbone.'):] if k.startswith('backbone.') else k for k in w]
        keys = [k for k in keys if k in sd]
        same = all(torch.equal(sd[k], w[k] if k in w else w['backbone.' + k]) for k in keys if sd[k].shape == (w[k] if k in w else w['backbone.' + k]).shape)
        how = f'init_cfg Pretrained: {len(keys)} backbone tensors found in the file, values equal: {same}'
    try:
        ds = DATASETS.build(cfg.train_dataloader.dataset)
        item = ds[0]
        shape = f"train set {len(ds)} images, first sample {tuple(item['inputs'].shape)}"
    except Exception as e:
        shape = f'pipeline not checked: {type(e).__name__}: {str(e)[:160]}'
    print(f'{os.path.basename(cfg_file)} [{scope}] {type(model).__name__}: {how}; {shape}')
