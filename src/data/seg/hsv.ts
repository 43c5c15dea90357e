/**
 * OpenCV 8-bit HSV conversions (cv2.COLOR_BGR2HSV / COLOR_HSV2BGR, hue range 180), used by mmcv `bgr2hsv` /
 * `hsv2bgr` in PhotoMetricDistortion. Pixels are RGB here; cv2 reads b, g, r by position, so the maths is the same.
 * Forward: integer tables with a 12-bit shift (RGB2HSV_b). Backward: float32 sector formula (HSV2RGB_b), cvRound.
 */

const HSV_SHIFT = 12;
const f32 = Math.fround;

function cvRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const SDIV = new Int32Array(256);
const HDIV180 = new Int32Array(256);
for (let i = 1; i < 256; i++) {
  SDIV[i] = cvRound((255 << HSV_SHIFT) / i);
  HDIV180[i] = cvRound((180 << HSV_SHIFT) / (6 * i));
}

/** RGB HWC uint8 -> HSV HWC uint8 (H in 0..179, S, V in 0..255). */
export function rgbToHsv(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  const half = 1 << (HSV_SHIFT - 1);
  for (let i = 0; i < rgb.length; i += 3) {
    const r = rgb[i];
    const g = rgb[i + 1];
    const b = rgb[i + 2];
    const v = Math.max(r, g, b);
    const diff = v - Math.min(r, g, b);
    const vr = v === r ? -1 : 0;
    const vg = v === g ? -1 : 0;
    const s = (diff * SDIV[v] + half) >> HSV_SHIFT;
    let h = (vr & (g - b)) + (~vr & ((vg & (b - r + 2 * diff)) + (~vg & (r - g + 4 * diff))));
    h = (h * HDIV180[diff] + half) >> HSV_SHIFT;
    if (h < 0) h += 180;
    out[i] = h > 255 ? 255 : h;
    out[i + 1] = s;
    out[i + 2] = v;
  }
  return out;
}

// (b, g, r) picks from tab[0..3] per sector, as in OpenCV's HSV2RGB_native
const SECTOR = [
  [1, 3, 0],
  [1, 0, 2],
  [3, 0, 1],
  [0, 2, 1],
  [0, 1, 3],
  [2, 1, 0],
];

/** HSV HWC uint8 (hue range 180) -> RGB HWC uint8. */
export function hsvToRgb(hsv: Uint8Array): Uint8Array {
  const out = new Uint8Array(hsv.length);
  const hscale = f32(6 / 180);
  const inv255 = f32(1 / 255);
  const tab = new Float64Array(4);
  const sat = (x: number) => {
    const v = cvRound(f32(x * 255));
    return v < 0 ? 0 : v > 255 ? 255 : v;
  };
  for (let i = 0; i < hsv.length; i += 3) {
    const s = f32(hsv[i + 1] * inv255);
    const v = f32(hsv[i + 2] * inv255);
    let r: number;
    let g: number;
    let b: number;
    if (s === 0) {
      r = g = b = v;
    } else {
      let h = f32(hsv[i] * hscale);
      while (h < 0) h = f32(h + 6);
      while (h >= 6) h = f32(h - 6);
      let sector = Math.floor(h);
      h = f32(h - sector);
      if (sector < 0 || sector >= 6) {
        sector = 0;
        h = 0;
      }
      tab[0] = v;
      tab[1] = f32(v * f32(1 - s));
      tab[2] = f32(v * f32(1 - f32(s * h)));
      tab[3] = f32(v * f32(1 - f32(s * f32(1 - h))));
      const sd = SECTOR[sector];
      b = tab[sd[0]];
      g = tab[sd[1]];
      r = tab[sd[2]];
    }
    out[i] = sat(r);
    out[i + 1] = sat(g);
    out[i + 2] = sat(b);
  }
  return out;
}
