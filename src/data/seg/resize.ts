/**
 * Image and label resizing with OpenCV `cv2.resize` semantics (what mmcv `imresize` calls):
 * - bilinear: INTER_LINEAR on uint8, half-pixel centres, 11-bit fixed-point weights
 *   (INTER_RESIZE_COEF_BITS), horizontal pass to int then the vertical pass of the SSE path
 *   (`VResizeLinearVec_32s8u`: ((S0>>4)*b0 >> 16) + ((S1>>4)*b1 >> 16) + 2 >> 2), scalar rounding on the row tail.
 *   No antialiasing. Builds using IPP may differ by 1 grey level.
 * - nearest: INTER_NEAREST, src = min(floor(dst * (1 / (dw / sw))), sw - 1) (not half-pixel centred).
 * Arrays are row-major HWC with `c` channels.
 */

const COEF_SCALE = 2048;
const f32 = Math.fround;

/** cvRound: round half to even. */
function cvRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Source index and 11-bit weights per destination coordinate (cv2 resize table setup, linear). */
function linearTable(srcSize: number, dstSize: number): { ofs: Int32Array; a0: Int32Array; a1: Int32Array } {
  const scale = 1 / (dstSize / srcSize);
  const ofs = new Int32Array(dstSize);
  const a0 = new Int32Array(dstSize);
  const a1 = new Int32Array(dstSize);
  for (let d = 0; d < dstSize; d++) {
    let fx = f32((d + 0.5) * scale - 0.5);
    let sx = Math.floor(fx);
    fx = f32(fx - sx);
    if (sx < 0) {
      fx = 0;
      sx = 0;
    }
    if (sx >= srcSize - 1) {
      fx = 0;
      sx = srcSize - 1;
    }
    ofs[d] = sx;
    a0[d] = cvRound(f32(f32(1 - fx) * COEF_SCALE));
    a1[d] = cvRound(f32(fx * COEF_SCALE));
  }
  return { ofs, a0, a1 };
}

/** cv2.resize(src, (dw, dh), interpolation=INTER_LINEAR) for uint8 HWC. */
export function resizeBilinear(src: Uint8Array, sw: number, sh: number, c: number, dw: number, dh: number): Uint8Array {
  checkSizes(src, sw, sh, c, dw, dh, 'resizeBilinear');
  if (sw === dw && sh === dh) return src.slice();
  const xt = linearTable(sw, dw);
  const yt = linearTable(sh, dh);
  const rowLen = dw * c;
  // horizontal pass, cached per source row (each source row is used by up to two output rows at a time)
  const hrow = (sy: number, out: Int32Array) => {
    const base = sy * sw * c;
    for (let dx = 0; dx < dw; dx++) {
      const sx = xt.ofs[dx];
      const sx1 = Math.min(sx + 1, sw - 1);
      const w0 = xt.a0[dx];
      const w1 = xt.a1[dx];
      for (let k = 0; k < c; k++) out[dx * c + k] = src[base + sx * c + k] * w0 + src[base + sx1 * c + k] * w1;
    }
  };
  const dst = new Uint8Array(dh * rowLen);
  let r0 = new Int32Array(rowLen);
  let r1 = new Int32Array(rowLen);
  let have0 = -1;
  let have1 = -1;
  const vecEnd = rowLen - (rowLen % 16); // 16-lane SIMD body; scalar tail
  for (let dy = 0; dy < dh; dy++) {
    const sy0 = yt.ofs[dy];
    const sy1 = Math.min(sy0 + 1, sh - 1);
    if (have0 !== sy0) {
      if (have1 === sy0) {
        [r0, r1] = [r1, r0];
        have0 = sy0;
        have1 = -1;
      } else {
        hrow(sy0, r0);
        have0 = sy0;
      }
    }
    if (have1 !== sy1) {
      hrow(sy1, r1);
      have1 = sy1;
    }
    const b0 = yt.a0[dy];
    const b1 = yt.a1[dy];
    const o = dy * rowLen;
    for (let x = 0; x < vecEnd; x++) {
      const v = ((((r0[x] >> 4) * b0) >> 16) + (((r1[x] >> 4) * b1) >> 16) + 2) >> 2;
      dst[o + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    for (let x = vecEnd; x < rowLen; x++) {
      const v = (r0[x] * b0 + r1[x] * b1 + (1 << 21)) >> 22; // FixedPtCast<int, uchar, 22>
      dst[o + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return dst;
}

/** cv2.resize(src, (dw, dh), interpolation=INTER_NEAREST) for any typed HWC array. */
export function resizeNearest<T extends Uint8Array | Float32Array>(src: T, sw: number, sh: number, c: number, dw: number, dh: number): T {
  checkSizes(src, sw, sh, c, dw, dh, 'resizeNearest');
  const ifx = 1 / (dw / sw);
  const ify = 1 / (dh / sh);
  const xo = new Int32Array(dw);
  for (let x = 0; x < dw; x++) xo[x] = Math.min(Math.floor(x * ifx), sw - 1);
  const dst = new (src.constructor as new (n: number) => T)(dw * dh * c);
  for (let y = 0; y < dh; y++) {
    const sy = Math.min(Math.floor(y * ify), sh - 1);
    const sBase = sy * sw * c;
    const dBase = y * dw * c;
    if (c === 1) for (let x = 0; x < dw; x++) dst[dBase + x] = src[sBase + xo[x]];
    else for (let x = 0; x < dw; x++) for (let k = 0; k < c; k++) dst[dBase + x * c + k] = src[sBase + xo[x] * c + k];
  }
  return dst;
}

/**
 * mmcv `rescale_size((w, h), scale)` for a (long, short) scale tuple, keep_ratio:
 * factor = min(max(scale) / max(h, w), min(scale) / min(h, w)); size = int(w * factor + 0.5), int(h * factor + 0.5).
 */
export function rescaleSize(w: number, h: number, scale: readonly [number, number]): { width: number; height: number; factor: number } {
  const factor = Math.min(Math.max(...scale) / Math.max(h, w), Math.min(...scale) / Math.min(h, w));
  return { width: Math.trunc(w * factor + 0.5), height: Math.trunc(h * factor + 0.5), factor };
}

function checkSizes(src: ArrayLike<number>, sw: number, sh: number, c: number, dw: number, dh: number, fn: string): void {
  if (src.length !== sw * sh * c) throw new Error(`${fn}: ${src.length} values for ${sw}x${sh}x${c}`);
  if (!(dw >= 1 && dh >= 1 && Number.isInteger(dw) && Number.isInteger(dh))) throw new Error(`${fn}: bad target size ${dw}x${dh}`);
}
