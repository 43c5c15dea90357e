/*
 * mff native engine: the N-API glue only. Every JS function takes the heap as a Float32Array (or Int32Array) view of
 * the whole wasm memory and element offsets into it; each wrapper here checks its arguments, turns the offsets into
 * pointers and calls one plain C kernel of kernels.c (declared and documented in kernels.h). Nothing is allocated or
 * retained here. The JS side is src/backend/native.ts (the NativeAddon interface) and the kernel files it lists.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "kernels.h"

/* bump with every change of the JS-visible API (src/backend/native.ts NATIVE_API) */
#define MFF_NATIVE_API 16

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "mff_native: bad argument"); return NULL; } } while (0)

static void *typed_ptr(napi_env env, napi_value v, size_t *len) {
  napi_typedarray_type t; size_t n; void *data; napi_value ab; size_t off;
  if (napi_get_typedarray_info(env, v, &t, &n, &data, &ab, &off) != napi_ok) return NULL;
  if (len) *len = n;
  return data;
}
static int64_t get_i64(napi_env env, napi_value v) { int64_t x = 0; napi_get_value_int64(env, v, &x); return x; }
static double get_f64(napi_env env, napi_value v, double dflt) { double x = dflt; napi_get_value_double(env, v, &x); return x; }
/* heap + element offset (the offset read as an unsigned 32-bit index, as the wasm heap addresses it) */
#define AT(heap, off) ((heap) + (uint32_t)(off))

/* gemm(heap, offA:Int32Array, offB:Int32Array, offC:Int32Array, M, N, K, transA, transB) */
static napi_value gemm(napi_env env, napi_callback_info info) {
  size_t argc = 9; napi_value a[9];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc < 9) { napi_throw_error(env, NULL, "gemm: 9 arguments expected"); return NULL; }
  float *heap = typed_ptr(env, a[0], NULL);
  size_t nb, nb2, nb3;
  int32_t *oa = typed_ptr(env, a[1], &nb), *ob = typed_ptr(env, a[2], &nb2), *oc = typed_ptr(env, a[3], &nb3);
  if (!heap || !oa || !ob || !oc || nb != nb2 || nb != nb3) { napi_throw_error(env, NULL, "gemm: bad arrays"); return NULL; }
  mff_gemm(heap, oa, ob, oc, nb, (int)get_i64(env, a[4]), (int)get_i64(env, a[5]), (int)get_i64(env, a[6]),
           (int)get_i64(env, a[7]), (int)get_i64(env, a[8]));
  return NULL;
}

/* transpose(heap, inOff, outOff, shape:Int32Array, perm:Int32Array): 4-byte elements, any rank <= 8 */
static napi_value transpose(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  uint32_t *heap = typed_ptr(env, a[0], NULL);
  size_t rank, rank2;
  int32_t *shape = typed_ptr(env, a[3], &rank), *perm = typed_ptr(env, a[4], &rank2);
  if (!heap || !shape || !perm || rank != rank2 || rank < 1 || rank > 8) { napi_throw_error(env, NULL, "transpose: bad arguments"); return NULL; }
  mff_transpose(AT(heap, get_i64(env, a[1])), AT(heap, get_i64(env, a[2])), shape, perm, (int)rank);
  return NULL;
}

/* concatRows(heap, outOff, total, rows, srcOffs:Int32Array, widths:Int32Array): 4-byte elements */
static napi_value concat_rows(napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value a[6];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  uint32_t *heap = typed_ptr(env, a[0], NULL);
  size_t np, nw;
  int32_t *src = typed_ptr(env, a[4], &np), *w = typed_ptr(env, a[5], &nw);
  int64_t total = get_i64(env, a[2]), rows = get_i64(env, a[3]), sum = 0;
  for (size_t q = 0; w && q < nw; q++) sum += w[q] < 0 ? -1 << 30 : w[q];
  if (argc < 6 || !heap || !src || !w || np != nw || np == 0 || rows < 0 || sum != total) {
    napi_throw_error(env, NULL, "concatRows: bad arguments"); return NULL;
  }
  mff_concat_rows(heap, AT(heap, get_i64(env, a[1])), total, rows, src, w, (int)np);
  return NULL;
}

/* softmax(heap, inOff, outOff, rows, cols) */
static napi_value softmax(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *heap = typed_ptr(env, a[0], NULL);
  if (!heap) { napi_throw_error(env, NULL, "softmax: bad heap"); return NULL; }
  mff_softmax(AT(heap, get_i64(env, a[1])), AT(heap, get_i64(env, a[2])), get_i64(env, a[3]), get_i64(env, a[4]));
  return NULL;
}

/* unary(heap, op, inOff, outOff, n): op 0 = erf, 1 = exp */
static napi_value unary(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *heap = typed_ptr(env, a[0], NULL);
  if (!heap) { napi_throw_error(env, NULL, "unary: bad heap"); return NULL; }
  mff_unary((int)get_i64(env, a[1]), AT(heap, get_i64(env, a[2])), AT(heap, get_i64(env, a[3])), get_i64(env, a[4]));
  return NULL;
}

/* binary(heap, op, aOff, bOff, outOff, shape, aStr, bStr): op 0 add, 1 sub, 2 mul, 3 div; shape/strides Int32Array
 * of the (collapsed) output rank <= 8, stride 0 = broadcast */
static napi_value binary(napi_env env, napi_callback_info info) {
  size_t argc = 8; napi_value a[8];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *heap = typed_ptr(env, a[0], NULL);
  size_t r1, r2, r3;
  int32_t *shape = typed_ptr(env, a[5], &r1), *as = typed_ptr(env, a[6], &r2), *bs = typed_ptr(env, a[7], &r3);
  if (!heap || !shape || !as || !bs || r1 != r2 || r1 != r3 || r1 < 1 || r1 > 8) { napi_throw_error(env, NULL, "binary: bad arguments"); return NULL; }
  mff_binary((int)get_i64(env, a[1]), AT(heap, get_i64(env, a[2])), AT(heap, get_i64(env, a[3])), AT(heap, get_i64(env, a[4])),
             shape, as, bs, (int)r1);
  return NULL;
}

/* reduceSum(heap, inOff, outOff, O, R, I): out[o, i] = sum_r x[o, r, i] */
static napi_value reduce_sum(napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value a[6];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *heap = typed_ptr(env, a[0], NULL);
  if (!heap) { napi_throw_error(env, NULL, "reduceSum: bad heap"); return NULL; }
  mff_reduce_sum(AT(heap, get_i64(env, a[1])), AT(heap, get_i64(env, a[2])), get_i64(env, a[3]), get_i64(env, a[4]), get_i64(env, a[5]));
  return NULL;
}

/* gelu(heap, mode, xOff, dyOff, outOff, n): mode 0 forward, 1 backward */
static napi_value gelu(napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value a[6];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *heap = typed_ptr(env, a[0], NULL);
  if (!heap) { napi_throw_error(env, NULL, "gelu: bad heap"); return NULL; }
  mff_gelu((int)get_i64(env, a[1]), AT(heap, get_i64(env, a[2])), AT(heap, get_i64(env, a[3])), AT(heap, get_i64(env, a[4])), get_i64(env, a[5]));
  return NULL;
}

/* layerNorm(heap, xOff, wOff, bOff, yOff, rows, D, eps[, aOff, sOff]): with aOff, y = layer_norm(s = x + a) and s is written */
static napi_value layer_norm(napi_env env, napi_callback_info info) {
  size_t argc = 10; napi_value a[10];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *heap = typed_ptr(env, a[0], NULL);
  if (!heap || argc < 8) { napi_throw_error(env, NULL, "layerNorm: bad arguments"); return NULL; }
  int add = argc >= 10;
  mff_add_layer_norm(AT(heap, get_i64(env, a[1])), add ? AT(heap, get_i64(env, a[8])) : NULL, add ? AT(heap, get_i64(env, a[9])) : NULL,
                     AT(heap, get_i64(env, a[2])), AT(heap, get_i64(env, a[3])), AT(heap, get_i64(env, a[4])), get_i64(env, a[5]), get_i64(env, a[6]),
                     get_f64(env, a[7], 0));
  return NULL;
}

/* layerNormGrad(heap, xOff, wOff, dyOff, dxOff, dwOff, dbOff, rows, D, eps[, dsOff]): with dsOff, ds is added to dx */
static napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  size_t argc = 11; napi_value a[11];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *heap = typed_ptr(env, a[0], NULL);
  if (!heap || argc < 10) { napi_throw_error(env, NULL, "layerNormGrad: bad arguments"); return NULL; }
  mff_layer_norm_grad_acc(AT(heap, get_i64(env, a[1])), AT(heap, get_i64(env, a[2])), AT(heap, get_i64(env, a[3])), argc >= 11 ? AT(heap, get_i64(env, a[10])) : NULL,
                          AT(heap, get_i64(env, a[4])), AT(heap, get_i64(env, a[5])), AT(heap, get_i64(env, a[6])), get_i64(env, a[7]), get_i64(env, a[8]),
                          get_f64(env, a[9], 0));
  return NULL;
}

/* conv2d(heap, mode, xOff, wOff, yOff, dims:Int32Array[15 or 16], [biasOff]): dims as mff_conv2d's; dims[15]
 * (optional, mode 0 only) = epilogue flags, bit 0 = add bias (biasOff, [Co]), bit 1 = ReLU (FusedConv2D). */
static napi_value conv2d(napi_env env, napi_callback_info info) {
  size_t argc = 7; napi_value a[7];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *heap = typed_ptr(env, a[0], NULL);
  size_t nd;
  int32_t *d = typed_ptr(env, a[5], &nd);
  if (!heap || !d || nd < 15) { napi_throw_error(env, NULL, "conv2d: bad arguments"); return NULL; }
  int mode = (int)get_i64(env, a[1]);
  int epi = nd >= 16 && mode == 0 ? d[15] : 0;
  if ((epi & 1) && argc < 7) { napi_throw_error(env, NULL, "conv2d: bias offset missing"); return NULL; }
  const float *bias = (epi & 1) ? AT(heap, get_i64(env, a[6])) : NULL;
  int err = mff_conv2d(mode, AT(heap, get_i64(env, a[2])), AT(heap, get_i64(env, a[3])), AT(heap, get_i64(env, a[4])), d, bias, (epi & 2) != 0);
  if (err == MFF_CONV_NOMEM) napi_throw_error(env, NULL, "conv2d: out of memory");
  else if (err == MFF_CONV_NOMEM_COL) napi_throw_error(env, NULL, "conv2d: out of memory for im2col");
  return NULL;
}

/* adamw(heap, offs:Int32Array[8] = p m v g pOut mOut vOut n, c:Float32Array[8] = decay c1 b2 c2 bc2 eps stepSize hasDecay) */
static napi_value adamw(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value a[3];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *heap = typed_ptr(env, a[0], NULL);
  size_t no, nc;
  int32_t *o = typed_ptr(env, a[1], &no);
  float *c = typed_ptr(env, a[2], &nc);
  if (!heap || !o || !c || no < 8 || nc < 8) { napi_throw_error(env, NULL, "adamw: bad arguments"); return NULL; }
  mff_adamw(AT(heap, o[0]), AT(heap, o[1]), AT(heap, o[2]), AT(heap, o[3]), AT(heap, o[4]), AT(heap, o[5]), AT(heap, o[6]), o[7], c);
  return NULL;
}

/* adamwMulti(arrays: Float32Array[4k] = p m v g per tensor (views into the heap or host arrays; p, m, v updated in
 * place), c: Float32Array[8k] = each tensor's adamw constants). Throws on a length mismatch. */
static napi_value adamw_multi(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value a[2];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  uint32_t na = 0; size_t nc = 0;
  float *c = typed_ptr(env, a[1], &nc);
  if (argc < 2 || napi_get_array_length(env, a[0], &na) != napi_ok || na % 4 || !c || nc < 2 * (size_t)na) {
    napi_throw_error(env, NULL, "adamwMulti: bad arguments"); return NULL;
  }
  int k = (int)(na / 4);
  float **ptr = malloc(sizeof(float *) * (na ? na : 1));
  int64_t *start = malloc(sizeof(int64_t) * ((size_t)k + 1));
  if (!ptr || !start) { free(ptr); free(start); napi_throw_error(env, NULL, "adamwMulti: out of memory"); return NULL; }
  start[0] = 0;
  for (int j = 0; j < k; j++) {
    size_t n0 = 0;
    for (int q = 0; q < 4; q++) {
      napi_value e, ab; size_t len = 0, off; napi_typedarray_type t; void *data = NULL;
      if (napi_get_element(env, a[0], (uint32_t)(4 * j + q), &e) != napi_ok
          || napi_get_typedarray_info(env, e, &t, &len, &data, &ab, &off) != napi_ok || t != napi_float32_array) {
        free(ptr); free(start); napi_throw_error(env, NULL, "adamwMulti: not a Float32Array"); return NULL;
      }
      ptr[q * k + j] = data;
      if (q == 0) n0 = len;
      if (len != n0) { free(ptr); free(start); napi_throw_error(env, NULL, "adamwMulti: p, m, v, g sizes differ"); return NULL; }
    }
    start[j + 1] = start[j] + (int64_t)n0;
  }
  mff_adamw_multi(k, ptr, ptr + k, ptr + 2 * k, (const float *const *)(ptr + 3 * k), start, c);
  free(ptr); free(start);
  return NULL;
}

/* The common argument shape (heap, mode, offs:Int32Array, dims:Int32Array, ...): false (and a[] untouched) when the
 * heap or either array is missing or shorter than min_o / min_d. */
struct mod_args { float *heap; int mode; int32_t *o, *d; size_t no, nd; };
static int read_mod_args(napi_env env, napi_value *a, struct mod_args *m, size_t min_o, size_t min_d) {
  m->no = m->nd = 0;
  m->heap = typed_ptr(env, a[0], NULL);
  m->mode = (int)get_i64(env, a[1]);
  m->o = typed_ptr(env, a[2], &m->no);
  m->d = typed_ptr(env, a[3], &m->nd);
  return m->heap && m->o && m->d && m->no >= min_o && m->nd >= min_d;
}

/* attention(heap, mode, offs:Int32Array, dims:Int32Array[4 or 5] = B N H hd [hasBias], scale)
 * mode 0, offs = qkv out probs [bias]: the forward; mode 1, offs = qkv probs dOut dQkv [dBias]: the gradient. */
static napi_value attention(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  struct mod_args m;
  int ok = read_mod_args(env, a, &m, 3, 4);
  float *heap = m.heap; int32_t *o = m.o, *d = m.d; size_t no = m.no, nd = m.nd; int mode = m.mode;
  float scale = (float)get_f64(env, a[4], 1);
  if (!ok || no < (size_t)(mode == 0 ? 3 : 4)) { napi_throw_error(env, NULL, "attention: bad arguments"); return NULL; }
  int B = d[0], N = d[1], H = d[2], hd = d[3], hasBias = nd >= 5 ? d[4] : 0;
  if (hasBias && no < (size_t)(mode == 0 ? 4 : 5)) { napi_throw_error(env, NULL, "attention: bias offset missing"); return NULL; }
  if (mode == 0 ? mff_attention_forward(AT(heap, o[0]), AT(heap, o[1]), AT(heap, o[2]), hasBias ? AT(heap, o[3]) : NULL, B, N, H, hd, scale)
                : mff_attention_backward(AT(heap, o[0]), AT(heap, o[1]), AT(heap, o[2]), AT(heap, o[3]), hasBias ? AT(heap, o[4]) : NULL,
                                         B, N, H, hd, scale)) {
    napi_throw_error(env, NULL, "attention: out of memory");
  }
  return NULL;
}

/* linear(heap, mode, offs:Int32Array, dims:Int32Array [M, K, N, hasBias]):
 *   mode 0: offs [x, W, b, y]     y = x W (+ b)
 *   mode 1: offs [dy, W, dx]      dx = dy W^T
 *   mode 2: offs [x, dy, dW, db]  dW = x^T dy, db = column sums of dy (if hasBias) */
static napi_value linear(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value a[4];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  struct mod_args m;
  if (!read_mod_args(env, a, &m, 3, 4)) { napi_throw_error(env, NULL, "linear: bad arguments"); return NULL; }
  float *heap = m.heap; int32_t *o = m.o, *d = m.d; size_t no = m.no; int mode = m.mode;
  const int M = d[0], K = d[1], N = d[2], hasBias = d[3];
  if (mode == 0) mff_linear_forward(AT(heap, o[0]), AT(heap, o[1]), hasBias ? AT(heap, o[2]) : NULL, AT(heap, o[3]), M, K, N);
  else if (mode == 1) mff_linear_grad_x(AT(heap, o[0]), AT(heap, o[1]), AT(heap, o[2]), M, K, N);
  else {
    if (no < 4) { napi_throw_error(env, NULL, "linear: bad arguments"); return NULL; }
    mff_linear_grad_w(AT(heap, o[0]), AT(heap, o[1]), AT(heap, o[2]), hasBias ? AT(heap, o[3]) : NULL, M, K, N);
  }
  return NULL;
}

/* ffn(heap, mode, offs:Int32Array, dims:Int32Array [M, K, H, N]):
 *   mode 0: offs [x, W1, b1, W2, b2, h (-1: not kept), g, y]
 *   mode 1: offs [x, W1, W2, h, g, dy, dx, dW1, db1, dW2, db2, dh] */
static napi_value ffn(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value a[4];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  struct mod_args m;
  if (!read_mod_args(env, a, &m, 8, 4) || (m.mode == 1 && m.no < 12)) { napi_throw_error(env, NULL, "ffn: bad arguments"); return NULL; }
  float *heap = m.heap; int32_t *o = m.o, *d = m.d;
  const int M = d[0], K = d[1], H = d[2], N = d[3];
  if (m.mode == 0) mff_ffn_forward(AT(heap, o[0]), AT(heap, o[1]), AT(heap, o[2]), AT(heap, o[3]), AT(heap, o[4]), o[5] < 0 ? NULL : AT(heap, o[5]),
                                   AT(heap, o[6]), AT(heap, o[7]), M, K, H, N);
  else if (mff_ffn_backward(AT(heap, o[0]), AT(heap, o[1]), AT(heap, o[2]), AT(heap, o[3]), AT(heap, o[4]), AT(heap, o[5]), AT(heap, o[6]),
                            AT(heap, o[7]), AT(heap, o[8]), AT(heap, o[9]), AT(heap, o[10]), AT(heap, o[11]), M, K, H, N))
    napi_throw_error(env, NULL, "ffn: out of memory for the bias-gradient partial sums");
  return NULL;
}

/* batchNormTrain(heap, mode, offs:Int32Array, dims:Int32Array [n, C, relu], eps):
 *   mode 0: offs [x, w, b, y, mean, var]
 *   mode 1: offs [x, w, y (-1 when relu = 0), dy, mean, var, dx, dw, db] */
static napi_value batch_norm_train(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  struct mod_args m;
  int ok = read_mod_args(env, a, &m, 6, 3);
  float *heap = m.heap; int32_t *o = m.o, *d = m.d; int mode = m.mode;
  if (!ok || m.no < (mode == 0 ? 6u : 9u)) { napi_throw_error(env, NULL, "batchNormTrain: bad arguments"); return NULL; }
  const double eps = get_f64(env, a[4], 1e-5);
  int rc = mode == 0
    ? mff_bn_train_forward(AT(heap, o[0]), AT(heap, o[1]), AT(heap, o[2]), AT(heap, o[3]), AT(heap, o[4]), AT(heap, o[5]), d[0], d[1], d[2], eps)
    : mff_bn_train_backward(AT(heap, o[0]), AT(heap, o[1]), d[2] ? AT(heap, o[2]) : NULL, AT(heap, o[3]), AT(heap, o[4]), AT(heap, o[5]),
                            AT(heap, o[6]), AT(heap, o[7]), AT(heap, o[8]), d[0], d[1], eps);
  if (rc) napi_throw_error(env, NULL, "batchNormTrain: out of memory for the partial sums");
  return NULL;
}

/* segCe(heap, mode, offs:Int32Array [z, y (int32), out], dims:Int32Array [m, K, ignore], scale): see mff_seg_ce;
 * throws on a label that is neither a class nor the ignore index */
static napi_value seg_ce(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  struct mod_args m;
  if (!read_mod_args(env, a, &m, 3, 3)) { napi_throw_error(env, NULL, "segCe: bad arguments"); return NULL; }
  int32_t *o = m.o, *d = m.d;
  int64_t bad = mff_seg_ce(m.mode, AT(m.heap, o[0]), (const int32_t *)AT(m.heap, o[1]), AT(m.heap, o[2]), d[0], d[1], d[2],
                           (float)get_f64(env, a[4], 1));
  if (bad) {
    char msg[160];
    snprintf(msg, sizeof msg, "seg loss: label %d at flat index %lld is not a class in [0, %d) nor the ignore index %d",
             ((const int32_t *)AT(m.heap, o[1]))[bad - 1], (long long)(bad - 1), d[1], d[2]);
    napi_throw_error(env, NULL, msg);
  }
  return NULL;
}

/* threads([n]): sets OpenBLAS threads when n is given; returns the count in use */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc >= 1) mff_set_threads((int)get_i64(env, a[0]));
  napi_value out; napi_create_int32(env, mff_get_threads(), &out);
  return out;
}

/* gemmLib(): 1 when the GEMMs run on oneDNN (libdnnl.so.2 found, MFF_DNNL != 0), 0 on OpenBLAS */
static napi_value gemm_lib(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out; napi_create_int32(env, mff_gemm_lib(), &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    {"gemm", NULL, gemm, NULL, NULL, NULL, napi_default, NULL},
    {"transpose", NULL, transpose, NULL, NULL, NULL, napi_default, NULL},
    {"concatRows", NULL, concat_rows, NULL, NULL, NULL, napi_default, NULL},
    {"softmax", NULL, softmax, NULL, NULL, NULL, napi_default, NULL},
    {"unary", NULL, unary, NULL, NULL, NULL, napi_default, NULL},
    {"binary", NULL, binary, NULL, NULL, NULL, napi_default, NULL},
    {"reduceSum", NULL, reduce_sum, NULL, NULL, NULL, napi_default, NULL},
    {"gelu", NULL, gelu, NULL, NULL, NULL, napi_default, NULL},
    {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_default, NULL},
    {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_default, NULL},
    {"conv2d", NULL, conv2d, NULL, NULL, NULL, napi_default, NULL},
    {"adamw", NULL, adamw, NULL, NULL, NULL, napi_default, NULL},
    {"adamwMulti", NULL, adamw_multi, NULL, NULL, NULL, napi_default, NULL},
    {"attention", NULL, attention, NULL, NULL, NULL, napi_default, NULL},
    {"linear", NULL, linear, NULL, NULL, NULL, napi_default, NULL},
    {"ffn", NULL, ffn, NULL, NULL, NULL, napi_default, NULL},
    {"batchNormTrain", NULL, batch_norm_train, NULL, NULL, NULL, napi_default, NULL},
    {"segCe", NULL, seg_ce, NULL, NULL, NULL, napi_default, NULL},
    {"threads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
    {"gemmLib", NULL, gemm_lib, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(d) / sizeof(d[0]), d);
  napi_value version; napi_create_int32(env, MFF_NATIVE_API, &version);
  napi_set_named_property(env, exports, "api", version);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
