"""Regenerate test/data/pil-resize.json: Pillow `Image.resize` outputs on seeded random RGB images.

Run: /usr/bin/python3 test/data/make-pil-fixture.py  (Debian python3-pil, Pillow 9.4). Pixels are base64 HWC uint8.
"""
import base64, json, os, random
import PIL
from PIL import Image

random.seed(0)
cases = [  # (in_w, in_h, out_w, out_h, interp)
    (7, 5, 19, 23, 'bilinear'),
    (7, 5, 19, 23, 'bicubic'),
    (37, 29, 11, 8, 'bilinear'),
    (37, 29, 11, 8, 'bicubic'),
    (40, 30, 17, 30, 'bilinear'),   # horizontal only
    (40, 30, 40, 13, 'bicubic'),    # vertical only
    (28, 28, 64, 64, 'bilinear'),   # Fashion-MNIST style upscale
    (50, 23, 31, 47, 'bicubic'),    # mixed up/down
]
modes = {'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC}
out = {'pillow': PIL.__version__, 'cases': []}
for (iw, ih, ow, oh, interp) in cases:
    src = bytes(random.randrange(256) for _ in range(iw * ih * 3))
    img = Image.frombytes('RGB', (iw, ih), src)
    res = img.resize((ow, oh), modes[interp])
    out['cases'].append({
        'in': [iw, ih], 'out': [ow, oh], 'interp': interp,
        'src': base64.b64encode(src).decode(), 'expected': base64.b64encode(res.tobytes()).decode(),
    })
with open(os.path.join(os.path.dirname(__file__), 'pil-resize.json'), 'w') as f:
    json.dump(out, f)
