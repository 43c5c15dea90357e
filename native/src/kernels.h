/*
 * The CPU engine's kernels as plain C over float (or 4-byte) pointers: no N-API, no allocation visible to the
 * caller, nothing retained. All tensors are dense row-major float32. mff_native.c turns each JS call (the wasm heap
 * plus element offsets) into pointers and calls one of these; src/backend/registry.ts lists the tfjs kernels that
 * use them. GEMM is OpenBLAS cblas_sgemm (its own threads); the big loops marked "split" run over the caller plus one
 * sleeping pthread worker when OpenBLAS has >= 2 threads, split over independent rows/elements only, so results are
 * bitwise identical to the serial loop.
 */
#ifndef MFF_KERNELS_H
#define MFF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* OpenBLAS threads: set (n >= 1) and read. The fused loops split over the worker only when this is >= 2. */
void mff_set_threads(int n);
int mff_get_threads(void);

/* C[b] (M x N) = op(A[b]) op(B[b]) for b < nb, A[b] = heap + oa[b] ([M,K], or [K,M] when ta), B[b] = heap + ob[b]
 * ([K,N], or [N,K] when tb), C[b] = heap + oc[b]; K == 0 gives zeros. */
void mff_gemm(float *heap, const int32_t *oa, const int32_t *ob, const int32_t *oc, size_t nb, int M, int N, int K, int ta, int tb);

/* dst = src (4-byte elements, input shape[rank]) with its axes permuted: out axis d = in axis perm[d]; 1 <= rank <= 8. */
void mff_transpose(const uint32_t *src, uint32_t *dst, const int32_t *shape, const int32_t *perm, int rank);

/* Concatenation along an axis as row copies (4-byte elements): out [rows, total] (row stride total) gets, for each part
 * p < parts, its [rows, w[p]] block from heap + src[p] (as unsigned 32-bit element offsets) at column sum(w[0..p)).
 * Split over the rows. */
void mff_concat_rows(uint32_t *heap, uint32_t *out, int64_t total, int64_t rows, const int32_t *src, const int32_t *w, int parts);

/* y = softmax(x) over the last axis of x [rows, cols], max-subtracted. */
void mff_softmax(const float *x, float *y, int64_t rows, int64_t cols);

/* y[i] = erf(x[i]) (op 0, as tfjs's cpu backend computes it) or exp(x[i]) (op 1), i < n. */
void mff_unary(int op, const float *x, float *y, int64_t n);

/* out = a op b (op 0 add, 1 sub, 2 mul, 3 div) over the output shape[rank] (1 <= rank <= 8), a and b read with
 * element strides as[], bs[] (0 = broadcast along that axis). */
void mff_binary(int op, const float *a, const float *b, float *out, const int32_t *shape, const int32_t *as, const int32_t *bs, int rank);

/* y[o, i] = sum_r x[o, r, i] for x [O, R, I]. */
void mff_reduce_sum(const float *x, float *y, int64_t O, int64_t R, int64_t I);

/* Split. mode 0: out = 0.5 x (1 + erf(x / sqrt2)); mode 1: out = dy (0.5 (1 + erf(x / sqrt2)) + x exp(-x^2 / 2) /
 * sqrt(2 pi)); n elements (dy unused in mode 0). */
void mff_gelu(int mode, const float *x, const float *dy, float *out, int64_t n);

/* Split. y = (x - mean) / sqrt(var_biased + eps) * w + b over the last axis of x [rows, D]; w, b [D]. */
void mff_layer_norm(const float *x, const float *w, const float *b, float *y, int64_t rows, int64_t D, double eps);

/* Split. The residual sum and its LayerNorm in one pass: s = x + a, y = layer_norm(s) (as mff_layer_norm). */
void mff_add_layer_norm(const float *x, const float *a, float *s, const float *w, const float *b, float *y, int64_t rows, int64_t D, double eps);

/* Split. The LayerNorm gradient: dx [rows, D], dw and db [D] (summed in row order); dx must not alias dy. */
void mff_layer_norm_grad(const float *x, const float *w, const float *dy, float *dx, float *dw, float *db, int64_t rows, int64_t D, double eps);
/* The same, plus ds [rows, D] (the gradient reaching the normalised input by its other paths) added to dx. */
void mff_layer_norm_grad_acc(const float *x, const float *w, const float *dy, const float *ds, float *dx, float *dw, float *db, int64_t rows, int64_t D, double eps);

/* 1 when the engine's GEMMs run on oneDNN's sgemm: libdnnl.so.2 loaded at first use (dlopen; MFF_DNNL=0 disables
 * it), its OpenMP threads set per call to OpenBLAS's count (1 inside a pool split) and OMP_WAIT_POLICY=passive unless
 * set; 0 when they run on OpenBLAS. */
int mff_gemm_lib(void);

/* Split (fixed row chunks, statistics independent of the thread count). Train-mode BatchNorm over x [n, C] (NHWC
 * rows): mean, biased var [C] (one pass, double sums shifted by the first row); y = (x - mean) * (w / sqrt(var + eps))
 * + b, then ReLU if relu. Returns 0 or -1 (no memory for the [8, C] partial sums). */
int mff_bn_train_forward(const float *x, const float *w, const float *b, float *y, float *mean, float *var, int64_t n, int64_t C, int relu, double eps);

/* Split. Its gradient from the forward's mean / var (and y when the forward applied ReLU: g = dy [y > 0]; y = NULL
 * without): db = sum g, dw = sum g xhat (double sums), dx = (w r / n)(n g - db - xhat dw), xhat = (x - mean) r,
 * r = 1 / sqrt(var + eps). dx must not alias dy. Returns 0 or -1 (no memory). */
int mff_bn_train_backward(const float *x, const float *w, const float *y, const float *dy, const float *mean, const float *var,
                          float *dx, float *dw, float *db, int64_t n, int64_t C, double eps);

/* NHWC convolution, filter w [kh, kw, Ci, Co]; dims[15] = N H W Ci Co kh kw sh sw dh dw padTop padLeft OH OW.
 * mode 0: y = conv(x, w), then + bias[Co] (bias != NULL) and ReLU (relu != 0); mode 1: x = the input gradient from
 * dy (in y); mode 2: w = the filter gradient from x and dy (in y). Stride 1 runs as one GEMM per filter tap over a
 * zero-padded copy (3x3 with >= 64 channels and >= 2048 output pixels: Winograd F(4x4, 3x3) for modes 0 and 1,
 * MFF_WINOGRAD=0 turns it off, =all takes every 3x3 stride-1 one), other strides as im2col + GEMM per image.
 * Returns 0, MFF_CONV_NOMEM (the stride-1 buffers) or MFF_CONV_NOMEM_COL (the im2col buffer). */
#define MFF_CONV_NOMEM (-1)
#define MFF_CONV_NOMEM_COL (-2)
int mff_conv2d(int mode, float *x, float *w, float *y, const int32_t *dims, const float *bias, int relu);

/* Split. One AdamW step over n elements, c[8] = decay c1 b2 c2 bc2 eps stepSize hasDecay, in the op order of
 * src/engine/optim.ts: p' = p*decay (if hasDecay); m1 = m + (g - m)*c1; v1 = v*b2 + (g*g)*c2;
 * pOut = p' - (m1 / (sqrt(v1)/bc2 + eps)) * stepSize; mOut = m1; vOut = v1. */
void mff_adamw(const float *p, const float *m, const float *v, const float *g, float *pOut, float *mOut, float *vOut, int64_t n, const float *c);
/* Split. mff_adamw on k tensors in place (P[j], M[j], V[j] updated, G[j] read), c[8 j ..] tensor j's constants,
 * start[0..k] the prefix sums of their sizes (start[0] = 0): one split over all start[k] elements. Bitwise equal to
 * mff_adamw per tensor. */
void mff_adamw_multi(int k, float *const *P, float *const *M, float *const *V, const float *const *G, const int64_t *start, const float *c);

/* Multi-head attention on a fused qkv [B, N, 3D] ([q | k | v], heads of hd contiguous in each, D = H hd).
 * Forward: probs[b, h] = softmax(scale q k^T + bias[h]) [N, N] (bias [H, N, N] or NULL; the softmax rows split),
 * out[b, :, h hd ..] = probs v (out [B, N, D]). Returns 0, or -1 when out of memory. */
int mff_attention_forward(const float *qkv, float *out, float *probs, const float *bias, int B, int N, int H, int hd, float scale);
/* Backward: dqkv from probs and dout [B, N, D]; dbias [H, N, N] (or NULL) = the logits gradient summed over the
 * batch (the two halves of the (b, h) items summed separately, then added: the same bits on 1 or 2 threads).
 * Returns 0, or -1 when out of memory. */
int mff_attention_backward(const float *qkv, const float *probs, const float *dout, float *dqkv, float *dbias, int B, int N, int H, int hd, float scale);

/* The Cephes expf both exp implementations use (kernels.c fexp, avx512.c exp16): x clamped to [LO, HI], n =
 * round(x log2 e), r = x - n ln2 (ln2 in two parts), exp(x) = 2^n (1 + r + r^2 P(r)), P of degree 5 (P0 first). */
#define MFF_EXP_LO (-87.33f)
#define MFF_EXP_HI 88.72f
#define MFF_EXP_LOG2E 1.44269504088896341f
#define MFF_EXP_LN2_HI 0.693359375f
#define MFF_EXP_LN2_LO 2.12194440e-4f
#define MFF_EXP_P0 1.9875691500E-4f
#define MFF_EXP_P1 1.3981999507E-3f
#define MFF_EXP_P2 8.3334519073E-3f
#define MFF_EXP_P3 4.1665795894E-2f
#define MFF_EXP_P4 1.6666665459E-1f
#define MFF_EXP_P5 5.0000001201E-1f

/* Hand-vectorised AVX-512 kernels (native/src/avx512.c); mff_avx512_ok() is 0 in builds without AVX-512, where the
 * others do nothing (mff_pack_t excepted) and callers keep their own path (also with MFF_AVX512=0).
 * mff_small_gemm: GEMM for small operands resident in L1: C[m, n] (ldc) = alpha sum_p A(i, p) B[p, j] (+ C[i, j]
 * when acc), A(i, p) = A[i ars + p acs] (any two strides: A or its transpose in place), B row-major [k, n] with rows
 * ldb apart. One thread, no scratch; each element is one sum over p in order.
 * mff_softmax_rows: x [rows, n] = softmax of each row, in place. mff_softmax_grad_rows: g [rows, n] = p (g - sum(g p))
 * per row (the softmax's backward from its output p), in place. Row sums over 16 lanes reduced by a fixed tree.
 * mff_pack_t: dst [cols, rows] = the transpose of src [rows, cols] (rows ld apart). */
int mff_avx512_ok(void);
void mff_small_gemm(int m, int n, int k, float alpha, const float *A, int64_t ars, int64_t acs, const float *B, int64_t ldb,
                    int acc, float *C, int64_t ldc);
void mff_softmax_rows(float *x, int64_t rows, int64_t n);
void mff_softmax_grad_rows(const float *p, float *g, int64_t rows, int64_t n);
/* LayerNorm rows [lo, hi) of [rows, D] as mff_add_layer_norm (a, s NULL: plain LayerNorm) and mff_layer_norm_grad_acc
 * compute them (ds may be NULL), except that dw and db are accumulated into (+=), not set. */
void mff_ln_rows(const float *x, const float *a, float *s, const float *w, const float *b, float *y, int64_t lo, int64_t hi, int64_t D, double eps);
void mff_ln_grad_rows(const float *x, const float *w, const float *dy, const float *ds, float *dx, float *dw, float *db,
                      int64_t lo, int64_t hi, int64_t D, double eps);
void mff_pack_t(const float *src, int rows, int cols, int64_t ld, float *dst);

/* The Linear layer on x [M, K], W [K, N], b [N], without transposed copies:
 * forward y = x W (+ b when b != NULL: M < 1024 in two column halves, sgemm with beta = 1 on bias rows; otherwise in
 * row blocks over the pool, the bias added to each block after its GEMM); grad_x dx = dy W^T;
 * grad_w dW = x^T dy and, when db != NULL, db = column sums of dy (columns split, each summed in row order). */
void mff_linear_forward(const float *x, const float *w, const float *b, float *y, int M, int K, int N);
void mff_linear_grad_x(const float *dy, const float *w, float *dx, int M, int K, int N);
void mff_linear_grad_w(const float *x, const float *dy, float *dw, float *db, int M, int K, int N);

/* The transformer FFN y = gelu(x W1 + b1) W2 + b2 on x [M, K], W1 [K, H], W2 [H, N], in row blocks over the pool (each
 * block's GEMMs one-threaded, its bias / GELU applied while in L2; the same calls on one thread or two). Forward writes
 * g = gelu(h) [M, H], y [M, N] and, when h != NULL, the pre-activation h = x W1 + b1 [M, H] (training keeps it).
 * Backward, from x, h, g and dy: dW2 = g^T dy, db2 = column sums of dy, dh = (dy W2^T) * gelu'(h) (into dh [M, H]),
 * dx = dh W1^T, dW1 = x^T dh, db1 = column sums of dh (both bias sums as two fixed row halves' partial sums, taken
 * per block while in cache; returns -1 when out of memory for them, else 0). GELU exact (erf), as mff_gelu. */
void mff_ffn_forward(const float *x, const float *w1, const float *b1, const float *w2, const float *b2, float *h, float *g, float *y,
                     int M, int K, int H, int N);
int mff_ffn_backward(const float *x, const float *w1, const float *w2, const float *h, const float *g, const float *dy,
                      float *dx, float *dw1, float *db1, float *dw2, float *db2, float *dh, int M, int K, int H, int N);
/* Cross-entropy over the rows of logits z [m, K] with int32 labels y [m] (rows labelled `ignore` are skipped), as
 * mmseg's CrossEntropyLoss sums it. mode 0: out[3] = {sum of log softmax(z_i)[y_i], count of argmax(z_i) == y_i (first
 * maximum wins), count of valid rows}, each summed in double over two fixed row halves (split at m / 2) added in
 * order, so the result does not depend on the thread count. mode 1: out [m, K] = (softmax(z_i) - onehot(y_i)) * scale
 * on valid rows, 0 on ignored ones. Returns 0, or 1 + the first row whose label is neither in [0, K) nor `ignore`. */
int64_t mff_seg_ce(int mode, const float *z, const int32_t *y, float *out, int64_t m, int K, int ignore, float scale);

#endif
