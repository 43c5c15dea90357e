/** Position embeddings: mmpretrain's 2-D sin-cos table and PyTorch-exact bicubic resizing. */

/**
 * mmpretrain build_2d_sincos_position_embedding(g, D, cls_token): [1+g*g, D] flat, row-major grid.
 * Patch m = r*g + c -> [sin(r w) | cos(r w) | sin(c w) | cos(c w)], w_k = 10000^(-k/(D/4)); cls row = 0.
 * Computed in float32 steps like the reference (omega and the products are rounded to float32).
 */
export function sincosPosEmbed(grid: number, dims: number, clsToken = true, temperature = 10000): Float32Array {
  if (dims % 4 !== 0) throw new Error(`sin-cos position embedding needs embed_dims divisible by 4, got ${dims}`);
  const q = dims / 4;
  const omega = new Float32Array(q);
  for (let k = 0; k < q; k++) omega[k] = 1 / Math.fround(temperature ** Math.fround(k / q));
  const rows = grid * grid + (clsToken ? 1 : 0);
  const out = new Float32Array(rows * dims);
  let row = clsToken ? 1 : 0;
  for (let r = 0; r < grid; r++) {
    for (let c = 0; c < grid; c++, row++) {
      const o = row * dims;
      for (let k = 0; k < q; k++) {
        const a = Math.fround(r * omega[k]);
        const b = Math.fround(c * omega[k]);
        out[o + k] = Math.sin(a);
        out[o + q + k] = Math.cos(a);
        out[o + 2 * q + k] = Math.sin(b);
        out[o + 3 * q + k] = Math.cos(b);
      }
    }
  }
  return out;
}

function cubicWeights(t: number, A = -0.75): [number, number, number, number] {
  const w = (x: number): number => {
    x = Math.abs(x);
    if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0;
  };
  return [w(t + 1), w(t), w(1 - t), w(2 - t)];
}

/**
 * PyTorch F.interpolate(mode='bicubic', align_corners=False) of a [h, w, C] grid (channels last) to [oh, ow, C]:
 * s = (d + 0.5) * in/out - 0.5 (not clamped), taps floor(s)-1 .. floor(s)+2 clamped to the edge, A = -0.75.
 */
export function bicubicResize(src: Float32Array, h: number, w: number, C: number, oh: number, ow: number): Float32Array {
  const axis = (inn: number, out: number) => {
    const idx: number[][] = [];
    const wts: number[][] = [];
    for (let d = 0; d < out; d++) {
      const s = (d + 0.5) * (inn / out) - 0.5;
      const f = Math.floor(s);
      wts.push(cubicWeights(s - f));
      idx.push([f - 1, f, f + 1, f + 2].map((i) => Math.min(Math.max(i, 0), inn - 1)));
    }
    return { idx, wts };
  };
  const ay = axis(h, oh);
  const ax = axis(w, ow);
  // Separable: rows first (over x), then columns (over y), in float64.
  const tmp = new Float64Array(h * ow * C);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < ow; x++)
      for (let k = 0; k < 4; k++) {
        const sx = ax.idx[x][k];
        const wt = ax.wts[x][k];
        for (let c = 0; c < C; c++) tmp[(y * ow + x) * C + c] += wt * src[(y * w + sx) * C + c];
      }
  const out = new Float32Array(oh * ow * C);
  for (let y = 0; y < oh; y++)
    for (let x = 0; x < ow; x++)
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let k = 0; k < 4; k++) acc += ay.wts[y][k] * tmp[(ay.idx[y][k] * ow + x) * C + c];
        out[(y * ow + x) * C + c] = acc;
      }
  return out;
}

/**
 * Resize a [1, extra + h*w, C] position embedding (flat) to a new grid, keeping the first `extra` (cls) rows:
 * mmpretrain resize_pos_embed / mmseg resize_pos_embed / MAE.resize_abs_pos_embed all reduce to this.
 */
export function resizePosEmbed(
  pe: Float32Array,
  src: [number, number],
  dst: [number, number],
  C: number,
  extra = 1,
): Float32Array {
  const [h, w] = src;
  const [oh, ow] = dst;
  if (pe.length !== (extra + h * w) * C) {
    throw new Error(`position embedding has ${pe.length / C} tokens, expected ${extra} + ${h}x${w}`);
  }
  if (h === oh && w === ow) return pe.slice();
  const grid = bicubicResize(pe.subarray(extra * C), h, w, C, oh, ow);
  const out = new Float32Array((extra + oh * ow) * C);
  out.set(pe.subarray(0, extra * C));
  out.set(grid, extra * C);
  return out;
}

/**
 * A checkpoint's pos_embed [1, 1+h·w, D] fitted to a model grid g×g: unchanged when it already matches, else
 * resized bicubically (resizePosEmbed, the cls row kept). The source grid must be square, as mmpretrain's
 * resize_pos_embed and mmseg's MAE.resize_abs_pos_embed assume (both give resizePosEmbed's numbers). `where` names the
 * file and key in errors. Used by the classification and the segmentation backbone loaders.
 */
export function fitPosEmbed(
  t: { shape: number[]; data: Float32Array | Int32Array },
  grid: number,
  dims: number,
  where: string,
): { shape: [number, number, number]; data: Float32Array; from: [number, number] | null } {
  const want: [number, number, number] = [1, 1 + grid * grid, dims];
  if (t.shape.length !== 3 || t.shape[0] !== 1 || t.shape[2] !== dims) {
    throw new Error(`${where} has shape [${t.shape}] but the model expects [${want}] (embed dims must match)`);
  }
  const n = t.shape[1] - 1;
  const g = Math.round(Math.sqrt(n));
  if (g * g !== n) throw new Error(`${where} has ${n} patch positions, not a square grid`);
  const data = Float32Array.from(t.data);
  if (g === grid) return { shape: want, data, from: null };
  return { shape: want, data: resizePosEmbed(data, [g, g], [grid, grid], dims, 1), from: [g, g] };
}
