/*
 * The CPU engine's kernels (declared and documented in kernels.h): plain C over float pointers, no N-API. GEMM is
 * oneDNN's dnnl_sgemm when libdnnl.so.2 loads, else OpenBLAS cblas_sgemm (see sgemm()). The big fused loops (GELU and
 * its gradient, LayerNorm and its gradient, AdamW, the attention softmax rows, the Linear bias rows and column sums) are split in two over a 1-worker pthread
 * pool (par_for) when OpenBLAS runs on >= 2 threads; outputs must not alias inputs other than element-wise (e.g. the
 * layerNormGrad dx != dy). The split is over independent rows/elements, so results are bitwise identical to the serial
 * loop. (OpenMP fought with OpenBLAS's spinning workers and was slower on 2 cores.)
 */
#define _GNU_SOURCE
#include "kernels.h"
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <pthread.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

/* A 1-worker pool for the big memory-bound loops: par_for(fn, ctx, n, cost) runs fn(ctx, 0, mid) on the calling thread
 * and fn(ctx, mid, n) on the worker, only when OpenBLAS runs on >= 2 threads and n * cost >= PAR_MIN. Loops are split over
 * independent rows/elements only (never inside a reduction), so results are bitwise identical to the serial loop.
 * The worker sleeps on a condition variable between jobs (no spinning that would fight OpenBLAS's workers). */
#define PAR_MIN 65536
typedef void (*par_fn)(void *ctx, int64_t lo, int64_t hi);
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_go = PTHREAD_COND_INITIALIZER, pool_done = PTHREAD_COND_INITIALIZER;
static par_fn pool_fn; static void *pool_ctx; static int64_t pool_lo, pool_hi;
static unsigned pool_gen, pool_fin; static int pool_state; /* 0 not started, 1 running, -1 failed */
static __thread int in_par; /* this thread runs one half of a pool split (its GEMMs take 1 thread) */
static void *pool_main(void *arg) {
  (void)arg; unsigned seen = 0;
  pthread_mutex_lock(&pool_mu);
  for (;;) {
    while (pool_gen == seen) pthread_cond_wait(&pool_go, &pool_mu);
    seen = pool_gen;
    par_fn fn = pool_fn; void *ctx = pool_ctx; int64_t lo = pool_lo, hi = pool_hi;
    pthread_mutex_unlock(&pool_mu);
    in_par = 1;
    fn(ctx, lo, hi);
    pthread_mutex_lock(&pool_mu);
    pool_fin = seen;
    pthread_cond_signal(&pool_done);
  }
  return NULL;
}
static int par_wanted(int64_t n, int64_t cost) { return n >= 2 && n * cost >= PAR_MIN && pool_state >= 0 && openblas_get_num_threads() >= 2; }
static void par_run(par_fn fn, void *ctx, int64_t n);
static void par_for(par_fn fn, void *ctx, int64_t n, int64_t cost) {
  if (!par_wanted(n, cost)) { fn(ctx, 0, n); return; }
  par_run(fn, ctx, n);
}
/* Items that each run their own GEMMs (attention (batch, head) items, the images of a convolution): the two halves run
 * concurrently with OpenBLAS on one thread (restored afterwards), instead of each GEMM split over OpenBLAS's threads
 * one after another. OpenBLAS splits a product over rows/columns, never over its inner sum, so each product's result
 * is the same on one thread or two: results stay bitwise identical to the serial loop. */
static void par_items(par_fn fn, void *ctx, int64_t n) {
  int t = openblas_get_num_threads();
  if (!par_wanted(n, PAR_MIN)) { fn(ctx, 0, n); return; }
  openblas_set_num_threads(1);
  par_run(fn, ctx, n);
  openblas_set_num_threads(t);
}
static void par_run(par_fn fn, void *ctx, int64_t n) {
  if (pool_state == 0) {
    pthread_t th; pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pool_state = pthread_create(&th, &at, pool_main, NULL) == 0 ? 1 : -1;
    pthread_attr_destroy(&at);
  }
  if (pool_state != 1) { fn(ctx, 0, n); return; }
  int64_t mid = n / 2;
  pthread_mutex_lock(&pool_mu);
  pool_fn = fn; pool_ctx = ctx; pool_lo = mid; pool_hi = n; pool_gen++;
  pthread_cond_signal(&pool_go);
  pthread_mutex_unlock(&pool_mu);
  in_par = 1;
  fn(ctx, 0, mid);
  in_par = 0;
  pthread_mutex_lock(&pool_mu);
  while (pool_fin != pool_gen) pthread_cond_wait(&pool_done, &pool_mu);
  pthread_mutex_unlock(&pool_mu);
}

/* Cephes-style expf: |rel err| < 2e-7 on [-87, 88]; branch-free so loops vectorise. Edge cases: inf, -inf, NaN. */
static inline float fexp(float x) {
  float xc = x < MFF_EXP_LO ? MFF_EXP_LO : (x > MFF_EXP_HI ? MFF_EXP_HI : x);
  float t = xc * MFF_EXP_LOG2E;
  float fi = (t + 12582912.0f) - 12582912.0f; /* round to nearest */
  float r = xc - fi * MFF_EXP_LN2_HI + fi * MFF_EXP_LN2_LO;
  float p = MFF_EXP_P0;
  p = p * r + MFF_EXP_P1;
  p = p * r + MFF_EXP_P2;
  p = p * r + MFF_EXP_P3;
  p = p * r + MFF_EXP_P4;
  p = p * r + MFF_EXP_P5;
  float y = p * r * r + r + 1.0f;
  union { int32_t i; float f; } u;
  u.i = ((int32_t)fi + 127) << 23;
  y *= u.f;
  y = x < MFF_EXP_LO ? 0.0f : y;
  y = x > MFF_EXP_HI ? INFINITY : y;
  return x != x ? x : y;
}
/* erf as tfjs's cpu backend computes it (Abramowitz-Stegun 7.1.26, |abs err| < 1.5e-7); *e = exp(-x^2), which
 * the GELU gradient reuses for its pdf. */
static inline float ferf_e(float x, float *e) {
  float sgn = x < 0.0f ? -1.0f : 1.0f;
  float ax = x < 0.0f ? -x : x;
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
  *e = fexp(-ax * ax);
  return sgn * (1.0f - poly * *e);
}
static inline float ferf(float x) { float e; return ferf_e(x, &e); }

/* oneDNN's sgemm (libdnnl.so.2, loaded at first use when present; MFF_DNNL=0 disables it) for every GEMM: 15-30 %
 * faster than OpenBLAS 0.3.21 on the model shapes when the operands come from L3. Its OpenMP threads are set per
 * call (sgemm below). A failed call falls back to OpenBLAS. */
#include <dlfcn.h>
typedef int (*dnnl_sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float, float *, int64_t);
typedef void (*omp_set_fn)(int);
static dnnl_sgemm_fn dnnl_gemm_fn; static omp_set_fn omp_set_fn_p; static int dnnl_state; /* 0 unknown, 1 on, -1 off */
static pthread_once_t dnnl_once = PTHREAD_ONCE_INIT;
static void dnnl_load(void) {
  const char *e = getenv("MFF_DNNL");
  int off = e && e[0] == '0';
  /* OpenMP workers that spin between calls would take the core from OpenBLAS and the pool: sleep instead */
  if (!off) setenv("OMP_WAIT_POLICY", "passive", 0);
  void *h = off ? NULL : dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
  dnnl_gemm_fn = h ? (dnnl_sgemm_fn)dlsym(h, "dnnl_sgemm") : NULL;
  omp_set_fn_p = h ? (omp_set_fn)dlsym(RTLD_DEFAULT, "omp_set_num_threads") : NULL;
  if (!omp_set_fn_p && h) { void *g = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD); if (g) omp_set_fn_p = (omp_set_fn)dlsym(g, "omp_set_num_threads"); }
  dnnl_state = dnnl_gemm_fn && omp_set_fn_p ? 1 : -1;
}
int mff_gemm_lib(void) { pthread_once(&dnnl_once, dnnl_load); return dnnl_state == 1; }
/* Every GEMM of the engine: oneDNN when loaded — one OpenMP thread inside a pool split (in_par), else as many as
 * OpenBLAS has — otherwise OpenBLAS. */
static void sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  pthread_once(&dnnl_once, dnnl_load);
  if (dnnl_state == 1) {
    omp_set_fn_p(in_par ? 1 : openblas_get_num_threads());
    if (dnnl_gemm_fn(ta == Trans ? 'T' : 'N', tb == Trans ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0) return;
  }
  cblas_sgemm(RowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
/* The hand-vectorised kernels of avx512.c (attention items, LayerNorm rows) when the build has them; MFF_AVX512=0 keeps
 * the plain C / sgemm paths. Read once, on the first call (always from the JS thread, before any split). */
static int avx512_state; /* 0 unknown, 1 on, -1 off */
static int use_avx512(void) {
  if (avx512_state == 0) {
    const char *e = getenv("MFF_AVX512");
    avx512_state = mff_avx512_ok() && !(e && e[0] == '0') ? 1 : -1;
  }
  return avx512_state == 1;
}
void mff_set_threads(int n) { openblas_set_num_threads(n); }
int mff_get_threads(void) { return openblas_get_num_threads(); }

void mff_gemm(float *heap, const int32_t *oa, const int32_t *ob, const int32_t *oc, size_t nb, int M, int N, int K, int ta, int tb) {
  int lda = ta ? M : K, ldb = tb ? K : N;
  for (size_t i = 0; i < nb; i++) {
    float *C = heap + (uint32_t)oc[i];
    if (K == 0) { memset(C, 0, sizeof(float) * (size_t)M * N); continue; }
    sgemm(ta ? Trans : NoTrans, tb ? Trans : NoTrans, M, N, K, 1.0f, heap + (uint32_t)oa[i], lda,
                heap + (uint32_t)ob[i], ldb, 0.0f, C, N);
  }
}

void mff_transpose(const uint32_t *src, uint32_t *dst, const int32_t *shape, const int32_t *perm, int r) {
  int64_t istr[8], oshape[8], ostr_in[8];
  int64_t s = 1;
  for (int d = r - 1; d >= 0; d--) { istr[d] = s; s *= shape[d]; }
  int64_t total = s;
  for (int d = 0; d < r; d++) { oshape[d] = shape[perm[d]]; ostr_in[d] = istr[perm[d]]; }
  int64_t inner = oshape[r - 1], instep = ostr_in[r - 1];
  int64_t rows = inner ? total / inner : 0;
  for (int64_t row = 0; row < rows; row++) {
    int64_t rem = row, base = 0;
    for (int d = r - 2; d >= 0; d--) { int64_t q = rem % oshape[d]; rem /= oshape[d]; base += q * ostr_in[d]; }
    uint32_t *o = dst + row * inner;
    const uint32_t *p = src + base;
    if (instep == 1) memcpy(o, p, sizeof(uint32_t) * inner);
    else for (int64_t j = 0; j < inner; j++) o[j] = p[j * instep];
  }
}

struct cat_ctx { uint32_t *heap, *out; int64_t total; const int32_t *src, *w; int parts; };
static void cat_range(void *p, int64_t lo, int64_t hi) {
  const struct cat_ctx *c = p;
  for (int64_t r = lo; r < hi; r++) {
    uint32_t *o = c->out + r * c->total;
    for (int q = 0; q < c->parts; q++) {
      int64_t w = c->w[q];
      memcpy(o, c->heap + (uint32_t)c->src[q] + r * w, sizeof(uint32_t) * (size_t)w);
      o += w;
    }
  }
}
void mff_concat_rows(uint32_t *heap, uint32_t *out, int64_t total, int64_t rows, const int32_t *src, const int32_t *w, int parts) {
  struct cat_ctx c = { heap, out, total, src, w, parts };
  par_for(cat_range, &c, rows, total);
}

/* Row reductions in 16 independent lanes (combined in a fixed order), so they vectorise without -ffast-math and give
 * the same bits on every thread count. */
static inline float row_max16(const float *x, int64_t n) {
  float mx[16], m = -INFINITY; int64_t j = 0;
  for (int k = 0; k < 16; k++) mx[k] = -INFINITY;
  for (; j + 16 <= n; j += 16) for (int k = 0; k < 16; k++) mx[k] = x[j + k] > mx[k] ? x[j + k] : mx[k];
  for (; j < n; j++) m = x[j] > m ? x[j] : m;
  for (int k = 0; k < 16; k++) m = mx[k] > m ? mx[k] : m;
  return m;
}
static inline float row_sum16(const float *x, int64_t n) {
  float sm[16], s = 0.f; int64_t j = 0;
  for (int k = 0; k < 16; k++) sm[k] = 0.f;
  for (; j + 16 <= n; j += 16) for (int k = 0; k < 16; k++) sm[k] += x[j + k];
  for (; j < n; j++) s += x[j];
  for (int k = 0; k < 16; k++) s += sm[k];
  return s;
}
static inline float row_dot16(const float *a, const float *b, int64_t n) {
  float sm[16], s = 0.f; int64_t j = 0;
  for (int k = 0; k < 16; k++) sm[k] = 0.f;
  for (; j + 16 <= n; j += 16) for (int k = 0; k < 16; k++) sm[k] += a[j + k] * b[j + k];
  for (; j < n; j++) s += a[j] * b[j];
  for (int k = 0; k < 16; k++) s += sm[k];
  return s;
}
/* y = softmax(x) over one row of n (y may be x) */
static inline void softmax_row(const float *x, float *y, int64_t n) {
  float m = row_max16(x, n);
  for (int64_t j = 0; j < n; j++) y[j] = fexp(x[j] - m);
  float inv = 1.f / row_sum16(y, n);
  for (int64_t j = 0; j < n; j++) y[j] *= inv;
}
void mff_softmax(const float *x, float *y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; r++) softmax_row(x + r * cols, y + r * cols, cols);
}

void mff_unary(int op, const float *x, float *y, int64_t n) {
  if (op == 0) {
    for (int64_t i = 0; i < n; i++) y[i] = ferf(x[i]);
  } else {
    for (int64_t i = 0; i < n; i++) y[i] = fexp(x[i]);
  }
}

#define BIN_LOOP(EXPR) \
  if (sa == 1 && sb == 1) { for (int64_t j = 0; j < inner; j++) { float x = pa[j], y = pb[j]; po[j] = EXPR; } } \
  else if (sa == 1 && sb == 0) { float y = pb[0]; for (int64_t j = 0; j < inner; j++) { float x = pa[j]; po[j] = EXPR; } } \
  else if (sa == 0 && sb == 1) { float x = pa[0]; for (int64_t j = 0; j < inner; j++) { float y = pb[j]; po[j] = EXPR; } } \
  else { for (int64_t j = 0; j < inner; j++) { float x = pa[j * sa], y = pb[j * sb]; po[j] = EXPR; } }
void mff_binary(int op, const float *A, const float *B, float *O, const int32_t *shape, const int32_t *as, const int32_t *bs, int r) {
  int64_t inner = shape[r - 1], sa = as[r - 1], sb = bs[r - 1], rows = 1;
  for (int d = 0; d < r - 1; d++) rows *= shape[d];
  int64_t idx[8] = {0}, oa = 0, ob = 0;
  for (int64_t row = 0; row < rows; row++) {
    const float *pa = A + oa, *pb = B + ob; float *po = O + row * inner;
    switch (op) {
      case 0: BIN_LOOP(x + y) break;
      case 1: BIN_LOOP(x - y) break;
      case 2: BIN_LOOP(x * y) break;
      default: BIN_LOOP(x / y) break;
    }
    for (int d = r - 2; d >= 0; d--) {
      idx[d]++; oa += as[d]; ob += bs[d];
      if (idx[d] < shape[d]) break;
      oa -= (int64_t)as[d] * shape[d]; ob -= (int64_t)bs[d] * shape[d]; idx[d] = 0;
    }
  }
}

void mff_reduce_sum(const float *x, float *y, int64_t O, int64_t R, int64_t I) {
  for (int64_t o = 0; o < O; o++) {
    const float *xo = x + o * R * I;
    if (I == 1) {
      float acc[16] = {0};
      int64_t r = 0;
      for (; r + 16 <= R; r += 16) for (int k = 0; k < 16; k++) acc[k] += xo[r + k];
      float s = 0.f;
      for (; r < R; r++) s += xo[r];
      for (int k = 0; k < 16; k++) s += acc[k];
      y[o] = s;
    } else {
      float *yo = y + o * I;
      for (int64_t i = 0; i < I; i++) yo[i] = 0.f;
      for (int64_t r = 0; r < R; r++) { const float *xr = xo + r * I; for (int64_t i = 0; i < I; i++) yo[i] += xr[i]; }
    }
  }
}

/* GELU and d * GELU'(v); the gradient's erf(v / sqrt2) also gives exp(-v^2 / 2) for the pdf: one exp, not two.
 * The FFN kernel applies the same two functions inside its row blocks. */
static inline float gelu_f(float v) { return 0.5f * v * (1.0f + ferf(v * 0.70710678118654752f)); }
static inline float gelu_grad_f(float v, float d) {
  float e;
  float cdf = 0.5f * (1.0f + ferf_e(v * 0.70710678118654752f, &e));
  return d * (cdf + v * (0.39894228040143268f * e));
}
struct gelu_ctx { int mode; const float *x, *dy; float *o; };
static void gelu_range(void *p, int64_t lo, int64_t hi) {
  const struct gelu_ctx *c = p; const float *x = c->x, *dy = c->dy; float *o = c->o;
  if (c->mode == 0) for (int64_t i = lo; i < hi; i++) o[i] = gelu_f(x[i]);
  else for (int64_t i = lo; i < hi; i++) o[i] = gelu_grad_f(x[i], dy[i]);
}
void mff_gelu(int mode, const float *x, const float *dy, float *o, int64_t n) {
  struct gelu_ctx c = { mode, x, dy, o };
  par_for(gelu_range, &c, n, 1);
}

/* Row reductions in double with 8 independent partial sums (a single chain is bound by the add latency and cannot
 * vectorise under strict FP); the partial sums are combined in a fixed order, so the result does not depend on threads. */
static inline double dsum8(const float *x, int64_t D) {
  double a[8] = { 0 }; int64_t j = 0;
  for (; j + 8 <= D; j += 8) for (int k = 0; k < 8; k++) a[k] += x[j + k];
  for (; j < D; j++) a[0] += x[j];
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}
static inline double dsqdev8(const float *x, double mean, int64_t D) {
  double a[8] = { 0 }; int64_t j = 0;
  for (; j + 8 <= D; j += 8) for (int k = 0; k < 8; k++) { double d = x[j + k] - mean; a[k] += d * d; }
  for (; j < D; j++) { double d = x[j] - mean; a[0] += d * d; }
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}
struct ln_ctx { const float *x, *w, *b, *a; float *y, *s; int64_t D; double eps; int avx; };
static void ln_range(void *p, int64_t lo, int64_t hi) {
  const struct ln_ctx *c = p; const float *x = c->x, *w = c->w, *b = c->b; float *y = c->y; int64_t D = c->D; double eps = c->eps;
  if (c->avx) { mff_ln_rows(x, c->a, c->s, w, b, y, lo, hi, D, eps); return; }
  for (int64_t r = lo; r < hi; r++) {
    const float *xr = x + r * D; float *yr = y + r * D;
    if (c->a) { /* the residual sum s = x + a first; the row is then normalised from L1 */
      const float *ar = c->a + r * D; float *sr = c->s + r * D;
      for (int64_t j = 0; j < D; j++) sr[j] = xr[j] + ar[j];
      xr = sr;
    }
    double mean = dsum8(xr, D) / D;
    float rstd = (float)(1.0 / sqrt(dsqdev8(xr, mean, D) / D + eps)), m = (float)mean;
    for (int64_t j = 0; j < D; j++) yr[j] = (xr[j] - m) * rstd * w[j] + b[j];
  }
}
void mff_layer_norm(const float *x, const float *w, const float *b, float *y, int64_t rows, int64_t D, double eps) {
  mff_add_layer_norm(x, NULL, NULL, w, b, y, rows, D, eps);
}
void mff_add_layer_norm(const float *x, const float *a, float *s, const float *w, const float *b, float *y, int64_t rows, int64_t D, double eps) {
  struct ln_ctx c = { x, w, b, a, y, s, D, eps, use_avx512() };
  par_for(ln_range, &c, rows, D);
}

struct lng_ctx { const float *x, *w, *dy, *ds; float *dx, *dw, *db, *buf; int64_t D, split; double eps; };
static void lng_range(void *p, int64_t lo, int64_t hi) {
  const struct lng_ctx *c = p;
  const float *x = c->x, *w = c->w, *dy = c->dy; float *dx = c->dx, *dw = c->dw, *db = c->db;
  const int64_t D = c->D, split = c->split; const double eps = c->eps;
  for (int64_t r = lo; r < hi; r++) {
    const float *xr = x + r * D, *gr = dy + r * D; float *dxr = dx + r * D;
    double mean = dsum8(xr, D) / D;
    float rstd = (float)(1.0 / sqrt(dsqdev8(xr, mean, D) / D + eps)), m = (float)mean;
    double ag[8] = { 0 }, ax[8] = { 0 };
    int64_t j8 = D - D % 8;
    if (r < split) {
      for (int64_t j = 0; j < j8; j += 8) for (int k = 0; k < 8; k++) {
        float xh = (xr[j + k] - m) * rstd, g = gr[j + k] * w[j + k];
        ag[k] += g; ax[k] += g * xh;
        dw[j + k] += gr[j + k] * xh; db[j + k] += gr[j + k];
      }
      for (int64_t j = j8; j < D; j++) {
        float xh = (xr[j] - m) * rstd, g = gr[j] * w[j];
        ag[0] += g; ax[0] += g * xh;
        dw[j] += gr[j] * xh; db[j] += gr[j];
      }
    } else {
      float *br = c->buf + (r - split) * D;
      for (int64_t j = 0; j < j8; j += 8) for (int k = 0; k < 8; k++) {
        float xh = (xr[j + k] - m) * rstd, g = gr[j + k] * w[j + k];
        ag[k] += g; ax[k] += g * xh;
        br[j + k] = gr[j + k] * xh;
      }
      for (int64_t j = j8; j < D; j++) {
        float xh = (xr[j] - m) * rstd, g = gr[j] * w[j];
        ag[0] += g; ax[0] += g * xh;
        br[j] = gr[j] * xh;
      }
    }
    double sg = ((ag[0] + ag[1]) + (ag[2] + ag[3])) + ((ag[4] + ag[5]) + (ag[6] + ag[7]));
    double sgx = ((ax[0] + ax[1]) + (ax[2] + ax[3])) + ((ax[4] + ax[5]) + (ax[6] + ax[7]));
    float mg = (float)(sg / D), mgx = (float)(sgx / D);
    for (int64_t j = 0; j < D; j++) { float xh = (xr[j] - m) * rstd; dxr[j] = rstd * (gr[j] * w[j] - mg - xh * mgx); }
    if (c->ds) { const float *dsr = c->ds + r * D; for (int64_t j = 0; j < D; j++) dxr[j] += dsr[j]; }
  }
}
void mff_layer_norm_grad(const float *x, const float *w, const float *dy, float *dx, float *dw, float *db, int64_t rows, int64_t D, double eps) {
  mff_layer_norm_grad_acc(x, w, dy, NULL, dx, dw, db, rows, D, eps);
}
/* AVX-512: rows in two halves fixed by the row count (split at rows / 2), each summing dw and db into its own partial
 * sums, added in order at the end: the same sums on one thread or two, and no per-row terms to keep. */
struct lng2_ctx { const float *x, *w, *dy, *ds; float *dx, *part; int64_t rows, D; double eps; };
static void lng_half(void *p, int64_t lo, int64_t hi) {
  const struct lng2_ctx *c = p;
  for (int64_t h = lo; h < hi; h++) {
    float *pw = c->part + 2 * h * c->D;
    mff_ln_grad_rows(c->x, c->w, c->dy, c->ds, c->dx, pw, pw + c->D, h == 0 ? 0 : c->rows / 2, h == 0 ? c->rows / 2 : c->rows, c->D, c->eps);
  }
}
void mff_layer_norm_grad_acc(const float *x, const float *w, const float *dy, const float *ds, float *dx, float *dw, float *db, int64_t rows, int64_t D, double eps) {
  float *part = use_avx512() && rows >= 2 ? calloc(4 * (size_t)D, sizeof(float)) : NULL;
  if (part) {
    struct lng2_ctx c = { x, w, dy, ds, dx, part, rows, D, eps };
    par_for(lng_half, &c, 2, (rows / 2) * 5 * D);
    for (int64_t j = 0; j < D; j++) { dw[j] = part[j] + part[2 * D + j]; db[j] = part[D + j] + part[3 * D + j]; }
    free(part);
    return;
  }
  for (int64_t j = 0; j < D; j++) { dw[j] = 0.f; db[j] = 0.f; }
  /* rows [split, rows) (the worker's half) leave their dw terms gr*xh in buf; they are added afterwards in row order,
   * so dw/db are summed exactly as in the serial loop. */
  int64_t split = rows; float *buf = NULL;
  if (par_wanted(rows, 5 * D) && (buf = malloc(sizeof(float) * (size_t)(rows - rows / 2) * (size_t)D))) split = rows / 2;
  struct lng_ctx c = { x, w, dy, ds, dx, dw, db, buf, D, split, eps };
  if (buf) par_for(lng_range, &c, rows, 5 * D); else lng_range(&c, 0, rows);
  if (buf) {
    for (int64_t r = split; r < rows; r++) {
      const float *br = buf + (r - split) * D, *gr = dy + r * D;
      for (int64_t j = 0; j < D; j++) { dw[j] += br[j]; db[j] += gr[j]; }
    }
    free(buf);
  }
}

/* Scratch for the convolutions (called one at a time from the JS thread): one buffer of up to SCRATCH_KEEP floats is
 * kept between calls, so a call does not pay the page faults of fresh memory (a new 30 MB buffer cost ~5 ms of a
 * 15 ms convolution); bigger requests are allocated and freed per call. scratch_get returns NULL when out of memory. */
#define SCRATCH_KEEP ((size_t)16 << 20)
static __thread float *scratch_buf; static __thread size_t scratch_cap; /* per thread: safe if worker threads call in */
static float *scratch_get(size_t n) {
  if (n <= scratch_cap) return scratch_buf;
  if (n > SCRATCH_KEEP) return malloc(sizeof(float) * n);
  free(scratch_buf);
  scratch_buf = malloc(sizeof(float) * n);
  scratch_cap = scratch_buf ? n : 0;
  return scratch_buf;
}
static void scratch_put(float *p) { if (p != scratch_buf) free(p); }

/* Convolution helpers: dims d as in kernels.h (N H W Ci Co kh kw sh sw dh dw padTop padLeft OH OW). */
static void im2col(const float *x, float *col, const int32_t *d) {
  int H = d[1], W = d[2], Ci = d[3], kh = d[5], kw = d[6], sh = d[7], sw = d[8], dh = d[9], dw = d[10];
  int pt = d[11], pl = d[12], OH = d[13], OW = d[14];
  size_t K = (size_t)kh * kw * Ci;
  for (int oh = 0; oh < OH; oh++) for (int ow = 0; ow < OW; ow++) {
    float *row = col + ((size_t)oh * OW + ow) * K;
    for (int i = 0; i < kh; i++) {
      int ih = oh * sh - pt + i * dh;
      for (int j = 0; j < kw; j++) {
        int iw = ow * sw - pl + j * dw;
        float *dst = row + ((size_t)i * kw + j) * Ci;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W) memset(dst, 0, sizeof(float) * Ci);
        else memcpy(dst, x + ((size_t)ih * W + iw) * Ci, sizeof(float) * Ci);
      }
    }
  }
}
static void col2im(const float *col, float *x, const int32_t *d) {
  int H = d[1], W = d[2], Ci = d[3], kh = d[5], kw = d[6], sh = d[7], sw = d[8], dh = d[9], dw = d[10];
  int pt = d[11], pl = d[12], OH = d[13], OW = d[14];
  size_t K = (size_t)kh * kw * Ci;
  memset(x, 0, sizeof(float) * (size_t)H * W * Ci);
  for (int oh = 0; oh < OH; oh++) for (int ow = 0; ow < OW; ow++) {
    const float *row = col + ((size_t)oh * OW + ow) * K;
    for (int i = 0; i < kh; i++) {
      int ih = oh * sh - pt + i * dh;
      if (ih < 0 || ih >= H) continue;
      for (int j = 0; j < kw; j++) {
        int iw = ow * sw - pl + j * dw;
        if (iw < 0 || iw >= W) continue;
        const float *src = row + ((size_t)i * kw + j) * Ci;
        float *dst = x + ((size_t)ih * W + iw) * Ci;
        for (int c = 0; c < Ci; c++) dst[c] += src[c];
      }
    }
  }
}
struct conv_ctx { int mode; float *x, *w, *y; const int32_t *d; float *buf[2]; size_t HWp, Mr; int Hp, Wp; };
/* xp = image n of x, zero-padded onto the Hp x Wp grid */
static void conv_pad_x(const struct conv_ctx *c, int64_t n, float *xp) {
  const int32_t *d = c->d; int H = d[1], W = d[2], Ci = d[3], pt = d[11], pl = d[12], Hp = c->Hp, Wp = c->Wp;
  const float *xn = c->x + (size_t)n * H * W * Ci;
  memset(xp, 0, sizeof(float) * c->HWp * Ci);
  for (int ih = 0; ih < H && ih + pt < Hp; ih++) {
    int w0 = pl < 0 ? -pl : 0, w1 = W < Wp - pl ? W : Wp - pl;
    if (w1 > w0) memcpy(xp + ((size_t)(ih + pt) * Wp + w0 + pl) * Ci, xn + ((size_t)ih * W + w0) * Ci, sizeof(float) * (size_t)(w1 - w0) * Ci);
  }
}
/* g = dy of image n on the padded grid, zero in the junk columns */
static void conv_pad_dy(const struct conv_ctx *c, int64_t n, float *g) {
  const int32_t *d = c->d; int Co = d[4], OH = d[13], OW = d[14], Wp = c->Wp;
  const float *yn = c->y + (size_t)n * OH * OW * Co;
  memset(g, 0, sizeof(float) * c->Mr * Co);
  for (int oh = 0; oh < OH; oh++) memcpy(g + (size_t)oh * Wp * Co, yn + (size_t)oh * OW * Co, sizeof(float) * (size_t)OW * Co);
}
/* y of image n = the interior of the padded forward output g (drops the junk columns) */
static void conv_unpad_y(const struct conv_ctx *c, int64_t n, const float *g) {
  const int32_t *d = c->d; int Co = d[4], OH = d[13], OW = d[14], Wp = c->Wp;
  float *yn = c->y + (size_t)n * OH * OW * Co;
  for (int oh = 0; oh < OH; oh++) memcpy(yn + (size_t)oh * OW * Co, g + (size_t)oh * Wp * Co, sizeof(float) * (size_t)OW * Co);
}
/* images [lo, hi) of conv_s1; scratch set 0 on the calling thread, 1 on the pool's worker (par_items) */
static void conv_s1_range(void *p, int64_t lo, int64_t hi) {
  const struct conv_ctx *c = p; const int32_t *d = c->d; const int mode = c->mode;
  int H = d[1], W = d[2], Ci = d[3], Co = d[4], kh = d[5], kw = d[6], dh = d[9], dw = d[10];
  int pt = d[11], pl = d[12], Hp = c->Hp, Wp = c->Wp;
  size_t HWp = c->HWp, Mr = c->Mr;
  float *xp = c->buf[lo == 0 ? 0 : 1], *g = xp + HWp * Ci, *w = c->w;
  for (int64_t n = lo; n < hi; n++) {
    float *xn = c->x + (size_t)n * H * W * Ci;
    if (mode != 1) conv_pad_x(c, n, xp);
    if (mode != 0) conv_pad_dy(c, n, g);
    if (mode == 1) memset(xp, 0, sizeof(float) * HWp * Ci);
    for (int i = 0; i < kh; i++) for (int j = 0; j < kw; j++) {
      int t = i * kw + j;
      size_t sh = ((size_t)i * dh * Wp + (size_t)j * dw);
      float *wt = w + (size_t)t * Ci * Co;
      if (mode == 0) sgemm(NoTrans, NoTrans, (int)Mr, Co, Ci, 1.0f, xp + sh * Ci, Ci, wt, Co, t ? 1.0f : 0.0f, g, Co);
      else if (mode == 1) sgemm(NoTrans, Trans, (int)Mr, Ci, Co, 1.0f, g, Co, wt, Co, 1.0f, xp + sh * Ci, Ci);
      else sgemm(Trans, NoTrans, Ci, Co, (int)Mr, 1.0f, xp + sh * Ci, Ci, g, Co, 1.0f, wt, Co);
    }
    if (mode == 0) conv_unpad_y(c, n, g);
    if (mode == 1) { /* dx = interior of the padded gradient */
      memset(xn, 0, sizeof(float) * (size_t)H * W * Ci);
      for (int ih = 0; ih < H && ih + pt < Hp; ih++) {
        int w0 = pl < 0 ? -pl : 0, w1 = W < Wp - pl ? W : Wp - pl;
        if (w1 > w0) memcpy(xn + ((size_t)ih * W + w0) * Ci, xp + ((size_t)(ih + pt) * Wp + w0 + pl) * Ci, sizeof(float) * (size_t)(w1 - w0) * Ci);
      }
    }
  }
}
/* Forward of one image in two row halves: xp and g are shared; half h computes its output rows for all kh*kw taps.
 * The same two calls per tap run whether the halves go to two threads or one after the other, so results do not
 * depend on the thread count. */
struct convr_ctx { const struct conv_ctx *c; float *xp, *g; };
static void conv_rows_range(void *p, int64_t lo, int64_t hi) {
  const struct convr_ctx *k = p; const struct conv_ctx *c = k->c; const int32_t *d = c->d;
  int Ci = d[3], Co = d[4], kh = d[5], kw = d[6], dh = d[9], dw = d[10], Wp = c->Wp;
  size_t half = c->Mr / 2;
  for (int64_t h = lo; h < hi; h++) {
    size_t r0 = h == 0 ? 0 : half, r1 = h == 0 ? half : c->Mr;
    if (r1 <= r0) continue;
    for (int i = 0; i < kh; i++) for (int j = 0; j < kw; j++) {
      int t = i * kw + j;
      size_t sh = ((size_t)i * dh * Wp + (size_t)j * dw);
      sgemm(NoTrans, NoTrans, (int)(r1 - r0), Co, Ci, 1.0f, k->xp + (sh + r0) * Ci, Ci, c->w + (size_t)t * Ci * Co,
                  Co, t ? 1.0f : 0.0f, k->g + r0 * Co, Co);
    }
  }
}
/* Filter gradient in two image halves: half h sums images [n0, n1) into its own buffer (half 0 into dW, half 1 into a
 * second buffer added at the end). The same two sums run whether the halves go to two threads or one after the other,
 * so the result does not depend on the thread count. */
struct convw_ctx { struct conv_ctx c[2]; int64_t split, N; };
static void convw_half_range(void *p, int64_t lo, int64_t hi) {
  struct convw_ctx *k = p;
  for (int64_t h = lo; h < hi; h++) conv_s1_range(&k->c[h], h == 0 ? 0 : k->split, h == 0 ? k->split : k->N);
}
/* Stride-1 convolution as kh*kw shifted GEMMs over a zero-padded copy of each image (no im2col: its buffer is kh*kw
 * times the input and was the cost). On the padded grid Hp x Wp (Hp = OH + (kh-1) dh, Wp = OW + (kw-1) dw), output
 * pixel q = oh*Wp + ow reads input row q + (i dh Wp + j dw) for tap (i, j): one GEMM per tap over Mr = (OH-1) Wp + OW
 * contiguous rows; rows with ow >= OW are junk (discarded forward, zero dy backward). Buffers per image: xp [Hp Wp Ci],
 * g [Hp Wp Co] (forward output / padded dy). Forward and input gradient: images are independent, so with >= 2 images
 * they are split over the pool (par_items; bitwise the serial loop's results); a single image's forward splits its
 * output rows in two halves instead (conv_rows_range). The filter gradient sums two image halves separately
 * (convw_half_range) and adds them. (Splitting its taps instead, every image padded up front and each tap summing
 * over images, was 1.7-1.9x slower at batch 8, 64x64x128: the padded images no longer stay in cache across the nine
 * taps.) Returns 0, or -1 when out of memory. */
static int conv_s1(int mode, float *x, float *w, float *y, const int32_t *d) {
  int N = d[0], Ci = d[3], Co = d[4], kh = d[5], kw = d[6], dh = d[9], dw = d[10], OH = d[13], OW = d[14];
  int Hp = OH + (kh - 1) * dh, Wp = OW + (kw - 1) * dw;
  size_t HWp = (size_t)Hp * Wp, Mr = (size_t)(OH - 1) * Wp + OW, per = HWp * ((size_t)Ci + Co);
  struct conv_ctx c = { mode, x, w, y, d, { NULL, NULL }, HWp, Mr, Hp, Wp };
  size_t wn = (size_t)kh * kw * Ci * Co;
  if (mode == 2) memset(w, 0, sizeof(float) * wn);
  if (mode == 2 && N >= 2) {
    float *buf = scratch_get(per * 2 + wn);
    if (!buf) return -1;
    float *w2 = buf + per * 2;
    memset(w2, 0, sizeof(float) * wn);
    struct convw_ctx k = { { c, c }, N / 2, N };
    for (int h = 0; h < 2; h++) { k.c[h].buf[0] = buf; k.c[h].buf[1] = buf + per; }
    k.c[1].w = w2;
    par_items(convw_half_range, &k, 2);
    for (size_t i = 0; i < wn; i++) w[i] += w2[i];
    scratch_put(buf);
    return 0;
  }
  int split = mode != 2 && par_wanted(N, PAR_MIN);
  int rows = mode == 0 && N == 1 && Mr >= 256; /* one image: its output rows in two halves (par_items when threads) */
  float *buf = scratch_get(per * (split ? 2 : 1));
  if (!buf) return -1;
  c.buf[0] = buf; c.buf[1] = buf + (split ? per : 0);
  if (split) par_items(conv_s1_range, &c, N);
  else if (rows) {
    struct convr_ctx k = { &c, buf, buf + HWp * Ci };
    conv_pad_x(&c, 0, k.xp);
    par_items(conv_rows_range, &k, 2);
    conv_unpad_y(&c, 0, k.g);
  } else conv_s1_range(&c, 0, N);
  scratch_put(buf);
  return 0;
}

/* Winograd F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) for the 3x3,
 * stride-1, undilated convolutions with enough channels (wg_wanted): each 4x4 output tile is A^T [U (.) V] A, with
 * V = B^T d B the 6x6 input tile d transformed and U = G g G^T the filter: 36 GEMMs [tiles, Ci] x [Ci, Co] instead
 * of 9 over every output pixel (4x fewer multiplications), plus the transforms (linear in the data). The input
 * gradient is the same computation on dy with the filter flipped and transposed (padding 2 - pad); the filter
 * gradient is its transpose in U: dU = sum over tiles of V (.) (A dY A^T), 36 GEMMs [Ci, tiles] x [tiles, Co]
 * accumulated per half of the chunks, then dW = G^T dU G (41 -> 22 ms at 8 x 64² x 128 -> 128). Tiles of all
 * images are cut into fixed chunks (<= WG_TC tiles, >= 2 chunks when there is more than a little work, decided by
 * the shape alone) that the pool takes two at a time, each with single-threaded GEMMs, so results do not depend on
 * the thread count. Error: a few float32 roundings more than the direct sum (the transforms' constants are 1/4..8);
 * test/engine/kernels.test.ts checks it against float64. MFF_WINOGRAD=0 turns it off. */
#define WG_TC 128
/* Where it pays (tools/bench.ts-style timings, 2-core Xeon, forward and both gradients): >= 64 channels in and out,
 * >= 2048 output pixels per call, images >= 8 x 8. 1.3-2.1x at 128-512 channels on 16-64 px images; at 32 channels,
 * or 8 x 8 images with 704 channels (the filter transform outweighs few tiles), no gain or slower. */
#define WG_MIN_C 64
#define WG_MIN_P 2048
#define WG_L 16 /* channels per vector block */
/* body(WG_N) with WG_N = WG_L when the block is full, so the compiler sees constant-size copies and loops (full-width
 * vector code, no memcpy calls); otherwise with WG_N = nl */
#define WG_LANES(nl, body) do { if ((nl) == WG_L) { enum { WG_N = WG_L }; body; } else { int WG_N = (nl); body; } } while (0)
#define WG_INLINE static inline __attribute__((always_inline))
struct wg_ctx { const float *x; float *y; const float *U; int H, W, Ci, Co, pt, pl, OH, OW, TH, TW; int64_t T, chunk; float *buf[2]; };
/* the 6-point input transform B^T along one axis, over WG_L lanes: o[k*so] from v[k*sv], k < 6 */
static inline void wg_bt(const float *v, size_t sv, float *o, size_t so, int nl) {
  for (int l = 0; l < nl; l++) {
    float d0 = v[l], d1 = v[sv + l], d2 = v[2 * sv + l], d3 = v[3 * sv + l], d4 = v[4 * sv + l], d5 = v[5 * sv + l];
    o[l] = 4.0f * d0 - 5.0f * d2 + d4;
    o[so + l] = -4.0f * (d1 + d2) + d3 + d4;
    o[2 * so + l] = 4.0f * (d1 - d2) - d3 + d4;
    o[3 * so + l] = 2.0f * (d3 - d1) - d2 + d4;
    o[4 * so + l] = 2.0f * (d1 - d3) - d2 + d4;
    o[5 * so + l] = 4.0f * d1 - 5.0f * d3 + d5;
  }
}
/* the output transform A^T along one axis: 6 -> 4 */
static inline void wg_at(const float *m, size_t sm, float *o, size_t so, int nl) {
  for (int l = 0; l < nl; l++) {
    float m0 = m[l], m1 = m[sm + l], m2 = m[2 * sm + l], m3 = m[3 * sm + l], m4 = m[4 * sm + l], m5 = m[5 * sm + l];
    float a = m1 + m2, b = m1 - m2, c = m3 + m4, e = m3 - m4;
    o[l] = m0 + a + c;
    o[so + l] = b + 2.0f * e;
    o[2 * so + l] = a + 4.0f * c;
    o[3 * so + l] = b + 8.0f * e + m5;
  }
}
/* the filter transform G along one axis: 3 -> 6 */
static inline void wg_g(const float *g, size_t sg, float *o, size_t so, int nl) {
  for (int l = 0; l < nl; l++) {
    float g0 = g[l], g1 = g[sg + l], g2 = g[2 * sg + l];
    const float s6 = 1.0f / 6.0f, s12 = 1.0f / 12.0f, s24 = 1.0f / 24.0f; /* multiplications: divisions do not vectorise */
    float a = g0 * s24 + g2 * s6, b = g1 * s12;
    o[l] = 0.25f * g0;
    o[so + l] = -(g0 + g1 + g2) * s6;
    o[2 * so + l] = -(g0 - g1 + g2) * s6;
    o[3 * so + l] = a + b;
    o[4 * so + l] = a - b;
    o[5 * so + l] = g2;
  }
}
/* U [36, Ci, Co] from w [3, 3, Ci, Co]: input channels [lo, hi) (split over the pool: every U element is computed
 * on its own, so the split does not change it) */
struct wgf_ctx { const float *w; float *U; int Ci, Co; };
WG_INLINE void wg_filter_blk(const float *g, float *U, size_t CC, float *t, float *u, int nl) {
  for (int j = 0; j < 3; j++) wg_g(g + j * CC, 3 * CC, t + j * WG_L, 3 * WG_L, nl); /* t[i][j], i < 6 */
  for (int i = 0; i < 6; i++) wg_g(t + i * 3 * WG_L, WG_L, u + i * 6 * WG_L, WG_L, nl);
  for (int q = 0; q < 36; q++) memcpy(U + q * CC, u + q * WG_L, sizeof(float) * nl);
}
static void wg_filter_range(void *p, int64_t lo, int64_t hi) {
  const struct wgf_ctx *k = p; int Co = k->Co; size_t CC = (size_t)k->Ci * Co;
  float t[18 * WG_L], u[36 * WG_L];
  for (int64_t ci = lo; ci < hi; ci++) for (int c0 = 0; c0 < Co; c0 += WG_L) {
    int nl = Co - c0 < WG_L ? Co - c0 : WG_L;
    WG_LANES(nl, wg_filter_blk(k->w + (size_t)ci * Co + c0, k->U + (size_t)ci * Co + c0, CC, t, u, WG_N));
  }
}
static void wg_filter(const float *w, float *U, int Ci, int Co) {
  struct wgf_ctx k = { w, U, Ci, Co };
  par_for(wg_filter_range, &k, Ci, 36 * (int64_t)Co);
}
/* one tile's 16-lane block: v = B^T d B from d [6][6][lanes], written to Vt[k * ks], k < 36 */
WG_INLINE void wg_input_tf(const float *d, float *Vt, size_t ks, float *t, float *v, int nl) {
  for (int j = 0; j < 6; j++) wg_bt(d + j * WG_L, 6 * WG_L, t + j * WG_L, 6 * WG_L, nl);
  for (int i = 0; i < 6; i++) wg_bt(t + i * 6 * WG_L, WG_L, v + i * 6 * WG_L, WG_L, nl);
  for (int k = 0; k < 36; k++) memcpy(Vt + k * ks, v + k * WG_L, sizeof(float) * nl);
}
/* the same for a tile inside the image: d read in place (x at the tile's corner, rows rs apart, pixels ps apart) */
WG_INLINE void wg_input_blk(const float *x, size_t rs, size_t ps, float *Vt, size_t ks, float *d, float *t, float *v, int nl) {
  for (int i = 0; i < 6; i++) for (int j = 0; j < 6; j++) memcpy(d + (i * 6 + j) * WG_L, x + i * rs + j * ps, sizeof(float) * nl);
  wg_input_tf(d, Vt, ks, t, v, nl);
}
/* the same for a tile over the image's edge (x at the image's origin; outside pixels are zeros) */
WG_INLINE void wg_input_edge(const float *x, int H, int W, int Ci, int ih0, int iw0, float *Vt, size_t ks, float *d, float *t,
                             float *v, int nl) {
  for (int i = 0; i < 6; i++) for (int j = 0; j < 6; j++) {
    int ih = ih0 + i, iw = iw0 + j;
    float *dd = d + (i * 6 + j) * WG_L;
    if (ih < 0 || ih >= H || iw < 0 || iw >= W) memset(dd, 0, sizeof(float) * WG_L);
    else memcpy(dd, x + ((size_t)ih * W + iw) * Ci, sizeof(float) * nl);
  }
  wg_input_tf(d, Vt, ks, t, v, nl);
}
/* tiles [t0, t1) (tile t = (n, th, tw)): V [36, t1 - t0, Ci] */
static void wg_input(const struct wg_ctx *c, int64_t t0, int64_t t1, float *V) {
  int H = c->H, W = c->W, Ci = c->Ci, TW = c->TW, TH = c->TH; size_t tc = (size_t)(t1 - t0);
  float d[36 * WG_L], t[36 * WG_L], v[36 * WG_L];
  for (int64_t tt = t0; tt < t1; tt++) {
    int64_t n = tt / ((int64_t)TH * TW); int r = (int)(tt % ((int64_t)TH * TW)), ih0 = (r / TW) * 4 - c->pt, iw0 = (r % TW) * 4 - c->pl;
    const float *xn = c->x + (size_t)n * H * W * Ci;
    int inner = ih0 >= 0 && iw0 >= 0 && ih0 + 6 <= H && iw0 + 6 <= W;
    for (int c0 = 0; c0 < Ci; c0 += WG_L) {
      int nl = Ci - c0 < WG_L ? Ci - c0 : WG_L;
      float *Vt = V + (size_t)(tt - t0) * Ci + c0;
      if (inner) WG_LANES(nl, wg_input_blk(xn + ((size_t)ih0 * W + iw0) * Ci + c0, (size_t)W * Ci, Ci, Vt, tc * Ci, d, t, v, WG_N));
      else WG_LANES(nl, wg_input_edge(xn + c0, H, W, Ci, ih0, iw0, Vt, tc * Ci, d, t, v, WG_N));
    }
  }
}
/* one tile's 16-lane block: y (at the tile's corner; rows rs, pixels ps apart; ni x nj inside the map) = A^T m A
 * from m read at Mt[k * ks], k < 36 */
WG_INLINE void wg_output_blk(const float *Mt, size_t ks, float *y, size_t rs, size_t ps, int ni, int nj, float *m, float *t,
                             float *o, int nl) {
  for (int k = 0; k < 36; k++) memcpy(m + k * WG_L, Mt + k * ks, sizeof(float) * nl);
  for (int j = 0; j < 6; j++) wg_at(m + j * WG_L, 6 * WG_L, t + j * WG_L, 6 * WG_L, nl); /* t[4][6] */
  for (int i = 0; i < 4; i++) wg_at(t + i * 6 * WG_L, WG_L, o + i * 4 * WG_L, WG_L, nl); /* o[4][4] */
  for (int i = 0; i < ni; i++) for (int j = 0; j < nj; j++) memcpy(y + i * rs + j * ps, o + (i * 4 + j) * WG_L, sizeof(float) * nl);
}
/* tiles [t0, t1): y from M [36, t1 - t0, Co] */
static void wg_output(const struct wg_ctx *c, int64_t t0, int64_t t1, const float *M) {
  int Co = c->Co, OH = c->OH, OW = c->OW, TW = c->TW, TH = c->TH; size_t tc = (size_t)(t1 - t0);
  float m[36 * WG_L], t[24 * WG_L], o[16 * WG_L];
  for (int64_t tt = t0; tt < t1; tt++) {
    int64_t n = tt / ((int64_t)TH * TW); int r = (int)(tt % ((int64_t)TH * TW)), oh0 = (r / TW) * 4, ow0 = (r % TW) * 4;
    float *yn = c->y + (size_t)n * OH * OW * Co;
    int ni = OH - oh0 < 4 ? OH - oh0 : 4, nj = OW - ow0 < 4 ? OW - ow0 : 4;
    for (int c0 = 0; c0 < Co; c0 += WG_L) {
      int nl = Co - c0 < WG_L ? Co - c0 : WG_L;
      WG_LANES(nl, wg_output_blk(M + (size_t)(tt - t0) * Co + c0, tc * Co, yn + ((size_t)oh0 * OW + ow0) * Co + c0, (size_t)OW * Co, Co,
                                 ni, nj, m, t, o, WG_N));
    }
  }
}
/* the filter gradient's transforms. A along one axis (4 -> 6; A^T is wg_at's 4 x 6 matrix): the output-gradient tile */
static inline void wg_a(const float *e, size_t se, float *o, size_t so, int nl) {
  for (int l = 0; l < nl; l++) {
    float e0 = e[l], e1 = e[se + l], e2 = e[2 * se + l], e3 = e[3 * se + l];
    float p = e0 + e2, q = e1 + e3, r = e0 + 4.0f * e2, t = 2.0f * e1 + 8.0f * e3;
    o[l] = e0;
    o[so + l] = p + q;
    o[2 * so + l] = p - q;
    o[3 * so + l] = r + t;
    o[4 * so + l] = r - t;
    o[5 * so + l] = e3;
  }
}
/* G^T along one axis (6 -> 3): the filter gradient from dU */
static inline void wg_gt(const float *x, size_t sx, float *o, size_t so, int nl) {
  for (int l = 0; l < nl; l++) {
    float x0 = x[l], x1 = x[sx + l], x2 = x[2 * sx + l], x3 = x[3 * sx + l], x4 = x[4 * sx + l], x5 = x[5 * sx + l];
    const float s6 = 1.0f / 6.0f, s12 = 1.0f / 12.0f, s24 = 1.0f / 24.0f;
    o[l] = 0.25f * x0 - (x1 + x2) * s6 + (x3 + x4) * s24;
    o[so + l] = (x2 - x1) * s6 + (x3 - x4) * s12;
    o[2 * so + l] = (x3 + x4 - x1 - x2) * s6 + x5;
  }
}
/* one tile's 16-lane block: Mt[k * ks], k < 36 = A e A^T of the output-gradient tile e (at the tile's corner; rows rs,
 * pixels ps apart; ni x nj inside the map, zeros past it) */
WG_INLINE void wg_dy_blk(const float *y, size_t rs, size_t ps, int ni, int nj, float *Mt, size_t ks, float *e, float *t, float *m,
                         int nl) {
  for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) {
    float *ee = e + (i * 4 + j) * WG_L;
    if (i >= ni || j >= nj) memset(ee, 0, sizeof(float) * WG_L);
    else memcpy(ee, y + i * rs + j * ps, sizeof(float) * nl);
  }
  for (int j = 0; j < 4; j++) wg_a(e + j * WG_L, 4 * WG_L, t + j * WG_L, 4 * WG_L, nl); /* t[6][4] */
  for (int i = 0; i < 6; i++) wg_a(t + i * 4 * WG_L, WG_L, m + i * 6 * WG_L, WG_L, nl); /* m[6][6] */
  for (int k = 0; k < 36; k++) memcpy(Mt + k * ks, m + k * WG_L, sizeof(float) * nl);
}
/* tiles [t0, t1): Mdy [36, t1 - t0, Co] = A dY A^T of each 4x4 output-gradient tile (zero past the map's edge) */
static void wg_dy(const struct wg_ctx *c, int64_t t0, int64_t t1, float *M) {
  int Co = c->Co, OH = c->OH, OW = c->OW, TW = c->TW, TH = c->TH; size_t tc = (size_t)(t1 - t0);
  float e[16 * WG_L], t[24 * WG_L], m[36 * WG_L];
  for (int64_t tt = t0; tt < t1; tt++) {
    int64_t n = tt / ((int64_t)TH * TW); int r = (int)(tt % ((int64_t)TH * TW)), oh0 = (r / TW) * 4, ow0 = (r % TW) * 4;
    const float *yn = c->y + (size_t)n * OH * OW * Co;
    int ni = OH - oh0 < 4 ? OH - oh0 : 4, nj = OW - ow0 < 4 ? OW - ow0 : 4;
    for (int c0 = 0; c0 < Co; c0 += WG_L) {
      int nl = Co - c0 < WG_L ? Co - c0 : WG_L;
      WG_LANES(nl, wg_dy_blk(yn + ((size_t)oh0 * OW + ow0) * Co + c0, (size_t)OW * Co, Co, ni, nj, M + (size_t)(tt - t0) * Co + c0,
                             tc * Co, e, t, m, WG_N));
    }
  }
}
/* the filter gradient: chunks [lo, hi) add V^T Mdy into dU[0] (chunks of the first half) or dU[1] (the second half):
 * the halves are fixed by the chunk count, so the sums do not depend on the thread count */
struct wgw_ctx { struct wg_ctx c; int64_t nch; float *dU[2]; };
static void wgw_range(void *p, int64_t lo, int64_t hi) {
  const struct wgw_ctx *k = p; const struct wg_ctx *c = &k->c;
  float *V = c->buf[lo == 0 ? 0 : 1], *M = V + 36 * (size_t)c->chunk * c->Ci;
  int64_t mid = k->nch >= 2 ? k->nch / 2 : k->nch; /* one chunk: all of it is the first half (dU[1] stays zero) */
  for (int64_t ch = lo; ch < hi; ch++) {
    int64_t t0 = ch * c->chunk, t1 = t0 + c->chunk < c->T ? t0 + c->chunk : c->T;
    int tc = (int)(t1 - t0);
    float *dU = k->dU[ch < mid ? 0 : 1];
    float beta = ch == 0 || ch == mid ? 0.0f : 1.0f;
    wg_input(c, t0, t1, V);
    wg_dy(c, t0, t1, M);
    for (int q = 0; q < 36; q++)
      sgemm(Trans, NoTrans, c->Ci, c->Co, tc, 1.0f, V + (size_t)q * tc * c->Ci, c->Ci, M + (size_t)q * tc * c->Co, c->Co, beta,
            dU + (size_t)q * c->Ci * c->Co, c->Co);
  }
}
/* w [3, 3, Ci, Co] = G^T dU G from dU [36, Ci, Co], input channels [lo, hi) */
struct wgt_ctx { const float *dU; float *w; int Ci, Co; };
WG_INLINE void wg_filter_grad_blk(const float *dU, float *w, size_t CC, float *u, float *t, float *g, int nl) {
  for (int q = 0; q < 36; q++) memcpy(u + q * WG_L, dU + q * CC, sizeof(float) * nl);
  for (int j = 0; j < 6; j++) wg_gt(u + j * WG_L, 6 * WG_L, t + j * WG_L, 6 * WG_L, nl); /* t[3][6] */
  for (int i = 0; i < 3; i++) wg_gt(t + i * 6 * WG_L, WG_L, g + i * 3 * WG_L, WG_L, nl); /* g[3][3] */
  for (int q = 0; q < 9; q++) memcpy(w + q * CC, g + q * WG_L, sizeof(float) * nl);
}
static void wg_filter_grad_range(void *p, int64_t lo, int64_t hi) {
  const struct wgt_ctx *k = p; int Co = k->Co; size_t CC = (size_t)k->Ci * Co;
  float u[36 * WG_L], t[18 * WG_L], g[9 * WG_L];
  for (int64_t ci = lo; ci < hi; ci++) for (int c0 = 0; c0 < Co; c0 += WG_L) {
    int nl = Co - c0 < WG_L ? Co - c0 : WG_L;
    WG_LANES(nl, wg_filter_grad_blk(k->dU + (size_t)ci * Co + c0, k->w + (size_t)ci * Co + c0, CC, u, t, g, WG_N));
  }
}
/* chunks [lo, hi): transform, 36 GEMMs, inverse transform; scratch set 0 on the calling thread, 1 on the worker */
static void wg_range(void *p, int64_t lo, int64_t hi) {
  const struct wg_ctx *c = p;
  float *V = c->buf[lo == 0 ? 0 : 1], *M = V + 36 * (size_t)c->chunk * c->Ci;
  for (int64_t ch = lo; ch < hi; ch++) {
    int64_t t0 = ch * c->chunk, t1 = t0 + c->chunk < c->T ? t0 + c->chunk : c->T;
    int tc = (int)(t1 - t0);
    wg_input(c, t0, t1, V);
    for (int k = 0; k < 36; k++)
      sgemm(NoTrans, NoTrans, tc, c->Co, c->Ci, 1.0f, V + (size_t)k * tc * c->Ci, c->Ci, c->U + (size_t)k * c->Ci * c->Co, c->Co, 0.0f,
            M + (size_t)k * tc * c->Co, c->Co);
    wg_output(c, t0, t1, M);
  }
}
/* MFF_WINOGRAD=0: never; =all: every 3x3 stride-1 undilated convolution with padding <= 2, whatever its size (the
 * tests run the golden models through it this way); unset: where it pays (WG_MIN_*). */
static int wg_wanted(int mode, const int32_t *d) {
  static int how = -1; /* 0 off, 1 where it pays, 2 all */
  if (how < 0) { const char *e = getenv("MFF_WINOGRAD"); how = !e ? 1 : e[0] == '0' ? 0 : strcmp(e, "all") == 0 ? 2 : 1; }
  int fits = mode >= 0 && mode <= 2 && d[5] == 3 && d[6] == 3 && d[7] == 1 && d[8] == 1 && d[9] == 1 && d[10] == 1 &&
             d[11] >= 0 && d[12] >= 0 && d[11] <= 2 && d[12] <= 2;
  if (!fits || how == 0) return 0;
  return how == 2 || (d[3] >= WG_MIN_C && d[4] >= WG_MIN_C && d[13] >= 8 && d[14] >= 8 && (int64_t)d[0] * d[13] * d[14] >= WG_MIN_P);
}
/* c's tiles (N images, 4x4 output tiles) cut into chunks of <= WG_TC tiles, and at least two chunks when there are
 * >= two_from tiles; the plan depends on the shape alone. Returns the chunk count. */
static int64_t wg_plan(struct wg_ctx *c, int N, int64_t two_from) {
  c->TH = (c->OH + 3) / 4; c->TW = (c->OW + 3) / 4; c->T = (int64_t)N * c->TH * c->TW;
  int64_t nch = (c->T + WG_TC - 1) / WG_TC;
  if (nch < 2 && c->T >= two_from) nch = 2;
  c->chunk = (c->T + nch - 1) / nch;
  return (c->T + c->chunk - 1) / c->chunk;
}
static int conv_wg_filter(float *x, float *w, float *y, const int32_t *d) {
  int N = d[0], H = d[1], W = d[2], Ci = d[3], Co = d[4], pt = d[11], pl = d[12], OH = d[13], OW = d[14];
  struct wgw_ctx k = { { x, y, NULL, H, W, Ci, Co, pt, pl, OH, OW, 0, 0, 0, 0, { NULL, NULL } }, 0, { NULL, NULL } };
  struct wg_ctx *c = &k.c;
  int64_t nch = wg_plan(c, N, 0);
  k.nch = nch;
  size_t CC = (size_t)Ci * Co, per = 36 * (size_t)c->chunk * ((size_t)Ci + Co);
  float *buf = scratch_get(per * 2 + 72 * CC);
  if (!buf) return -1;
  c->buf[0] = buf; c->buf[1] = buf + per;
  k.dU[0] = buf + per * 2; k.dU[1] = k.dU[0] + 36 * CC;
  if (nch < 2) memset(k.dU[1], 0, sizeof(float) * 36 * CC); /* one chunk only: the second half is empty */
  par_items(wgw_range, &k, nch);
  for (size_t i = 0; i < 36 * CC; i++) k.dU[0][i] += k.dU[1][i];
  struct wgt_ctx t = { k.dU[0], w, Ci, Co };
  par_for(wg_filter_grad_range, &t, Ci, 9 * (int64_t)Co);
  scratch_put(buf);
  return 0;
}
/* mode 0: y = conv(x, w); mode 1: x = the input gradient from dy (in y); mode 2: w = the filter gradient from x and dy:
 * dU = sum over tiles of V (.) (A dY A^T), 36 GEMMs [Ci, tiles] x [tiles, Co] per chunk, then w = G^T dU G. Returns 0
 * or -1 (no memory). */
static int conv_wg(int mode, float *x, float *w, float *y, const int32_t *d) {
  int N = d[0], H = d[1], W = d[2], Ci = d[3], Co = d[4], pt = d[11], pl = d[12], OH = d[13], OW = d[14];
  if (mode == 2) return conv_wg_filter(x, w, y, d);
  /* mode 1 as a forward convolution: input dy [N, OH, OW, Co], output dx [N, H, W, Ci], filter w'[i][j][co][ci] = w[2-i][2-j][ci][co] */
  struct wg_ctx c = mode == 0 ? (struct wg_ctx){ x, y, NULL, H, W, Ci, Co, pt, pl, OH, OW, 0, 0, 0, 0, { NULL, NULL } }
                              : (struct wg_ctx){ y, x, NULL, OH, OW, Co, Ci, 2 - pt, 2 - pl, H, W, 0, 0, 0, 0, { NULL, NULL } };
  int64_t nch = wg_plan(&c, N, 8);
  size_t CC = (size_t)Ci * Co, per = 36 * (size_t)c.chunk * ((size_t)c.Ci + c.Co);
  float *buf = scratch_get(36 * CC + per * 2 + (mode == 1 ? 9 * CC : 0));
  if (!buf) return -1;
  float *U = buf + per * 2;
  if (mode == 1) {
    float *wf = U + 36 * CC; /* [3, 3, Co, Ci]: tap t of w' is tap 8 - t of w transposed */
    const int32_t shape[2] = { Ci, Co }, perm[2] = { 1, 0 };
    for (int t = 0; t < 9; t++) mff_transpose((const uint32_t *)(w + (size_t)(8 - t) * CC), (uint32_t *)(wf + (size_t)t * CC), shape, perm, 2);
    wg_filter(wf, U, Co, Ci);
  } else wg_filter(w, U, Ci, Co);
  c.U = U; c.buf[0] = buf; c.buf[1] = buf + per;
  par_items(wg_range, &c, nch);
  scratch_put(buf);
  return 0;
}

/* Forward epilogue of the fused convolution over the whole output [rows, Co]: + bias[c] (if any), then ReLU (if set). */
static void conv_epilogue(float *y, size_t rows, int Co, const float *bias, int relu) {
  if (!bias && !relu) return;
  for (size_t r = 0; r < rows; r++) {
    float *yr = y + r * (size_t)Co;
    if (bias) for (int c = 0; c < Co; c++) yr[c] += bias[c];
    if (relu) for (int c = 0; c < Co; c++) yr[c] = yr[c] > 0.0f ? yr[c] : 0.0f;
  }
}
int mff_conv2d(int mode, float *x, float *w, float *y, const int32_t *d, const float *ebias, int erelu) {
  int N = d[0], H = d[1], W = d[2], Ci = d[3], Co = d[4], kh = d[5], kw = d[6], OH = d[13], OW = d[14];
  int P = OH * OW, K = kh * kw * Ci;
  /* 1x1, stride 1, no padding: the image itself is the column matrix */
  int direct = kh == 1 && kw == 1 && d[7] == 1 && d[8] == 1 && d[11] == 0 && d[12] == 0 && OH == H && OW == W;
  if (!direct && d[7] == 1 && d[8] == 1 && P > 0 && Ci > 0 && Co > 0 && N > 0 && d[11] >= 0 && d[12] >= 0) {
    if (wg_wanted(mode, d) ? conv_wg(mode, x, w, y, d) : conv_s1(mode, x, w, y, d)) return MFF_CONV_NOMEM;
    if (mode == 0) conv_epilogue(y, (size_t)N * P, Co, ebias, erelu);
    return 0;
  }
  float *col = NULL;
  if (!direct && P > 0 && K > 0) {
    col = scratch_get((size_t)P * K);
    if (!col) return MFF_CONV_NOMEM_COL;
  }
  if (mode == 2) memset(w, 0, sizeof(float) * (size_t)K * Co);
  for (int n = 0; n < N && P > 0; n++) {
    float *xn = x + (size_t)n * H * W * Ci, *yn = y + (size_t)n * P * Co;
    float *c = direct ? xn : col;
    if (mode == 0) {
      if (!direct) im2col(xn, col, d);
      if (K > 0) sgemm(NoTrans, NoTrans, P, Co, K, 1.0f, c, K, w, Co, 0.0f, yn, Co);
      else memset(yn, 0, sizeof(float) * (size_t)P * Co);
    } else if (mode == 1) {
      if (K == 0) continue;
      sgemm(NoTrans, Trans, P, K, Co, 1.0f, yn, Co, w, Co, 0.0f, c, K);
      if (!direct) col2im(col, xn, d);
    } else {
      if (K == 0) continue;
      if (!direct) im2col(xn, col, d);
      sgemm(Trans, NoTrans, K, Co, P, 1.0f, c, K, yn, Co, 1.0f, w, Co);
    }
  }
  if (mode == 1 && P == 0) memset(x, 0, sizeof(float) * (size_t)N * H * W * Ci);
  if (mode == 0) conv_epilogue(y, (size_t)N * P, Co, ebias, erelu);
  if (col) scratch_put(col);
  return 0;
}

struct adamw_ctx { const float *P, *M, *V, *G; float *PO, *MO, *VO; float decay, c1, b2, c2, bc2, eps, ss; int hasDecay; };
/* one AdamW element (the op order of kernels.h mff_adamw); inlined into both loops below */
static inline void adamw_elem(float p, float g, float m, float v, float dm, float c1, float b2, float c2, float bc2, float eps,
                              float ss, float *po, float *mo, float *vo) {
  float m1 = m + (g - m) * c1;
  float v1 = v * b2 + (g * g) * c2;
  float denom = sqrtf(v1) / bc2 + eps;
  *mo = m1; *vo = v1;
  *po = p * dm - (m1 / denom) * ss;
}
/* the element loops as their own functions with restrict arguments: GCC 12 does not vectorise them through the
 * context struct (scalar sqrtf and divisions were 3/4 of the step's optimizer time) */
static void adamw_loop(const float *restrict P, const float *restrict M, const float *restrict V, const float *restrict G,
                       float *restrict PO, float *restrict MO, float *restrict VO, size_t n, float dm, float c1, float b2,
                       float c2, float bc2, float eps, float ss) {
  for (size_t i = 0; i < n; i++) adamw_elem(P[i], G[i], M[i], V[i], dm, c1, b2, c2, bc2, eps, ss, PO + i, MO + i, VO + i);
}
static void adamw_range(void *ctx, int64_t lo, int64_t hi) {
  const struct adamw_ctx *k = ctx;
  const float dm = k->hasDecay ? k->decay : 1.0f; /* x * 1.0f == x exactly: one branch-free loop */
  adamw_loop(k->P + lo, k->M + lo, k->V + lo, k->G + lo, k->PO + lo, k->MO + lo, k->VO + lo, (size_t)(hi - lo), dm, k->c1,
             k->b2, k->c2, k->bc2, k->eps, k->ss);
}
void mff_adamw(const float *P, const float *M, const float *V, const float *G, float *PO, float *MO, float *VO, int64_t n, const float *c) {
  struct adamw_ctx ac = { P, M, V, G, PO, MO, VO, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7] != 0.0f };
  par_for(adamw_range, &ac, n, 2);
}

/* AdamW over many tensors in place (p, m, v updated; g read): one split over all their elements together, so small
 * tensors cost no per-tensor dispatch. Each element is adamw_elem, as in mff_adamw: bitwise equal to it. The arrays
 * of one tensor must not overlap each other. */
struct adamw_multi_ctx { int k; float *const *P, *const *M, *const *V; const float *const *G; const int64_t *start; const float *c; };
static void adamw_loop_inplace(float *restrict P, float *restrict M, float *restrict V, const float *restrict G, size_t n,
                               float dm, float c1, float b2, float c2, float bc2, float eps, float ss) {
  for (size_t i = 0; i < n; i++) adamw_elem(P[i], G[i], M[i], V[i], dm, c1, b2, c2, bc2, eps, ss, P + i, M + i, V + i);
}
static void adamw_multi_range(void *ctx, int64_t lo, int64_t hi) {
  const struct adamw_multi_ctx *k = ctx;
  int a = 0, b = k->k; /* the tensor holding element lo: start[j] <= lo < start[j + 1] */
  while (b - a > 1) { int mid = (a + b) / 2; if (k->start[mid] <= lo) a = mid; else b = mid; }
  for (int j = a; j < k->k && k->start[j] < hi; j++) {
    int64_t s = lo > k->start[j] ? lo - k->start[j] : 0;
    int64_t e = (hi < k->start[j + 1] ? hi : k->start[j + 1]) - k->start[j];
    if (e <= s) continue;
    const float *c = k->c + 8 * (size_t)j;
    adamw_loop_inplace(k->P[j] + s, k->M[j] + s, k->V[j] + s, k->G[j] + s, (size_t)(e - s), c[7] != 0.0f ? c[0] : 1.0f, c[1],
                       c[2], c[3], c[4], c[5], c[6]);
  }
}
void mff_adamw_multi(int k, float *const *P, float *const *M, float *const *V, const float *const *G, const int64_t *start, const float *c) {
  struct adamw_multi_ctx ac = { k, P, M, V, G, start, c };
  if (k > 0) par_for(adamw_multi_range, &ac, start[k], 2);
}

struct asm_ctx { float *probs; int N; };
static void attn_softmax_range(void *p, int64_t lo, int64_t hi) {
  const struct asm_ctx *c = p; const int N = c->N;
  for (int64_t i = lo; i < hi; i++) softmax_row(c->probs + (size_t)i * N, c->probs + (size_t)i * N, N);
}
/* Attention works per (batch, head) item, each item whole: logits, softmax, P V (forward) or its four products
 * (backward). Items are spread over the pool: small ones (N*N*hd below OpenBLAS's own threading threshold, so each
 * sgemm runs on the calling thread) by par_for, large ones by par_items (OpenBLAS on one thread meanwhile; the forward
 * in query-row halves). Every item writes only its own outputs, so results are bitwise identical to the serial loop. */
#define ATTN_ITEM_SMALL 262144
struct attf_ctx { const float *qkv; float *out, *probs; const float *bias; int N, H, hd; float scale; };
static void attf_logits(const struct attf_ctx *c, int64_t i) {
  int N = c->N, H = c->H, hd = c->hd, D = H * hd, ld = 3 * D; int64_t b = i / H, h = i % H;
  const float *q = c->qkv + (size_t)b * N * ld + h * hd, *k = q + D;
  float *P = c->probs + (size_t)i * N * N;
  if (c->bias) memcpy(P, c->bias + (size_t)h * N * N, sizeof(float) * (size_t)N * N);
  sgemm(NoTrans, Trans, N, N, hd, c->scale, q, ld, k, ld, c->bias ? 1.0f : 0.0f, P, N);
}
static void attf_pv(const struct attf_ctx *c, int64_t i) {
  int N = c->N, H = c->H, hd = c->hd, D = H * hd, ld = 3 * D; int64_t b = i / H, h = i % H;
  const float *v = c->qkv + (size_t)b * N * ld + h * hd + 2 * D;
  sgemm(NoTrans, NoTrans, N, hd, N, 1.0f, c->probs + (size_t)i * N * N, N, v, ld, 0.0f, c->out + (size_t)b * N * D + h * hd, D);
}
static void attf_item_range(void *p, int64_t lo, int64_t hi) {
  const struct attf_ctx *c = p;
  for (int64_t i = lo; i < hi; i++) {
    attf_logits(c, i);
    struct asm_ctx sc = { c->probs + (size_t)i * c->N * c->N, c->N };
    attn_softmax_range(&sc, 0, c->N);
    attf_pv(c, i);
  }
}
/* Large items in query-row halves (unit u = item u/2, half u%2): logits, softmax and P V of a row depend only on that
 * row, and the same calls run on one thread or two. Few items (one image's heads at evaluation) still fill both threads. */
static void attf_half_range(void *p, int64_t lo, int64_t hi) {
  const struct attf_ctx *c = p;
  int N = c->N, H = c->H, hd = c->hd, D = H * hd, ld = 3 * D, half = N / 2;
  for (int64_t u = lo; u < hi; u++) {
    int64_t i = u / 2, b = i / H, h = i % H;
    int r0 = u % 2 == 0 ? 0 : half, r1 = u % 2 == 0 ? half : N;
    if (r1 <= r0) continue;
    const float *q = c->qkv + (size_t)b * N * ld + h * hd, *k = q + D, *v = q + 2 * D;
    float *P = c->probs + (size_t)i * N * N + (size_t)r0 * N;
    if (c->bias) memcpy(P, c->bias + (size_t)h * N * N + (size_t)r0 * N, sizeof(float) * (size_t)(r1 - r0) * N);
    sgemm(NoTrans, Trans, r1 - r0, N, hd, c->scale, q + (size_t)r0 * ld, ld, k, ld, c->bias ? 1.0f : 0.0f, P, N);
    struct asm_ctx sc = { P, N };
    attn_softmax_range(&sc, 0, r1 - r0);
    sgemm(NoTrans, NoTrans, r1 - r0, hd, N, 1.0f, P, N, v, ld, 0.0f, c->out + ((size_t)b * N + r0) * D + h * hd, D);
  }
}
/* Items of at most ATTN_L1_N tokens and head width (operands in L1) run on the AVX-512 kernels of avx512.c (GEMM,
 * softmax rows and their gradient) instead of library calls, whose packing and dispatch cost more than the arithmetic
 * there (use_avx512(): MFF_AVX512=0 keeps them on sgemm() and the plain loops). */
#define ATTN_L1_N 128
static int attn_small_gemm(int N, int hd) { return use_avx512() && N <= ATTN_L1_N && hd <= ATTN_L1_N; }
/* one item on mff_small_gemm: kt is hd*N scratch of the thread that runs it (K transposed, so the logits' B is row-major) */
static void attf_item_l1(const struct attf_ctx *c, int64_t i, float *kt) {
  int N = c->N, H = c->H, hd = c->hd, D = H * hd, ld = 3 * D; int64_t b = i / H, h = i % H;
  const float *q = c->qkv + (size_t)b * N * ld + h * hd, *k = q + D, *v = q + 2 * D;
  float *P = c->probs + (size_t)i * N * N;
  mff_pack_t(k, N, hd, ld, kt);                                                        /* kt [hd, N] = k^T */
  if (c->bias) memcpy(P, c->bias + (size_t)h * N * N, sizeof(float) * (size_t)N * N);
  mff_small_gemm(N, N, hd, c->scale, q, ld, 1, kt, N, c->bias != NULL, P, N);            /* P = scale q k^T (+ bias) */
  mff_softmax_rows(P, N, N);
  mff_small_gemm(N, hd, N, 1.0f, P, N, 1, v, ld, 0, c->out + (size_t)b * N * D + h * hd, D); /* out = P v */
}
struct attf_l1_job { const struct attf_ctx *c; float *scratch; };
static void attf_l1_range(void *p, int64_t lo, int64_t hi) {
  const struct attf_l1_job *j = p;
  float *kt = j->scratch + (lo == 0 ? 0 : (size_t)j->c->hd * j->c->N); /* par_for: [0, mid) here, [mid, n) on the worker */
  for (int64_t i = lo; i < hi; i++) attf_item_l1(j->c, i, kt);
}
int mff_attention_forward(const float *qkv, float *out, float *probs, const float *bias, int B, int N, int H, int hd, float scale) {
  struct attf_ctx c = { qkv, out, probs, bias, N, H, hd, scale };
  int64_t items = (int64_t)B * H;
  if (attn_small_gemm(N, hd)) {
    struct attf_l1_job j = { &c, malloc(sizeof(float) * 2 * (size_t)hd * N + 64) };
    if (!j.scratch) return -1;
    par_for(attf_l1_range, &j, items, (int64_t)N * N * hd);
    free(j.scratch);
  }
  else if ((int64_t)N * N * hd < ATTN_ITEM_SMALL) par_for(attf_item_range, &c, items, (int64_t)N * N * hd);
  else par_items(attf_half_range, &c, 2 * items);
  return 0;
}

struct attb_ctx { const float *qkv, *probs, *dout; float *dqkv, *dbias, *dbias2, *scratch; int N, H, hd, l1; float scale; };
/* one item's backward; dP is N*N scratch of the thread that runs it, dbias (or NULL) its half's bias-gradient sum */
static void attb_item(const struct attb_ctx *c, int64_t it, float *dP, float *dbias) {
  int N = c->N, H = c->H, hd = c->hd, D = H * hd, ld = 3 * D; int64_t b = it / H, h = it % H; float scale = c->scale;
  const float *q = c->qkv + (size_t)b * N * ld + h * hd, *k = q + D, *v = q + 2 * D;
  const float *P = c->probs + (size_t)it * N * N, *dO = c->dout + (size_t)b * N * D + h * hd;
  float *dq = c->dqkv + (size_t)b * N * ld + h * hd, *dk = dq + D, *dv = dq + 2 * D;
  if (c->l1) { /* the AVX-512 kernels; V transposed into the scratch after dP (so dP's B is row-major) */
    float *vt = dP + (size_t)N * N;
    mff_small_gemm(N, hd, N, 1.0f, P, 1, N, dO, D, 0, dv, ld); /* dV = P^T dO */
    mff_pack_t(v, N, hd, ld, vt);
    mff_small_gemm(N, N, hd, 1.0f, dO, D, 1, vt, N, 0, dP, N); /* dP = dO V^T */
    mff_softmax_grad_rows(P, dP, N, N);                        /* dS = P (dP - sum(dP P)) */
  } else {
    sgemm(Trans, NoTrans, N, hd, N, 1.0f, P, N, dO, D, 0.0f, dv, ld);   /* dV = P^T dO */
    sgemm(NoTrans, Trans, N, N, hd, 1.0f, dO, D, v, ld, 0.0f, dP, N);  /* dP = dO V^T */
    for (int i = 0; i < N; i++) {                                      /* dS = P (dP - sum(dP P)) */
      const float *pr = P + (size_t)i * N; float *gr = dP + (size_t)i * N, s = row_dot16(gr, pr, N);
      for (int j = 0; j < N; j++) gr[j] = pr[j] * (gr[j] - s);
    }
  }
  if (dbias) { /* d bias[h] = sum over the batch of dS (the logits gradient), per half of the items */
    float *db = dbias + (size_t)h * N * N;
    for (size_t t = 0; t < (size_t)N * N; t++) db[t] += dP[t];
  }
  if (c->l1) {
    mff_small_gemm(N, hd, N, scale, dP, N, 1, k, ld, 0, dq, ld); /* dQ = scale dS K */
    mff_small_gemm(N, hd, N, scale, dP, 1, N, q, ld, 0, dk, ld); /* dK = scale dS^T Q */
  } else {
    sgemm(NoTrans, NoTrans, N, hd, N, scale, dP, N, k, ld, 0.0f, dq, ld); /* dQ = scale dS K */
    sgemm(Trans, NoTrans, N, hd, N, scale, dP, N, q, ld, 0.0f, dk, ld);   /* dK = scale dS^T Q */
  }
}
static void attb_range(void *p, int64_t lo, int64_t hi) {
  const struct attb_ctx *c = p;
  float *dP = c->scratch + (lo == 0 ? 0 : (size_t)c->N * (c->N + c->hd)); /* par_for: [0, mid) here, [mid, n) on the worker */
  float *db = lo == 0 ? c->dbias : c->dbias2;
  for (int64_t i = lo; i < hi; i++) attb_item(c, i, dP, db);
}
int mff_attention_backward(const float *qkv, const float *probs, const float *dout, float *dqkv, float *dbias, int B, int N, int H, int hd, float scale) {
  float *scratch = malloc(sizeof(float) * 2 * (size_t)N * (N + hd)); /* per half: dP [N, N], then V^T [hd, N] */
  if (!scratch && N > 0) return -1;
  size_t nb = (size_t)H * N * N;
  float *dbias2 = dbias ? calloc(nb ? nb : 1, sizeof(float)) : NULL;
  if (dbias && !dbias2) { free(scratch); return -1; }
  if (dbias) memset(dbias, 0, sizeof(float) * nb);
  struct attb_ctx c = { qkv, probs, dout, dqkv, dbias, dbias2, scratch, N, H, hd, attn_small_gemm(N, hd), scale };
  int64_t items = (int64_t)B * H, mid = items / 2;
  int small = c.l1 || (int64_t)N * N * hd < ATTN_ITEM_SMALL;
  if (dbias) {
    /* d bias sums over the batch: items [0, mid) into dbias and [mid, items) into dbias2 (the halves the pool splits
     * at), then dbias += dbias2 — the same sums in the same order whether the halves run on one thread or two */
    if (small ? par_wanted(items, (int64_t)N * N * hd) : par_wanted(items, PAR_MIN)) {
      if (small) par_for(attb_range, &c, items, (int64_t)N * N * hd); else par_items(attb_range, &c, items);
    } else {
      attb_range(&c, 0, mid);
      if (mid < items) attb_range(&c, mid, items);
    }
    for (size_t t = 0; t < nb; t++) dbias[t] += dbias2[t];
    free(dbias2);
  }
  else if (small) par_for(attb_range, &c, items, (int64_t)N * N * hd);
  else par_items(attb_range, &c, items);
  free(scratch);
  return 0;
}

/* Row blocks of a fused row-wise pipeline (the FFN below, the large-M Linear forward): the rows in two halves (split
 * at a multiple of 8 fixed by M alone), each half in blocks of at most FUSE_RB rows; the halves run over the pool with
 * one-thread GEMMs (par_items), or one after the other: the same calls either way, so results do not depend on the
 * thread count. A block's GEMM output is still in L2 when its epilogue (bias, GELU) runs. */
#define FUSE_RB 128
struct rows_job { void (*block)(const void *ctx, int r0, int m); const void *ctx; int M; };
static int rows_mid(int M) { int mid = ((M / 2) + 7) & ~7; return mid > M ? M : mid; } /* where the second half starts */
static void rows_half(void *p, int64_t lo, int64_t hi) {
  const struct rows_job *j = p;
  int mid = rows_mid(j->M);
  for (int64_t half = lo; half < hi; half++) {
    int a = half == 0 ? 0 : mid, b = half == 0 ? mid : j->M, n = b - a;
    if (n <= 0) continue;
    int nb = (n + FUSE_RB - 1) / FUSE_RB, rb = (n + nb - 1) / nb;
    for (int r0 = a; r0 < b; r0 += rb) j->block(j->ctx, r0, b - r0 < rb ? b - r0 : rb);
  }
}
static void rows_run(void (*block)(const void *, int, int), const void *ctx, int M) {
  struct rows_job j = { block, ctx, M };
  if (M > 0) par_items(rows_half, &j, 2);
}
static inline void add_bias_rows(float *y, const float *b, int m, int N) {
  for (int r = 0; r < m; r++) { float *yr = y + (size_t)r * N; for (int j = 0; j < N; j++) yr[j] += b[j]; }
}

struct linb_ctx { const float *x, *w, *b; float *y; int K, N; };
static void linb_block(const void *p, int r0, int m) {
  const struct linb_ctx *c = p;
  float *y = c->y + (size_t)r0 * c->N;
  sgemm(NoTrans, NoTrans, m, c->N, c->K, 1.0f, c->x + (size_t)r0 * c->K, c->K, c->w, c->N, 0.0f, y, c->N);
  add_bias_rows(y, c->b, m, c->N);
}

struct ffn_ctx { const float *x, *w1, *b1, *w2, *b2, *h_in, *dy; float *h, *g, *y, *dh, *dx, *db1p[2], *db2p[2]; int K, H, N, mid; };
static void ffn_fwd_block(const void *p, int r0, int m) {
  const struct ffn_ctx *c = p; const int K = c->K, H = c->H, N = c->N;
  float *g = c->g + (size_t)r0 * H, *h = c->h ? c->h + (size_t)r0 * H : g;
  sgemm(NoTrans, NoTrans, m, H, K, 1.0f, c->x + (size_t)r0 * K, K, c->w1, H, 0.0f, h, H);
  for (int r = 0; r < m; r++) {
    float *hr = h + (size_t)r * H, *gr = g + (size_t)r * H;
    for (int j = 0; j < H; j++) { float v = hr[j] + c->b1[j]; hr[j] = v; gr[j] = gelu_f(v); }
  }
  float *y = c->y + (size_t)r0 * N;
  sgemm(NoTrans, NoTrans, m, N, H, 1.0f, g, H, c->w2, N, 0.0f, y, N);
  add_bias_rows(y, c->b2, m, N);
}
void mff_ffn_forward(const float *x, const float *w1, const float *b1, const float *w2, const float *b2, float *h, float *g, float *y,
                     int M, int K, int H, int N) {
  struct ffn_ctx c = { .x = x, .w1 = w1, .b1 = b1, .w2 = w2, .b2 = b2, .h = h, .g = g, .y = y, .K = K, .H = H, .N = N };
  rows_run(ffn_fwd_block, &c, M);
}
static inline void add_col_sums(float *acc, const float *x, int m, int n) {
  for (int r = 0; r < m; r++) { const float *xr = x + (size_t)r * n; for (int j = 0; j < n; j++) acc[j] += xr[j]; }
}
/* per row block: dh = (dy W2^T) * gelu'(h), dx = dh W1^T; the block's column sums of dy and dh (the bias gradients)
 * are added to its half's partial sums while both are in cache */
static void ffn_bwd_block(const void *p, int r0, int m) {
  const struct ffn_ctx *c = p; const int K = c->K, H = c->H, N = c->N, half = r0 >= c->mid;
  float *dh = c->dh + (size_t)r0 * H;
  const float *h = c->h_in + (size_t)r0 * H, *dy = c->dy + (size_t)r0 * N;
  sgemm(NoTrans, Trans, m, H, N, 1.0f, dy, N, c->w2, N, 0.0f, dh, H);
  for (size_t i = 0; i < (size_t)m * H; i++) dh[i] = gelu_grad_f(h[i], dh[i]);
  add_col_sums(c->db1p[half], dh, m, H);
  add_col_sums(c->db2p[half], dy, m, N);
  sgemm(NoTrans, Trans, m, K, H, 1.0f, dh, H, c->w1, H, 0.0f, c->dx + (size_t)r0 * K, K);
}
/* The bias gradients are the two halves' partial column sums added in order (rows_run's halves are fixed by M alone):
 * the same sums on one thread or two. Returns -1 when out of memory for them. */
int mff_ffn_backward(const float *x, const float *w1, const float *w2, const float *h, const float *g, const float *dy,
                     float *dx, float *dw1, float *db1, float *dw2, float *db2, float *dh, int M, int K, int H, int N) {
  float *part = calloc(2 * ((size_t)H + N), sizeof(float));
  if (!part) return -1;
  mff_linear_grad_w(g, dy, dw2, NULL, M, H, N);
  struct ffn_ctx c = { .w1 = w1, .w2 = w2, .h_in = h, .dy = dy, .dh = dh, .dx = dx, .K = K, .H = H, .N = N, .mid = rows_mid(M),
                       .db1p = { part, part + H }, .db2p = { part + 2 * H, part + 2 * H + N } };
  rows_run(ffn_bwd_block, &c, M);
  mff_linear_grad_w(x, dh, dw1, NULL, M, K, H);
  for (int j = 0; j < H; j++) db1[j] = c.db1p[0][j] + c.db1p[1][j];
  for (int j = 0; j < N; j++) db2[j] = c.db2p[0][j] + c.db2p[1][j];
  free(part);
  return 0;
}

struct rowfill_ctx { const float *row; float *out; int64_t N; };
static void rowfill_range(void *p, int64_t lo, int64_t hi) {
  const struct rowfill_ctx *c = p;
  for (int64_t r = lo; r < hi; r++) memcpy(c->out + r * c->N, c->row, sizeof(float) * (size_t)c->N);
}
struct colsum_ctx { const float *g; float *out; int64_t M, N; };
static void colsum_range(void *p, int64_t lo, int64_t hi) {
  const struct colsum_ctx *c = p;
  for (int64_t j = lo; j < hi; j++) c->out[j] = 0.f;
  for (int64_t r = 0; r < c->M; r++) { const float *g = c->g + r * c->N; for (int64_t j = lo; j < hi; j++) c->out[j] += g[j]; }
}
/* Small-M forward (M < LIN_SPLIT_M, e.g. one image's 257 tokens at evaluation): OpenBLAS's own two threads gain little
 * at this size, so the output columns are computed in two halves, over the pool when it runs (par_items) and one
 * after the other otherwise: the same calls either way, so the result does not depend on the thread count. */
#define LIN_SPLIT_M 1024
struct linf_ctx { const float *x, *w, *b; float *y; int M, K, N, c1; };
static void linf_half_range(void *p, int64_t lo, int64_t hi) {
  const struct linf_ctx *c = p;
  for (int64_t h = lo; h < hi; h++) {
    int c0 = h == 0 ? 0 : c->c1, c1 = h == 0 ? c->c1 : c->N, nc = c1 - c0;
    if (nc <= 0) continue;
    if (c->b) for (int r = 0; r < c->M; r++) memcpy(c->y + (size_t)r * c->N + c0, c->b + c0, sizeof(float) * (size_t)nc);
    sgemm(NoTrans, NoTrans, c->M, nc, c->K, 1.0f, c->x, c->K, c->w + c0, c->N, c->b ? 1.0f : 0.0f, c->y + c0, c->N);
  }
}
void mff_linear_forward(const float *x, const float *w, const float *b, float *y, int M, int K, int N) {
  if (K > 0 && M > 0 && N >= 64 && M < LIN_SPLIT_M) {
    struct linf_ctx c = { x, w, b, y, M, K, N, (N / 2) & ~15 };
    par_items(linf_half_range, &c, 2);
    return;
  }
  if (b && K > 0 && M > 0 && N > 0) { /* row blocks, bias added while the block is in L2 */
    struct linb_ctx c = { x, w, b, y, K, N };
    rows_run(linb_block, &c, M);
    return;
  }
  if (b) { struct rowfill_ctx c = { b, y, N }; par_for(rowfill_range, &c, M, N); } /* y rows = bias, then += x w */
  if (K > 0 && M > 0 && N > 0) sgemm(NoTrans, NoTrans, M, N, K, 1.0f, x, K, w, N, b ? 1.0f : 0.0f, y, N);
  else if (!b) memset(y, 0, sizeof(float) * (size_t)M * N);
}

void mff_linear_grad_x(const float *dy, const float *w, float *dx, int M, int K, int N) {
  if (N > 0 && M > 0 && K > 0) sgemm(NoTrans, Trans, M, K, N, 1.0f, dy, N, w, N, 0.0f, dx, K);
  else memset(dx, 0, sizeof(float) * (size_t)M * K);
}

void mff_linear_grad_w(const float *x, const float *dy, float *dw, float *db, int M, int K, int N) {
  if (M > 0 && K > 0 && N > 0) sgemm(Trans, NoTrans, K, N, M, 1.0f, x, K, dy, N, 0.0f, dw, N);
  else memset(dw, 0, sizeof(float) * (size_t)K * N);
  if (db) { /* column sums, the columns split over the pool (each column summed in row order: bitwise serial) */
    struct colsum_ctx c = { dy, db, M, N };
    par_for(colsum_range, &c, N, M);
  }
}

/* Train-mode BatchNorm over the rows of x [n, C] (NHWC with n = N·H·W). The per-channel sums are taken in double
 * over BN_CHUNKS fixed row chunks (the chunks split over the pool, their partial sums added in chunk order), so the
 * statistics do not depend on the thread count; the element-wise passes split over rows. */
#define BN_CHUNKS 8
struct bn_ctx {
  const float *x, *y, *dy; float *out; int64_t n, C; int relu;
  const double *mean; double *part, *part2; /* [BN_CHUNKS, C] each */
  const float *fa, *fb, *fm, *fr, *fdb, *fdw; float fn; /* per-channel float constants of the element-wise passes */
};
static int64_t bn_lo(int64_t n, int64_t k) { return n * k / BN_CHUNKS; }
static void bn_sum_range(void *p, int64_t lo, int64_t hi) { /* part[k] = Σ (x − s), part2[k] = Σ (x − s)² over chunk k; s = row 0 */
  const struct bn_ctx *c = p;
  for (int64_t k = lo; k < hi; k++) {
    double *s = c->part + k * c->C, *s2 = c->part2 + k * c->C;
    for (int64_t j = 0; j < c->C; j++) { s[j] = 0; s2[j] = 0; }
    for (int64_t r = bn_lo(c->n, k); r < bn_lo(c->n, k + 1); r++) {
      const float *xr = c->x + r * c->C;
      for (int64_t j = 0; j < c->C; j++) { double d = (double)xr[j] - c->mean[j]; s[j] += d; s2[j] += d * d; }
    }
  }
}
static void bn_apply_range(void *p, int64_t lo, int64_t hi) { /* y = (x − μ)·a + b, a = r·w; ReLU */
  const struct bn_ctx *c = p;
  for (int64_t r = lo; r < hi; r++) {
    const float *xr = c->x + r * c->C; float *yr = c->out + r * c->C;
    for (int64_t j = 0; j < c->C; j++) { float v = (xr[j] - c->fm[j]) * c->fa[j] + c->fb[j]; yr[j] = c->relu && v < 0.f ? 0.f : v; /* NaN passes, as tf.relu */ }
  }
}
static void bn_gsum_range(void *p, int64_t lo, int64_t hi) { /* part[k] = Σ g, part2[k] = Σ g·x̂ over chunk k */
  const struct bn_ctx *c = p;
  for (int64_t k = lo; k < hi; k++) {
    double *s = c->part + k * c->C, *s2 = c->part2 + k * c->C;
    for (int64_t j = 0; j < c->C; j++) { s[j] = 0; s2[j] = 0; }
    for (int64_t r = bn_lo(c->n, k); r < bn_lo(c->n, k + 1); r++) {
      const float *xr = c->x + r * c->C, *gr = c->dy + r * c->C, *yr = c->y ? c->y + r * c->C : NULL;
      for (int64_t j = 0; j < c->C; j++) {
        float g = yr && !(yr[j] > 0.f) ? 0.f : gr[j];
        s[j] += g; s2[j] += (double)g * ((xr[j] - c->fm[j]) * c->fr[j]);
      }
    }
  }
}
static void bn_dx_range(void *p, int64_t lo, int64_t hi) { /* dx = (w·r / n)(n·g − db − x̂·dw) */
  const struct bn_ctx *c = p;
  for (int64_t r = lo; r < hi; r++) {
    const float *xr = c->x + r * c->C, *gr = c->dy + r * c->C, *yr = c->y ? c->y + r * c->C : NULL; float *dxr = c->out + r * c->C;
    for (int64_t j = 0; j < c->C; j++) {
      float g = yr && !(yr[j] > 0.f) ? 0.f : gr[j];
      float xh = (xr[j] - c->fm[j]) * c->fr[j];
      dxr[j] = c->fa[j] * (c->fn * g - c->fdb[j] - xh * c->fdw[j]);
    }
  }
}
int mff_bn_train_forward(const float *x, const float *w, const float *b, float *y, float *mean, float *var, int64_t n, int64_t C, int relu, double eps) {
  /* one pass over x for both sums, shifted by the first row (c.mean = the shift here) so that the variance
   * E[(x - s)^2] - E[x - s]^2 does not cancel; double sums */
  double *part = malloc(sizeof(double) * 2 * BN_CHUNKS * (size_t)C), *shift = malloc(sizeof(double) * (size_t)C);
  float *fa = malloc(sizeof(float) * 2 * (size_t)C);
  if (!part || !shift || !fa) { free(part); free(shift); free(fa); return -1; }
  for (int64_t j = 0; j < C; j++) shift[j] = x[j];
  struct bn_ctx c = { .x = x, .out = y, .n = n, .C = C, .relu = relu, .mean = shift, .part = part, .part2 = part + BN_CHUNKS * C };
  par_for(bn_sum_range, &c, BN_CHUNKS, 2 * n * C / BN_CHUNKS);
  for (int64_t j = 0; j < C; j++) {
    double s1 = 0, s2 = 0; for (int k = 0; k < BN_CHUNKS; k++) { s1 += part[k * C + j]; s2 += c.part2[k * C + j]; }
    double d = s1 / (double)n, m = shift[j] + d, v = s2 / (double)n - d * d;
    if (v < 0) v = 0;
    mean[j] = (float)m; var[j] = (float)v;
    fa[j] = (float)(w[j] / sqrt(v + eps)); fa[C + j] = (float)m;
  }
  c.fa = fa; c.fm = fa + C; c.fb = b;
  par_for(bn_apply_range, &c, n, 3 * C);
  free(part); free(shift); free(fa);
  return 0;
}
int mff_bn_train_backward(const float *x, const float *w, const float *y, const float *dy, const float *mean, const float *var,
                          float *dx, float *dw, float *db, int64_t n, int64_t C, double eps) {
  double *part = malloc(sizeof(double) * 2 * BN_CHUNKS * (size_t)C);
  float *f = malloc(sizeof(float) * 3 * (size_t)C);
  if (!part || !f) { free(part); free(f); return -1; }
  float *fr = f, *fa = f + C;
  for (int64_t j = 0; j < C; j++) { double r = 1.0 / sqrt((double)var[j] + eps); fr[j] = (float)r; fa[j] = (float)(w[j] * r / (double)n); }
  struct bn_ctx c = { .x = x, .y = y, .dy = dy, .out = dx, .n = n, .C = C, .part = part, .part2 = part + BN_CHUNKS * C, .fm = mean, .fr = fr, .fa = fa };
  par_for(bn_gsum_range, &c, BN_CHUNKS, 4 * n * C / BN_CHUNKS);
  for (int64_t j = 0; j < C; j++) {
    double s = 0, s2 = 0; for (int k = 0; k < BN_CHUNKS; k++) { s += part[k * C + j]; s2 += c.part2[k * C + j]; }
    db[j] = (float)s; dw[j] = (float)s2;
  }
  c.fdb = db; c.fdw = dw; c.fn = (float)n;
  par_for(bn_dx_range, &c, n, 4 * C);
  free(part); free(f);
  return 0;
}

struct ce_ctx { const float *z; const int32_t *y; float *g; int64_t m, bad[2]; int K, ignore; float scale; double sum[2][3]; };
#define CE_L 16 /* rows per vector block when K is small: the row loops vectorise across rows, not along K */
/* rows [i0, i0 + CE_L) of a small K: each row's maximum, first maximum's class (am) and sum of e = exp(z - max), lanes
 * across rows; e is written to g when given */
static inline __attribute__((always_inline)) void ce_rows16(const float *z, int K, float *g, float *mx, int *am, float *s) {
  for (int l = 0; l < CE_L; l++) { mx[l] = z[(size_t)l * K]; am[l] = 0; s[l] = 0.f; }
  for (int k = 1; k < K; k++)
    for (int l = 0; l < CE_L; l++) { float v = z[(size_t)l * K + k]; int gt = v > mx[l]; mx[l] = gt ? v : mx[l]; am[l] = gt ? k : am[l]; }
  for (int k = 0; k < K; k++)
    for (int l = 0; l < CE_L; l++) {
      float e = fexp(z[(size_t)l * K + k] - mx[l]);
      if (g) g[(size_t)l * K + k] = e;
      s[l] += e;
    }
}
/* one row (any K): maximum, first maximum's class and sum of e = exp(z - max) in 16 lanes (row_sum16's order); e is
 * written to g when given */
static inline __attribute__((always_inline)) void ce_row(const float *zi, int K, float *g, float *mx, int *am, float *s) {
  float m = row_max16(zi, K), sm[16], t = 0.f; int a = 0, k = 0;
  while (a < K - 1 && !(zi[a] == m)) a++;
  for (int l = 0; l < 16; l++) sm[l] = 0.f;
  for (; k + 16 <= K; k += 16)
    for (int l = 0; l < 16; l++) {
      float e = fexp(zi[k + l] - m);
      if (g) g[k + l] = e;
      sm[l] += e;
    }
  for (; k < K; k++) { float e = fexp(zi[k] - m); if (g) g[k] = e; t += e; }
  for (int l = 0; l < 16; l++) t += sm[l];
  *mx = m; *am = a; *s = t;
}
static void ce_range(void *p, int64_t lo, int64_t hi) {
  struct ce_ctx *c = p; const int K = c->K; const int64_t mid = c->m / 2;
  for (int64_t half = lo; half < hi; half++) {
    int64_t r0 = half == 0 ? 0 : mid, r1 = half == 0 ? mid : c->m, bad = 0;
    double nll = 0, hit = 0, nv = 0;
    float mx[CE_L], s[CE_L]; int am[CE_L];
    for (int64_t i0 = r0; i0 < r1; i0 += CE_L) {
      int n = r1 - i0 < CE_L ? (int)(r1 - i0) : CE_L;
      const float *z0 = c->z + i0 * K;
      float *g0 = c->g ? c->g + i0 * K : NULL; /* each call below with g0 or a literal NULL: inlined without the branch */
      if (n == CE_L && K < 16) { if (g0) ce_rows16(z0, K, g0, mx, am, s); else ce_rows16(z0, K, NULL, mx, am, s); }
      else if (g0) for (int l = 0; l < n; l++) ce_row(z0 + (size_t)l * K, K, g0 + (size_t)l * K, mx + l, am + l, s + l);
      else for (int l = 0; l < n; l++) ce_row(z0 + (size_t)l * K, K, NULL, mx + l, am + l, s + l);
      for (int l = 0; l < n; l++) { /* the same per-row arithmetic on either path */
        const int64_t i = i0 + l; const float *zi = c->z + i * K; float *gi = c->g ? c->g + i * K : NULL; const int y = c->y[i];
        if (y == c->ignore || y < 0 || y >= K) {
          if (y != c->ignore && !bad) bad = i + 1;
          if (gi) memset(gi, 0, sizeof(float) * (size_t)K);
          continue;
        }
        if (gi) for (int k = 0; k < K; k++) gi[k] = (gi[k] / s[l] - (k == y ? 1.f : 0.f)) * c->scale; /* gi holds e */
        else {
          nll += (double)((zi[y] - mx[l]) - logf(s[l]));
          hit += am[l] == y;
          nv += 1;
        }
      }
    }
    c->sum[half][0] = nll; c->sum[half][1] = hit; c->sum[half][2] = nv; c->bad[half] = bad;
  }
}
int64_t mff_seg_ce(int mode, const float *z, const int32_t *y, float *out, int64_t m, int K, int ignore, float scale) {
  struct ce_ctx c = { z, y, mode == 1 ? out : NULL, m, { 0, 0 }, K, ignore, scale, { { 0, 0, 0 }, { 0, 0, 0 } } };
  if (m > 0 && K > 0) par_items(ce_range, &c, 2);
  if (mode == 0) for (int j = 0; j < 3; j++) out[j] = (float)(c.sum[0][j] + c.sum[1][j]);
  return c.bad[0] ? c.bad[0] : c.bad[1];
}
