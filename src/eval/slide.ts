/**
 * mmseg EncoderDecoder inference (segmentors/encoder_decoder.py slide_inference / whole_inference, then
 * BaseSegmentor.postprocess_result): per-window encode_decode, logits summed into place and divided by the
 * per-pixel window count, bilinear resize (align_corners=False) to the original shape, argmax (first max wins).
 * Images are NHWC [1, H, W, C], normalised.
 */
import * as tf from '@tensorflow/tfjs';
import { resizeBilinear } from '../nn/resize.js';

/** Anything that maps a crop [B, h, w, C] to logits [B, h, w, K] (segEncodeDecode). */
export type EncodeDecode = (crop: tf.Tensor4D) => tf.Tensor4D;

export type TestCfg = { mode: 'whole' } | { mode: 'slide'; crop: [number, number]; stride: [number, number] };

/** The windows slide inference visits, as [y1, y2, x1, x2], row by row. */
export function slideWindows(H: number, W: number, crop: [number, number], stride: [number, number]): Array<[number, number, number, number]> {
  const [hc, wc] = crop;
  const [hs, ws] = stride;
  if (hs <= 0 || ws <= 0) throw new Error(`slide inference: stride must be positive, got [${stride}]`);
  const hGrids = Math.floor(Math.max(H - hc + hs - 1, 0) / hs) + 1;
  const wGrids = Math.floor(Math.max(W - wc + ws - 1, 0) / ws) + 1;
  const out: Array<[number, number, number, number]> = [];
  for (let i = 0; i < hGrids; i++) {
    for (let j = 0; j < wGrids; j++) {
      let y1 = i * hs;
      let x1 = j * ws;
      const y2 = Math.min(y1 + hc, H);
      const x2 = Math.min(x1 + wc, W);
      y1 = Math.max(y2 - hc, 0);
      x1 = Math.max(x2 - wc, 0);
      out.push([y1, y2, x1, x2]);
    }
  }
  return out;
}

/**
 * Slide inference: img [1, H, W, C] -> averaged logits [1, H, W, K]. Windows run one at a time (batch 1, as mmseg);
 * their logits are added into a host-side accumulator (no full-size padded copy per window: at ADE20K sizes one
 * [1, H, W, 150] map is ~200 MB), then divided by the per-pixel window count.
 */
export function slideLogits(encodeDecode: EncodeDecode, img: tf.Tensor4D, crop: [number, number], stride: [number, number]): tf.Tensor4D {
  const [B, H, W] = img.shape;
  if (B !== 1) throw new Error(`slide inference takes one image at a time, got batch ${B}`);
  const windows = slideWindows(H, W, crop, stride);
  const count = new Float32Array(H * W);
  let acc: Float32Array | null = null;
  let K = 0;
  for (const [y1, y2, x1, x2] of windows) {
    const [h, w] = [y2 - y1, x2 - x1];
    const logits = tf.tidy(() => encodeDecode(tf.slice(img, [0, y1, x1, 0], [1, h, w, -1]))); // [1, h, w, K]
    if (logits.shape[1] !== h || logits.shape[2] !== w) {
      logits.dispose();
      throw new Error(`slide inference: encode_decode returned ${logits.shape[1]}x${logits.shape[2]} for a ${h}x${w} crop`);
    }
    K = logits.shape[3];
    const v = logits.dataSync() as Float32Array;
    logits.dispose();
    acc ??= new Float32Array(H * W * K);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const dst = ((y1 + y) * W + (x1 + x)) * K;
        const src = (y * w + x) * K;
        for (let k = 0; k < K; k++) acc[dst + k] += v[src + k];
        count[(y1 + y) * W + (x1 + x)] += 1;
      }
    }
  }
  const out = acc!;
  for (let i = 0; i < H * W; i++) for (let k = 0; k < K; k++) out[i * K + k] /= count[i];
  return tf.tensor4d(out, [1, H, W, K]);
}

export interface InferenceResult {
  /** Logits at the network input size, [1, H, W, K] (mmseg seg_logits before postprocess). */
  segLogits: tf.Tensor4D;
  /** Logits resized to the original image shape, [1, oh, ow, K]. */
  logits: tf.Tensor4D;
  /** argmax over K, row-major [oh, ow]. */
  pred: Int32Array;
}

/** EncoderDecoder.inference + postprocess_result (no flip): whole or slide, then resize to oriShape and argmax. */
export function inferSegmentation(encodeDecode: EncodeDecode, img: tf.Tensor4D, oriShape: [number, number], test: TestCfg): InferenceResult {
  const segLogits = test.mode === 'slide' ? slideLogits(encodeDecode, img, test.crop, test.stride) : encodeDecode(img);
  const logits = tf.tidy(() => {
    const r = resizeBilinear(segLogits, oriShape);
    return r === segLogits ? tf.clone(r) : r;
  });
  const am = tf.argMax(logits, 3);
  const pred = Int32Array.from(am.dataSync());
  am.dispose();
  return { segLogits, logits, pred };
}
