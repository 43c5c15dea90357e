/*
 * mff native engine: N-API functions over the tfjs wasm heap. Every function takes the heap as a Float32Array
 * (or Int32Array) view of the whole wasm memory and element offsets into it; nothing is allocated or retained.
 * GEMM is OpenBLAS cblas_sgemm; the memory-bound loops are plain C (OpenMP when built with it).
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "mff_native: bad argument"); return NULL; } } while (0)

static void *typed_ptr(napi_env env, napi_value v, size_t *len) {
  napi_typedarray_type t; size_t n; void *data; napi_value ab; size_t off;
  if (napi_get_typedarray_info(env, v, &t, &n, &data, &ab, &off) != napi_ok) return NULL;
  if (len) *len = n;
  return data;
}
static int64_t get_i64(napi_env env, napi_value v) { int64_t x = 0; napi_get_value_int64(env, v, &x); return x; }

/* gemm(heap, offA:Int32Array, offB:Int32Array, offC:Int32Array, M, N, K, transA, transB)
 * C[b] (M x N) = op(A[b]) op(B[b]); A is [M,K] (or [K,M] when transA), B [K,N] (or [N,K]). */
static napi_value gemm(napi_env env, napi_callback_info info) {
  size_t argc = 9; napi_value a[9];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc < 9) { napi_throw_error(env, NULL, "gemm: 9 arguments expected"); return NULL; }
  float *heap = typed_ptr(env, a[0], NULL);
  size_t nb, nb2, nb3;
  int32_t *oa = typed_ptr(env, a[1], &nb), *ob = typed_ptr(env, a[2], &nb2), *oc = typed_ptr(env, a[3], &nb3);
  if (!heap || !oa || !ob || !oc || nb != nb2 || nb != nb3) { napi_throw_error(env, NULL, "gemm: bad arrays"); return NULL; }
  int M = (int)get_i64(env, a[4]), N = (int)get_i64(env, a[5]), K = (int)get_i64(env, a[6]);
  int ta = (int)get_i64(env, a[7]), tb = (int)get_i64(env, a[8]);
  int lda = ta ? M : K, ldb = tb ? K : N;
  for (size_t i = 0; i < nb; i++) {
    float *C = heap + (uint32_t)oc[i];
    if (K == 0) { memset(C, 0, sizeof(float) * (size_t)M * N); continue; }
    cblas_sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, M, N, K, 1.0f, heap + (uint32_t)oa[i], lda,
                heap + (uint32_t)ob[i], ldb, 0.0f, C, N);
  }
  return NULL;
}

/* transpose(heap, inOff, outOff, shape:Int32Array, perm:Int32Array): 4-byte elements, any rank <= 8 */
static napi_value transpose(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  uint32_t *heap = typed_ptr(env, a[0], NULL);
  size_t rank, rank2;
  uint32_t *src = heap + (uint32_t)get_i64(env, a[1]), *dst = heap + (uint32_t)get_i64(env, a[2]);
  int32_t *shape = typed_ptr(env, a[3], &rank), *perm = typed_ptr(env, a[4], &rank2);
  if (!heap || !shape || !perm || rank != rank2 || rank < 1 || rank > 8) { napi_throw_error(env, NULL, "transpose: bad arguments"); return NULL; }
  int64_t istr[8], oshape[8], ostr_in[8];
  int64_t s = 1;
  for (int d = (int)rank - 1; d >= 0; d--) { istr[d] = s; s *= shape[d]; }
  int64_t total = s;
  for (size_t d = 0; d < rank; d++) { oshape[d] = shape[perm[d]]; ostr_in[d] = istr[perm[d]]; }
  int r = (int)rank;
  int64_t inner = oshape[r - 1], instep = ostr_in[r - 1];
  int64_t rows = inner ? total / inner : 0;
  #pragma omp parallel for schedule(static) if (total > 65536)
  for (int64_t row = 0; row < rows; row++) {
    int64_t rem = row, base = 0;
    for (int d = r - 2; d >= 0; d--) { int64_t q = rem % oshape[d]; rem /= oshape[d]; base += q * ostr_in[d]; }
    uint32_t *o = dst + row * inner;
    const uint32_t *p = src + base;
    if (instep == 1) memcpy(o, p, sizeof(uint32_t) * inner);
    else for (int64_t j = 0; j < inner; j++) o[j] = p[j * instep];
  }
  return NULL;
}

/* softmax(heap, inOff, outOff, rows, cols): over the last axis, max-subtracted */
static napi_value softmax(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *heap = typed_ptr(env, a[0], NULL);
  if (!heap) { napi_throw_error(env, NULL, "softmax: bad heap"); return NULL; }
  const float *x = heap + (uint32_t)get_i64(env, a[1]);
  float *y = heap + (uint32_t)get_i64(env, a[2]);
  int64_t rows = get_i64(env, a[3]), cols = get_i64(env, a[4]);
  #pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols; float *yr = y + r * cols;
    float m = -INFINITY;
    for (int64_t j = 0; j < cols; j++) m = xr[j] > m ? xr[j] : m;
    float s = 0.f;
    for (int64_t j = 0; j < cols; j++) { float e = expf(xr[j] - m); yr[j] = e; s += e; }
    float inv = 1.f / s;
    for (int64_t j = 0; j < cols; j++) yr[j] *= inv;
  }
  return NULL;
}

/* unary(heap, op, inOff, outOff, n): op 0 = erf, 1 = exp */
static napi_value unary(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  float *heap = typed_ptr(env, a[0], NULL);
  if (!heap) { napi_throw_error(env, NULL, "unary: bad heap"); return NULL; }
  int op = (int)get_i64(env, a[1]);
  const float *x = heap + (uint32_t)get_i64(env, a[2]);
  float *y = heap + (uint32_t)get_i64(env, a[3]);
  int64_t n = get_i64(env, a[4]);
  if (op == 0) {
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) y[i] = erff(x[i]);
  } else {
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
  }
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value a[1];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc >= 1) openblas_set_num_threads((int)get_i64(env, a[0]));
  napi_value out; napi_create_int32(env, openblas_get_num_threads(), &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    {"gemm", NULL, gemm, NULL, NULL, NULL, napi_default, NULL},
    {"transpose", NULL, transpose, NULL, NULL, NULL, napi_default, NULL},
    {"softmax", NULL, softmax, NULL, NULL, NULL, napi_default, NULL},
    {"unary", NULL, unary, NULL, NULL, NULL, napi_default, NULL},
    {"threads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(d) / sizeof(d[0]), d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
