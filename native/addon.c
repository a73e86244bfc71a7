/*
 * Node-API binding of the native GEMM (loaded by src/node/native-backend.ts):
 *
 *   gemm(transA, transB, M, N, K, A, B, C, accumulate)   the Backend.gemm contract
 *   isa()            "avx512" | "avx2" | "portable": the float32 kernel in use
 *   setIsa(name)     use another kernel (tests, benchmarks); false when this CPU can't run it
 *   threads()        threads of the pool that fused recurrences and large GEMMs run on
 *   setThreads(n)    resize the pool (1 … 64); returns the count in effect
 *   recForward(code, T, B, H, reverse, Whh, bhh, pi, pf, po, xp, hs, cs, gates, aux)
 *   recBackward(code, T, B, H, reverse, Whh, pi, pf, po, hs, cs, gates, aux, dy, dh, dc, dxp,
 *               dWhh, dbhh, dpi, dpf, dpo)
 *                    the fused float32 recurrence (recurrence.h); code: 0/1/2 RNN tanh/sigmoid/relu,
 *                    3 + peephole + 2·coupled LSTM, 7 GRU, 8 GRU (Cho); unused arrays are null
 *   adam(p, g, m, v, n, shrink, l2, b1, b2, stepSize, sqrtCorrection2, eps[, backup])
 *   sgd(p, g, b, n, lr, wd, mu, nesterov, firstStep[, backup])     b: the momentum buffer or null
 *                    with backup (a Float32Array): p before the update is copied there, and the
 *                    call returns Σ p² after it (a guarded update, optim.h)
 *   sumSquares(x, n) → Σ x² (double)
 *   scale(x, n, s)   the float32 optimizer and gradient-norm kernels (optim.h), in place
 *   scatterAddRows(out, src, ids, width)   out[ids[n]] += src[n], rows of width floats (scatter.h)
 *   qgemv(q, scale, rows, cols, x, y, accumulate, packed?, bias?)   y (+)= scale ⊙ (q x) (+ bias), q int8 rows × cols (qgemv.h)
 *   bgemv(w, rows, cols, x, y, accumulate, packed?, bias?)   y (+)= w x (+ bias), w bfloat16 bits (Uint16Array) rows × cols
 *   qpack(q, rows, cols), bpack(w, rows, cols)   the matrix in the dot-product kernels' layout, for `packed`
 *   quantizedKernels() → { int8, bf16 }   the kernel names those two use now ("avx512-vnni", "avx512-bf16", or the ISA's)
 *   setQuantizedDot(on) → the previous setting: allow the dot-product instructions (tests reach the others with false)
 *   qlstmCell(H, gates, c, h)   batch-1 LSTM cell update from 4H pre-activations, c and h in place (recurrence.h)
 *   qlstmLayer(H, in, wih, scaleIh, x, whh, scaleHh, bias, gates, c, h, descending) → bool
 *                               a whole batch-1 LSTM layer step on packed int8 / bf16 weights (qgemv.h)
 *   qlstmPlan(H, layers, head?) → plan; qlstmStack(plan, row, gates, h, c) → layers done
 *                               every layer of a stacked LSTM in one call (qgemv.h)
 *   qlstmStep(plan, token, gates, h, c, logits) → L + 1 (or the layers done)
 *                               a whole sampling step from the head's table row to the logits
 *   qlstmSample(plan, token, gates, h, c, logits, u, temperature) → the next token (or −1 − layers done)
 *                               that step, then pickToken's choice with the draw u (pick.h)
 *   jsExp(x, out)               out ← e^x as V8's Math.exp computes it (pick.h)
 *
 * Arguments are validated here, once per call, and a bad call throws a TypeError or RangeError
 * instead of reading or writing out of bounds.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "gemm.h"
#include "pool.h"
#include "optim.h"
#include "recurrence.h"
#include "pick.h"
#include "scatter.h"
#include "qgemv.h"

#define CHECK_NAPI(env, call)                                                                                        \
  do {                                                                                                               \
    if ((call) != napi_ok) {                                                                                         \
      napi_throw_error((env), NULL, "unroll native: internal Node-API call failed: " #call);                       \
      return NULL;                                                                                                   \
    }                                                                                                                \
  } while (0)

static napi_value throw_type(napi_env env, const char *msg)
{
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *msg)
{
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

static int get_bool(napi_env env, napi_value v, const char *name, int *out)
{
  bool b;
  if (napi_get_value_bool(env, v, &b) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "gemm: %s must be a boolean", name);
    throw_type(env, msg);
    return 0;
  }
  *out = b;
  return 1;
}

static int get_dim(napi_env env, napi_value v, const char *name, int *out)
{
  double d;
  char msg[128];
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    snprintf(msg, sizeof msg, "gemm: %s must be a number", name);
    throw_type(env, msg);
    return 0;
  }
  if (!(d >= 0 && d <= INT32_MAX) || d != (double)(int32_t)d) {
    snprintf(msg, sizeof msg, "gemm: %s must be an integer in [0, 2^31), got %g", name, d);
    throw_range(env, msg);
    return 0;
  }
  *out = (int)d;
  return 1;
}

typedef struct {
  napi_typedarray_type type;
  size_t length;
  void *data;
} float_view;

static int get_view(napi_env env, napi_value v, const char *name, float_view *out)
{
  bool is_ta = false;
  char msg[128];
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    snprintf(msg, sizeof msg, "gemm: %s must be a Float32Array or Float64Array", name);
    throw_type(env, msg);
    return 0;
  }
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &out->type, &out->length, &out->data, &buffer, &offset) != napi_ok) {
    napi_throw_error(env, NULL, "unroll native: napi_get_typedarray_info failed");
    return 0;
  }
  if (out->type != napi_float32_array && out->type != napi_float64_array) {
    snprintf(msg, sizeof msg, "gemm: %s must be a Float32Array or Float64Array", name);
    throw_type(env, msg);
    return 0;
  }
  return 1;
}

static int too_short(napi_env env, const char *name, const char *shape, uint64_t need, size_t have)
{
  char msg[160];
  snprintf(msg, sizeof msg, "gemm: %s holds %zu elements but op needs %s = %llu", name, have, shape,
           (unsigned long long)need);
  throw_range(env, msg);
  return 1;
}

static int overlaps(const void *p, uint64_t pbytes, const void *q, uint64_t qbytes)
{
  const uintptr_t a = (uintptr_t)p, b = (uintptr_t)q;
  return pbytes > 0 && qbytes > 0 && a < b + qbytes && b < a + pbytes;
}

/* Argument `name` of `fn`: a typed array of type `want` (`kind` says which, for the TypeError). */
static int get_typed(napi_env env, napi_value v, napi_typedarray_type want, const char *fn, const char *name,
                     const char *kind, size_t *len, void **data)
{
  char msg[160];
  bool is_ta = false;
  napi_typedarray_type type;
  size_t off;
  napi_value buf;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, data, &buf, &off) != napi_ok || type != want) {
    snprintf(msg, sizeof msg, "%s: %s must be %s", fn, name, kind);
    throw_type(env, msg);
    return 0;
  }
  return 1;
}

static napi_value Gemm(napi_env env, napi_callback_info info)
{
  size_t argc = 10;
  napi_value argv[10];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) return throw_type(env, "gemm(transA, transB, M, N, K, A, B, C, accumulate[, bias]) takes 9 or 10 arguments");

  int transA, transB, M, N, K, accumulate;
  float_view A, B, C;
  if (!get_bool(env, argv[0], "transA", &transA) || !get_bool(env, argv[1], "transB", &transB) ||
      !get_dim(env, argv[2], "M", &M) || !get_dim(env, argv[3], "N", &N) || !get_dim(env, argv[4], "K", &K) ||
      !get_view(env, argv[5], "A", &A) || !get_view(env, argv[6], "B", &B) || !get_view(env, argv[7], "C", &C) ||
      !get_bool(env, argv[8], "accumulate", &accumulate))
    return NULL;
  if (A.type != C.type || B.type != C.type) return throw_type(env, "gemm: A, B and C must share one element type");

  const uint64_t nA = (uint64_t)M * K, nB = (uint64_t)K * N, nC = (uint64_t)M * N;
  if (nA > A.length) return too_short(env, "A", "M·K", nA, A.length), NULL;
  if (nB > B.length) return too_short(env, "B", "K·N", nB, B.length), NULL;
  if (nC > C.length) return too_short(env, "C", "M·N", nC, C.length), NULL;

  const uint64_t size = C.type == napi_float32_array ? 4 : 8;
  if (overlaps(C.data, nC * size, A.data, nA * size) || overlaps(C.data, nC * size, B.data, nB * size))
    return throw_range(env, "gemm: C must not overlap A or B");

  /* bias: a Float32Array of ≥ N (C = bias + op(A)·op(B) per row), only without accumulate; float32 only */
  const float *bias = NULL;
  napi_valuetype bt = napi_undefined;
  if (argc > 9) CHECK_NAPI(env, napi_typeof(env, argv[9], &bt));
  if (bt != napi_undefined && bt != napi_null) {
    float_view bv;
    if (!get_view(env, argv[9], "bias", &bv)) return NULL;
    if (bv.type != napi_float32_array || C.type != napi_float32_array)
      return throw_type(env, "gemm: a bias needs float32 C and bias");
    if (accumulate) return throw_range(env, "gemm: a bias is added only when not accumulating");
    if ((uint64_t)N > bv.length) return too_short(env, "bias", "N", (uint64_t)N, bv.length), NULL;
    if (overlaps(C.data, nC * size, bv.data, (uint64_t)N * size)) return throw_range(env, "gemm: C must not overlap the bias");
    bias = (const float *)bv.data;
  }

  if (C.type == napi_float32_array) {
    if (unroll_sgemm_parallel_bias(transA, transB, M, N, K, (const float *)A.data, transA ? M : K,
                                   (const float *)B.data, transB ? K : N, (float *)C.data, N, accumulate, bias) != 0) {
      napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "gemm: out of memory for the packing scratch");
      return NULL;
    }
  } else {
    unroll_dgemm(transA, transB, M, N, K, (const double *)A.data, (const double *)B.data, (double *)C.data,
                 accumulate);
  }
  return NULL;
}

static napi_value Isa(napi_env env, napi_callback_info info)
{
  (void)info;
  napi_value out;
  CHECK_NAPI(env, napi_create_string_utf8(env, unroll_isa_name(unroll_current_isa()), NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value Peak(napi_env env, napi_callback_info info)
{
  size_t argc = 1;
  napi_value arg;
  double seconds = 0.3;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
  if (argc >= 1 && (napi_get_value_double(env, arg, &seconds) != napi_ok || !(seconds > 0 && seconds <= 10))) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "peakGflops(seconds): seconds must be a number in (0, 10]");
    return NULL;
  }
  napi_value out;
  CHECK_NAPI(env, napi_create_double(env, unroll_peak_gflops(seconds), &out));
  return out;
}

static napi_value Bandwidth(napi_env env, napi_callback_info info)
{
  size_t argc = 3;
  napi_value args[3];
  double bytes = 0, seconds = 0.3, threads = 1;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 1 || napi_get_value_double(env, args[0], &bytes) != napi_ok || !(bytes >= 4096 && bytes <= 4294967296.0) ||
      (argc >= 2 && (napi_get_value_double(env, args[1], &seconds) != napi_ok || !(seconds > 0 && seconds <= 10))) ||
      (argc >= 3 && (napi_get_value_double(env, args[2], &threads) != napi_ok || !(threads >= 1 && threads <= 64) ||
                     threads != (int)threads))) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "readBandwidth(bytes, seconds, threads): bytes must be in [4096, 2^32], seconds in (0, 10] and threads an integer in [1, 64]");
    return NULL;
  }
  napi_value out;
  CHECK_NAPI(env, napi_create_double(env, unroll_read_bandwidth(bytes, seconds, (int)threads), &out));
  return out;
}

/* One typed array argument of softmaxXent: its kind, and at least `need` elements. */
static int get_xent_array(napi_env env, napi_value v, napi_typedarray_type want, const char *name, const char *kind,
                          uint64_t need, const char *short_msg, void **data)
{
  char msg[128];
  size_t len;
  if (!get_typed(env, v, want, "softmaxXent", name, kind, &len, data)) return 0;
  if ((uint64_t)len < need) {
    snprintf(msg, sizeof msg, "softmaxXent: %s", short_msg);
    throw_range(env, msg);
    return 0;
  }
  return 1;
}

/* softmaxXent(logits: Float32Array, targets: Int32Array, N, V, dlogits: Float32Array | null, ignore, scale) */
static napi_value SoftmaxXent(napi_env env, napi_callback_info info)
{
  size_t argc = 7;
  napi_value argv[7];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 7) return throw_type(env, "softmaxXent: expected 7 arguments (logits, targets, N, V, dlogits, ignore, scale)");
  int N, V;
  double ignore_d, scale_d;
  if (!get_dim(env, argv[2], "N", &N) || !get_dim(env, argv[3], "V", &V)) return NULL;
  if (napi_get_value_double(env, argv[5], &ignore_d) != napi_ok || ignore_d != (double)(int32_t)ignore_d)
    return throw_type(env, "softmaxXent: ignore must be an int32");
  if (napi_get_value_double(env, argv[6], &scale_d) != napi_ok || !(scale_d >= 0 && scale_d <= 1))
    return throw_range(env, "softmaxXent: scale must be a number in [0, 1]");
  const float *logits;
  const int *targets;
  float *dlogits = NULL;
  if (!get_xent_array(env, argv[0], napi_float32_array, "logits", "a Float32Array", (uint64_t)N * V,
                      "logits holds fewer than N·V values", (void **)&logits) ||
      !get_xent_array(env, argv[1], napi_int32_array, "targets", "an Int32Array", (uint64_t)N,
                      "targets holds fewer than N values", (void **)&targets))
    return NULL;
  const int ignore = (int)ignore_d;
  for (int n = 0; n < N; n++)
    if (targets[n] != ignore && (targets[n] < 0 || targets[n] >= V))
      return throw_range(env, "softmaxXent: a target is out of range [0, V) and not the ignore index");
  napi_valuetype vt;
  CHECK_NAPI(env, napi_typeof(env, argv[4], &vt));
  if (vt != napi_null) {
    if (!get_xent_array(env, argv[4], napi_float32_array, "dlogits", "a Float32Array or null", (uint64_t)N * V,
                        "dlogits holds fewer than N·V values", (void **)&dlogits))
      return NULL;
    if (overlaps(dlogits, (uint64_t)N * V * 4, logits, (uint64_t)N * V * 4))
      return throw_range(env, "softmaxXent: dlogits must not overlap logits");
  }
  napi_value out;
  CHECK_NAPI(env, napi_create_double(env, unroll_softmax_xent(logits, targets, N, V, dlogits, ignore, (float)scale_d), &out));
  return out;
}

static napi_value SetIsa(napi_env env, napi_callback_info info)
{
  size_t argc = 1;
  napi_value arg;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
  char name[16] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, arg, name, sizeof name, &len) != napi_ok)
    return throw_type(env, "setIsa(name): name must be \"avx512\", \"avx2\" or \"portable\"");
  unroll_isa isa;
  if (strcmp(name, "avx512") == 0)
    isa = UNROLL_ISA_AVX512;
  else if (strcmp(name, "avx2") == 0)
    isa = UNROLL_ISA_AVX2;
  else if (strcmp(name, "portable") == 0)
    isa = UNROLL_ISA_PORTABLE;
  else
    return throw_range(env, "setIsa(name): name must be \"avx512\", \"avx2\" or \"portable\"");
  napi_value out;
  CHECK_NAPI(env, napi_get_boolean(env, unroll_set_isa(isa) != 0, &out));
  return out;
}

static napi_value Threads(napi_env env, napi_callback_info info)
{
  (void)info;
  napi_value out;
  CHECK_NAPI(env, napi_create_int32(env, unroll_pool_threads(), &out));
  return out;
}

static napi_value SetThreads(napi_env env, napi_callback_info info)
{
  size_t argc = 1;
  napi_value arg;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
  double d;
  if (argc < 1 || napi_get_value_double(env, arg, &d) != napi_ok)
    return throw_type(env, "setThreads(n): n must be a number");
  if (!(d >= 1 && d <= UNROLL_MAX_THREADS) || d != (double)(int)d)
    return throw_range(env, "setThreads(n): n must be an integer in [1, 64]");
  napi_value out;
  CHECK_NAPI(env, napi_create_int32(env, unroll_pool_set_threads((int)d), &out));
  return out;
}

/* ---------------------------------------------------------------------------------------------
 * The fused recurrence. Every array is checked (Float32Array, long enough, or null where the cell
 * has no use for it) and all of them must be pairwise disjoint.
 */
typedef struct {
  const char *name;
  uint64_t need;  /* elements; 0 with `optional`: must be null (or may be, when optional == 2) */
  int optional;   /* 0: required; 1: null when need == 0; 2: may be null (dy) */
  float *data;
  size_t bytes;
} rec_arg;

static int get_rec_arg(napi_env env, napi_value v, rec_arg *a)
{
  char msg[192];
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return throw_type(env, "recurrence: bad argument"), 0;
  a->data = NULL;
  a->bytes = 0;
  if (t == napi_null || t == napi_undefined) {
    if (a->optional == 2 || (a->optional == 1 && a->need == 0)) return 1;
    snprintf(msg, sizeof msg, "recurrence: %s must be a Float32Array, got null", a->name);
    throw_type(env, msg);
    return 0;
  }
  bool is_ta = false;
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value buffer;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset) != napi_ok ||
      type != napi_float32_array) {
    snprintf(msg, sizeof msg, "recurrence: %s must be a Float32Array", a->name);
    throw_type(env, msg);
    return 0;
  }
  if (length < a->need) {
    snprintf(msg, sizeof msg, "recurrence: %s holds %zu elements but needs %llu", a->name, length,
             (unsigned long long)a->need);
    throw_range(env, msg);
    return 0;
  }
  a->data = (float *)data;
  a->bytes = a->need * sizeof(float);
  return 1;
}

/* Reads code, T, B, H, reverse into r; returns G, or 0 after throwing. */
static int get_rec_head(napi_env env, napi_value *argv, unroll_rec *r)
{
  int code, T, B, H, reverse;
  if (!get_dim(env, argv[0], "code", &code) || !get_dim(env, argv[1], "T", &T) || !get_dim(env, argv[2], "B", &B) ||
      !get_dim(env, argv[3], "H", &H) || !get_bool(env, argv[4], "reverse", &reverse))
    return 0;
  if (code > 8) return throw_range(env, "recurrence: code must be in [0, 8]"), 0;
  if (((uint64_t)T + 1) * B * H * 4 > ((uint64_t)1 << 34) || (uint64_t)H * H * 4 > ((uint64_t)1 << 34))
    return throw_range(env, "recurrence: sizes too large"), 0;
  memset(r, 0, sizeof *r);
  if (code <= 2) {
    r->kind = UNROLL_RNN;
    r->act = code;
  } else if (code <= 6) {
    r->kind = UNROLL_LSTM;
    r->peephole = (code - 3) & 1;
    r->coupled = ((code - 3) >> 1) & 1;
  } else {
    r->kind = UNROLL_GRU;
    r->reset_after = code == 7;
  }
  r->T = T, r->B = B, r->H = H, r->reverse = reverse;
  return unroll_rec_gates(r);
}

static int check_disjoint(napi_env env, const rec_arg *a, int n)
{
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (a[i].data && a[j].data && overlaps(a[i].data, a[i].bytes, a[j].data, a[j].bytes)) {
        char msg[160];
        snprintf(msg, sizeof msg, "recurrence: %s and %s must not overlap", a[i].name, a[j].name);
        throw_range(env, msg);
        return 0;
      }
  return 1;
}

static napi_value RecForward(napi_env env, napi_callback_info info)
{
  size_t argc = 15;
  napi_value argv[15];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 15) return throw_type(env, "recForward takes 15 arguments");
  unroll_rec r;
  const int G = get_rec_head(env, argv, &r);
  if (!G) return NULL;
  const uint64_t T = r.T, B = r.B, H = r.H, GH = (uint64_t)G * H;
  const int lstm = r.kind == UNROLL_LSTM, cached = r.kind != UNROLL_RNN;
  rec_arg a[] = {
      {"Whh", GH * H, 0, NULL, 0},
      {"bhh", GH, 0, NULL, 0},
      {"pi", r.peephole && !r.coupled ? H : 0, 1, NULL, 0},
      {"pf", r.peephole ? H : 0, 1, NULL, 0},
      {"po", r.peephole ? H : 0, 1, NULL, 0},
      {"xp", T * B * GH, 0, NULL, 0},
      {"hs", (T + 1) * B * H, 0, NULL, 0},
      {"cs", lstm ? (T + 1) * B * H : 0, 1, NULL, 0},
      {"gates", cached ? T * B * GH : 0, 1, NULL, 0},
      {"aux", cached ? T * B * H : 0, 1, NULL, 0},
  };
  const int n = (int)(sizeof a / sizeof a[0]);
  for (int i = 0; i < n; i++)
    if (!get_rec_arg(env, argv[5 + i], &a[i])) return NULL;
  if (!check_disjoint(env, a, n)) return NULL;
  r.Whh = a[0].data, r.bhh = a[1].data, r.pi = a[2].data, r.pf = a[3].data, r.po = a[4].data;
  r.xp = a[5].data, r.hs = a[6].data, r.cs = a[7].data, r.gates = a[8].data, r.aux = a[9].data;
  if (unroll_rec_forward(&r) != 0) {
    napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "recForward: out of memory for the scratch");
    return NULL;
  }
  return NULL;
}

static napi_value RecBackward(napi_env env, napi_callback_info info)
{
  size_t argc = 22;
  napi_value argv[22];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 22) return throw_type(env, "recBackward takes 22 arguments");
  unroll_rec r;
  const int G = get_rec_head(env, argv, &r);
  if (!G) return NULL;
  const uint64_t T = r.T, B = r.B, H = r.H, GH = (uint64_t)G * H;
  const int lstm = r.kind == UNROLL_LSTM, cached = r.kind != UNROLL_RNN;
  const uint64_t nPi = r.peephole && !r.coupled ? H : 0, nP = r.peephole ? H : 0;
  rec_arg a[] = {
      {"Whh", GH * H, 0, NULL, 0},
      {"pi", nPi, 1, NULL, 0},
      {"pf", nP, 1, NULL, 0},
      {"po", nP, 1, NULL, 0},
      {"hs", (T + 1) * B * H, 0, NULL, 0},
      {"cs", lstm ? (T + 1) * B * H : 0, 1, NULL, 0},
      {"gates", cached ? T * B * GH : 0, 1, NULL, 0},
      {"aux", cached ? T * B * H : 0, 1, NULL, 0},
      {"dy", T * B * H, 2, NULL, 0},
      {"dh", B * H, 0, NULL, 0},
      {"dc", lstm ? B * H : 0, 1, NULL, 0},
      {"dxp", T * B * GH, 0, NULL, 0},
      {"dWhh", GH * H, 0, NULL, 0},
      {"dbhh", GH, 0, NULL, 0},
      {"dpi", nPi, 1, NULL, 0},
      {"dpf", nP, 1, NULL, 0},
      {"dpo", nP, 1, NULL, 0},
  };
  const int n = (int)(sizeof a / sizeof a[0]);
  for (int i = 0; i < n; i++)
    if (!get_rec_arg(env, argv[5 + i], &a[i])) return NULL;
  if (!check_disjoint(env, a, n)) return NULL;
  r.Whh = a[0].data, r.pi = a[1].data, r.pf = a[2].data, r.po = a[3].data;
  r.hs = a[4].data, r.cs = a[5].data, r.gates = a[6].data, r.aux = a[7].data;
  r.dy = a[8].data, r.dh = a[9].data, r.dc = a[10].data, r.dxp = a[11].data;
  r.dWhh = a[12].data, r.dbhh = a[13].data, r.dpi = a[14].data, r.dpf = a[15].data, r.dpo = a[16].data;
  if (unroll_rec_backward(&r) != 0) {
    napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "recBackward: out of memory for the scratch");
    return NULL;
  }
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The optimizer kernels. Every array is a Float32Array of at least n elements (the momentum buffer
 * of sgd may be null), and the arrays of one call are pairwise disjoint.
 */
typedef struct {
  const char *name;
  int nullable;
  float *data;
} optim_arg;

/* n: an integer in [0, 2^53). */
static int get_optim_n(napi_env env, const char *fn, napi_value v, uint64_t *n)
{
  char msg[128];
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    snprintf(msg, sizeof msg, "%s: n must be a number", fn);
    throw_type(env, msg);
    return 0;
  }
  if (!(d >= 0 && d < 9007199254740992.0) || d != (double)(uint64_t)d) {
    snprintf(msg, sizeof msg, "%s: n must be an integer ≥ 0, got %g", fn, d);
    throw_range(env, msg);
    return 0;
  }
  *n = (uint64_t)d;
  return 1;
}

static int get_optim_array(napi_env env, const char *fn, napi_value v, uint64_t n, optim_arg *a)
{
  char msg[160];
  napi_valuetype t;
  a->data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return throw_type(env, "optimizer kernel: bad argument"), 0;
  if (a->nullable && t == napi_null) return 1;
  size_t length;
  void *data;
  if (!get_typed(env, v, napi_float32_array, fn, a->name, a->nullable ? "a Float32Array or null" : "a Float32Array",
                 &length, &data))
    return 0;
  if ((uint64_t)length < n) {
    snprintf(msg, sizeof msg, "%s: %s holds %zu elements but n = %llu", fn, a->name, length, (unsigned long long)n);
    throw_range(env, msg);
    return 0;
  }
  a->data = (float *)data;
  return 1;
}

/* Reads `count` arrays from argv and checks that they are pairwise disjoint over n elements. */
static int get_optim_arrays(napi_env env, const char *fn, napi_value *argv, uint64_t n, optim_arg *a, int count)
{
  for (int i = 0; i < count; i++)
    if (!get_optim_array(env, fn, argv[i], n, &a[i])) return 0;
  for (int i = 0; i < count; i++)
    for (int j = i + 1; j < count; j++)
      if (a[i].data && a[j].data && overlaps(a[i].data, n * 4, a[j].data, n * 4)) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s: %s and %s must not overlap", fn, a[i].name, a[j].name);
        throw_range(env, msg);
        return 0;
      }
  return 1;
}

/*
 * The optional last argument of adam and sgd, `backup` (a Float32Array or null), into *backup: it
 * must hold n elements and overlap none of the `count` arrays already read.
 */
static int get_optim_backup(napi_env env, const char *fn, napi_value v, uint64_t n, const optim_arg *a, int count,
                            float **backup)
{
  optim_arg b = {"backup", 1, NULL};
  if (!get_optim_array(env, fn, v, n, &b)) return 0;
  for (int i = 0; i < count && b.data; i++)
    if (a[i].data && overlaps(a[i].data, n * 4, b.data, n * 4)) {
      char msg[128];
      snprintf(msg, sizeof msg, "%s: backup and %s must not overlap", fn, a[i].name);
      throw_range(env, msg);
      return 0;
    }
  *backup = b.data;
  return 1;
}

/* What a guarded update returns: Σ p² after it; undefined when it was not guarded. */
static napi_value guarded_result(napi_env env, const float *backup, double sum)
{
  napi_value out;
  if (!backup) CHECK_NAPI(env, napi_get_undefined(env, &out));
  else CHECK_NAPI(env, napi_create_double(env, sum, &out));
  return out;
}

/* `count` numbers from argv into out, named for errors. */
static int get_optim_numbers(napi_env env, const char *fn, napi_value *argv, const char *const *names, double *out,
                             int count)
{
  for (int i = 0; i < count; i++)
    if (napi_get_value_double(env, argv[i], &out[i]) != napi_ok) {
      char msg[128];
      snprintf(msg, sizeof msg, "%s: %s must be a number", fn, names[i]);
      throw_type(env, msg);
      return 0;
    }
  return 1;
}

static int get_optim_bool(napi_env env, const char *fn, napi_value v, const char *name, int *out)
{
  bool b;
  if (napi_get_value_bool(env, v, &b) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: %s must be a boolean", fn, name);
    throw_type(env, msg);
    return 0;
  }
  *out = b;
  return 1;
}

/* adam(p, g, m, v, n, shrink, l2, b1, b2, stepSize, sqrtCorrection2, eps[, backup]) */
static napi_value Adam(napi_env env, napi_callback_info info)
{
  size_t argc = 13;
  napi_value argv[13];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 12 && argc != 13)
    return throw_type(env, "adam: expected 12 or 13 arguments (p, g, m, v, n, shrink, l2, b1, b2, stepSize, sqrtCorrection2, eps[, backup])");
  static const char *const names[] = {"shrink", "l2", "b1", "b2", "stepSize", "sqrtCorrection2", "eps"};
  uint64_t n;
  optim_arg a[] = {{"p", 0, NULL}, {"g", 0, NULL}, {"m", 0, NULL}, {"v", 0, NULL}};
  double s[7];
  if (!get_optim_n(env, "adam", argv[4], &n) || !get_optim_arrays(env, "adam", argv, n, a, 4) ||
      !get_optim_numbers(env, "adam", argv + 5, names, s, 7))
    return NULL;
  float *backup = NULL;
  if (argc == 13 && !get_optim_backup(env, "adam", argv[12], n, a, 4, &backup)) return NULL;
  const double sum = unroll_adam(a[0].data, a[1].data, a[2].data, a[3].data, backup, (size_t)n, s[0], s[1], s[2],
                                 s[3], s[4], s[5], s[6]);
  return guarded_result(env, backup, sum);
}

/* sgd(p, g, b | null, n, lr, wd, mu, nesterov, firstStep[, backup]) */
static napi_value Sgd(napi_env env, napi_callback_info info)
{
  size_t argc = 10;
  napi_value argv[10];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 9 && argc != 10)
    return throw_type(env, "sgd: expected 9 or 10 arguments (p, g, b, n, lr, wd, mu, nesterov, firstStep[, backup])");
  static const char *const names[] = {"lr", "wd", "mu"};
  uint64_t n;
  optim_arg a[] = {{"p", 0, NULL}, {"g", 0, NULL}, {"b", 1, NULL}};
  double s[3];
  int nesterov, firstStep;
  if (!get_optim_n(env, "sgd", argv[3], &n) || !get_optim_arrays(env, "sgd", argv, n, a, 3) ||
      !get_optim_numbers(env, "sgd", argv + 4, names, s, 3) ||
      !get_optim_bool(env, "sgd", argv[7], "nesterov", &nesterov) ||
      !get_optim_bool(env, "sgd", argv[8], "firstStep", &firstStep))
    return NULL;
  float *backup = NULL;
  if (argc == 10 && !get_optim_backup(env, "sgd", argv[9], n, a, 3, &backup)) return NULL;
  const double sum = unroll_sgd(a[0].data, a[1].data, a[2].data, backup, (size_t)n, s[0], s[1], s[2], nesterov, firstStep);
  return guarded_result(env, backup, sum);
}

/* sumSquares(x, n) */
static napi_value SumSquares(napi_env env, napi_callback_info info)
{
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 2) return throw_type(env, "sumSquares: expected 2 arguments (x, n)");
  uint64_t n;
  optim_arg x = {"x", 0, NULL};
  if (!get_optim_n(env, "sumSquares", argv[1], &n) || !get_optim_array(env, "sumSquares", argv[0], n, &x)) return NULL;
  napi_value out;
  CHECK_NAPI(env, napi_create_double(env, unroll_sum_squares(x.data, (size_t)n), &out));
  return out;
}

/* scale(x, n, s) */
static napi_value Scale(napi_env env, napi_callback_info info)
{
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 3) return throw_type(env, "scale: expected 3 arguments (x, n, s)");
  static const char *const names[] = {"s"};
  uint64_t n;
  optim_arg x = {"x", 0, NULL};
  double s;
  if (!get_optim_n(env, "scale", argv[1], &n) || !get_optim_array(env, "scale", argv[0], n, &x) ||
      !get_optim_numbers(env, "scale", argv + 2, names, &s, 1))
    return NULL;
  unroll_scale(x.data, (size_t)n, s);
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * scatterAddRows(out: Float32Array, src: Float32Array, ids: Int32Array, width): for n ascending,
 * row ids[n] of out += row n of src. src holds ≥ ids.length·width values, every id is a row of out
 * ([0, out.length / width)), and out overlaps neither src nor ids (a write must not change an id
 * after the check). Width 0 does nothing.
 */
static napi_value ScatterAddRows(napi_env env, napi_callback_info info)
{
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 4) return throw_type(env, "scatterAddRows: expected 4 arguments (out, src, ids, width)");
  float *out;
  const float *src;
  const int *ids;
  size_t nOut, nSrc, N;
  int width;
  if (!get_typed(env, argv[0], napi_float32_array, "scatterAddRows", "out", "a Float32Array", &nOut, (void **)&out) ||
      !get_typed(env, argv[1], napi_float32_array, "scatterAddRows", "src", "a Float32Array", &nSrc, (void **)&src) ||
      !get_typed(env, argv[2], napi_int32_array, "scatterAddRows", "ids", "an Int32Array", &N, (void **)&ids) ||
      !get_dim(env, argv[3], "width", &width))
    return NULL;
  if (width == 0) return NULL;
  char msg[192];
  const uint64_t need = (uint64_t)N * width;
  if (nSrc < need) {
    snprintf(msg, sizeof msg, "scatterAddRows: src holds %zu values but ids.length·width = %llu", nSrc,
             (unsigned long long)need);
    return throw_range(env, msg);
  }
  const size_t rows = nOut / (size_t)width;
  for (size_t n = 0; n < N; n++)
    if (ids[n] < 0 || (size_t)ids[n] >= rows) {
      snprintf(msg, sizeof msg, "scatterAddRows: ids[%zu] = %d is out of range [0, %zu) (out holds %zu rows of %d)", n,
               ids[n], rows, rows, width);
      return throw_range(env, msg);
    }
  if (overlaps(out, (uint64_t)nOut * 4, src, need * 4) || overlaps(out, (uint64_t)nOut * 4, ids, (uint64_t)N * 4))
    return throw_range(env, "scatterAddRows: out must not overlap src or ids");
  unroll_scatter_add_rows(out, src, ids, N, (size_t)width);
  return NULL;
}

/* fill(x: Float32Array, row: Float32Array | null): x ← copies of row (x.length a multiple of
 * row.length), or zeros; x and row must not overlap. */
/* An optional operand: null/undefined, or a typed array of `type` with at least `need` elements. */
static int get_optional_typed(napi_env env, napi_value v, napi_typedarray_type type, const char *fn, const char *name,
                      const char *what, size_t need, void **out)
{
  napi_valuetype t;
  *out = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) return 1;
  size_t n;
  if (!get_typed(env, v, type, fn, name, what, &n, out)) return 0;
  if (n < need) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: %s needs %zu elements, got %zu", fn, name, need, n);
    throw_range(env, msg);
    return 0;
  }
  return 1;
}

static napi_value Qgemv(napi_env env, napi_callback_info info)
{
  size_t argc = 9;
  napi_value argv[9];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7 || argc > 9) return throw_type(env, "qgemv: expected 7 to 9 arguments (q, scale, rows, cols, x, y, accumulate, packed, bias)");
  const int8_t *q;
  const float *scale, *x;
  float *y;
  void *packed = NULL;
  size_t nq, ns, nx, ny;
  int rows, cols, accumulate;
  if (!get_typed(env, argv[0], napi_int8_array, "qgemv", "q", "an Int8Array", &nq, (void **)&q) ||
      !get_typed(env, argv[1], napi_float32_array, "qgemv", "scale", "a Float32Array", &ns, (void **)&scale) ||
      !get_dim(env, argv[2], "rows", &rows) || !get_dim(env, argv[3], "cols", &cols) ||
      !get_typed(env, argv[4], napi_float32_array, "qgemv", "x", "a Float32Array", &nx, (void **)&x) ||
      !get_typed(env, argv[5], napi_float32_array, "qgemv", "y", "a Float32Array", &ny, (void **)&y) ||
      !get_bool(env, argv[6], "accumulate", &accumulate))
    return NULL;
  char msg[192];
  if ((uint64_t)nq < (uint64_t)rows * cols || ns < (size_t)rows || nx < (size_t)cols || ny < (size_t)rows) {
    snprintf(msg, sizeof msg, "qgemv: rows %d × cols %d needs q ≥ %llu, scale and y ≥ %d, x ≥ %d; got %zu, %zu, %zu, %zu",
             rows, cols, (unsigned long long)rows * cols, rows, cols, nq, ns, ny, nx);
    return throw_range(env, msg);
  }
  void *bias = NULL;
  if (argc >= 8 && !get_optional_typed(env, argv[7], napi_uint8_array, "qgemv", "packed", "a Uint8Array",
                               unroll_qgemv_packed_size(rows, cols), &packed))
    return NULL;
  if (argc == 9 && !get_optional_typed(env, argv[8], napi_float32_array, "qgemv", "bias", "a Float32Array", (size_t)rows, &bias))
    return NULL;
  const uint64_t yb = (uint64_t)rows * 4;
  if (overlaps(y, yb, q, (uint64_t)rows * cols) || overlaps(y, yb, scale, yb) || overlaps(y, yb, x, (uint64_t)cols * 4) ||
      (packed && overlaps(y, yb, packed, unroll_qgemv_packed_size(rows, cols))) || (bias && overlaps(y, yb, bias, yb)))
    return throw_range(env, "qgemv: y must not overlap q, scale, x, packed or bias");
  unroll_qgemv(q, (const uint8_t *)packed, scale, rows, cols, x, (const float *)bias, y, accumulate);
  return NULL;
}

static void free_aligned(napi_env env, void *data, void *hint)
{
  (void)env;
  (void)hint;
  free(data);
}

/* A zeroed typed array of `bytes` bytes, 64-byte aligned where the runtime allows external buffers. */
static napi_value aligned_typed(napi_env env, napi_typedarray_type type, size_t elems, size_t bytes, void **data)
{
  napi_value ab, out;
  void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p && napi_create_external_arraybuffer(env, p, bytes, free_aligned, NULL, &ab) == napi_ok) {
    *data = p;
  } else {
    free(p);
    CHECK_NAPI(env, napi_create_arraybuffer(env, bytes, data, &ab));
  }
  CHECK_NAPI(env, napi_create_typedarray(env, type, elems, ab, 0, &out));
  return out;
}

/*
 * qpack(q, rows, cols, gateOrder?) → Uint8Array, bpack(w, rows, cols, gateOrder?) → Uint16Array: the
 * dot kernels' layout (qgemv.h); gateOrder (rows a multiple of 256) is qlstmLayer's stripe order.
 */
static napi_value Pack(napi_env env, napi_callback_info info, int bf16)
{
  const char *fn = bf16 ? "bpack" : "qpack";
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char msg[160];
  if (argc != 3 && argc != 4) {
    snprintf(msg, sizeof msg, "%s: expected 3 or 4 arguments (matrix, rows, cols, gateOrder)", fn);
    return throw_type(env, msg);
  }
  int gate_order = 0;
  if (argc == 4 && !get_bool(env, argv[3], "gateOrder", &gate_order)) return NULL;
  void *m;
  size_t n;
  int rows, cols;
  if (!get_typed(env, argv[0], bf16 ? napi_uint16_array : napi_int8_array, fn, "matrix", bf16 ? "a Uint16Array" : "an Int8Array",
                 &n, &m) ||
      !get_dim(env, argv[1], "rows", &rows) || !get_dim(env, argv[2], "cols", &cols))
    return NULL;
  if ((uint64_t)n < (uint64_t)rows * cols) {
    snprintf(msg, sizeof msg, "%s: rows %d × cols %d needs %llu elements, got %zu", fn, rows, cols,
             (unsigned long long)rows * cols, n);
    return throw_range(env, msg);
  }
  if (gate_order && rows % 256 != 0) {
    snprintf(msg, sizeof msg, "%s: gate order needs rows a multiple of 256 (4 gates × 64k units), got %d", fn, rows);
    return throw_range(env, msg);
  }
  const size_t elems = bf16 ? unroll_bgemv_packed_size(rows, cols) : unroll_qgemv_packed_size(rows, cols);
  void *data;
  napi_value out = aligned_typed(env, bf16 ? napi_uint16_array : napi_uint8_array, elems, elems * (bf16 ? 2 : 1), &data);
  if (!out) return NULL;
  if (bf16)
    unroll_bgemv_pack((const uint16_t *)m, rows, cols, gate_order, (uint16_t *)data);
  else
    unroll_qgemv_pack((const int8_t *)m, rows, cols, gate_order, (uint8_t *)data);
  return out;
}

static napi_value Qpack(napi_env env, napi_callback_info info) { return Pack(env, info, 0); }
static napi_value Bpack(napi_env env, napi_callback_info info) { return Pack(env, info, 1); }

static napi_value Bgemv(napi_env env, napi_callback_info info)
{
  size_t argc = 8;
  napi_value argv[8];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6 || argc > 8) return throw_type(env, "bgemv: expected 6 to 8 arguments (w, rows, cols, x, y, accumulate, packed, bias)");
  const uint16_t *w;
  const float *x;
  float *y;
  void *packed = NULL;
  size_t nw, nx, ny;
  int rows, cols, accumulate;
  if (!get_typed(env, argv[0], napi_uint16_array, "bgemv", "w", "a Uint16Array", &nw, (void **)&w) ||
      !get_dim(env, argv[1], "rows", &rows) || !get_dim(env, argv[2], "cols", &cols) ||
      !get_typed(env, argv[3], napi_float32_array, "bgemv", "x", "a Float32Array", &nx, (void **)&x) ||
      !get_typed(env, argv[4], napi_float32_array, "bgemv", "y", "a Float32Array", &ny, (void **)&y) ||
      !get_bool(env, argv[5], "accumulate", &accumulate))
    return NULL;
  char msg[192];
  if ((uint64_t)nw < (uint64_t)rows * cols || nx < (size_t)cols || ny < (size_t)rows) {
    snprintf(msg, sizeof msg, "bgemv: rows %d × cols %d needs w ≥ %llu, y ≥ %d, x ≥ %d; got %zu, %zu, %zu", rows, cols,
             (unsigned long long)rows * cols, rows, cols, nw, ny, nx);
    return throw_range(env, msg);
  }
  void *bias = NULL;
  if (argc >= 7 && !get_optional_typed(env, argv[6], napi_uint16_array, "bgemv", "packed", "a Uint16Array",
                               unroll_bgemv_packed_size(rows, cols), &packed))
    return NULL;
  if (argc == 8 && !get_optional_typed(env, argv[7], napi_float32_array, "bgemv", "bias", "a Float32Array", (size_t)rows, &bias))
    return NULL;
  const uint64_t yb = (uint64_t)rows * 4;
  if (overlaps(y, yb, w, (uint64_t)rows * cols * 2) || overlaps(y, yb, x, (uint64_t)cols * 4) ||
      (packed && overlaps(y, yb, packed, unroll_bgemv_packed_size(rows, cols) * 2)) || (bias && overlaps(y, yb, bias, yb)))
    return throw_range(env, "bgemv: y must not overlap w, x, packed or bias");
  unroll_bgemv(w, (const uint16_t *)packed, rows, cols, x, (const float *)bias, y, accumulate);
  return NULL;
}

static napi_value QuantizedKernelNames(napi_env env, napi_callback_info info)
{
  (void)info;
  napi_value out, a, b;
  CHECK_NAPI(env, napi_create_object(env, &out));
  CHECK_NAPI(env, napi_create_string_utf8(env, unroll_qgemv_kernel(), NAPI_AUTO_LENGTH, &a));
  CHECK_NAPI(env, napi_create_string_utf8(env, unroll_bgemv_kernel(), NAPI_AUTO_LENGTH, &b));
  CHECK_NAPI(env, napi_set_named_property(env, out, "int8", a));
  CHECK_NAPI(env, napi_set_named_property(env, out, "bf16", b));
  return out;
}

/* fn(enabled) → the previous setting, for a switch `set` that returns it. */
static napi_value bool_switch(napi_env env, napi_callback_info info, const char *fn, int (*set)(int))
{
  size_t argc = 1;
  napi_value arg, out;
  char msg[96];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
  int on;
  if (argc != 1) {
    snprintf(msg, sizeof msg, "%s: expected 1 argument (enabled)", fn);
    return throw_type(env, msg);
  }
  if (!get_bool(env, arg, "enabled", &on)) return NULL;
  CHECK_NAPI(env, napi_get_boolean(env, set(on) != 0, &out));
  return out;
}

static napi_value SetQuantizedDot(napi_env env, napi_callback_info info)
{
  return bool_switch(env, info, "setQuantizedDot", unroll_qgemv_set_dot);
}

/* Whether qlstmStack / qlstmStep / qlstmSample carry layer 0's products (the same bits either way; qlstmSetCarry for A/B runs). */
static int carry_enabled = 1;

static int set_carry(int on)
{
  const int was = carry_enabled;
  carry_enabled = on;
  return was;
}

/* qlstmSetCarry(enabled) → the previous setting: whether plan steps (qlstmStack, qlstmStep, qlstmSample) carry layer 0's products (unroll_qlstm_stack_carry). */
static napi_value QlstmSetCarry(napi_env env, napi_callback_info info)
{
  return bool_switch(env, info, "qlstmSetCarry", set_carry);
}

/* qlstmSetAhead(enabled) → the previous setting: whether carried steps on two or more threads leave layer 1's W_hh h1 to an idle worker (unroll_qlstm_set_ahead). */
static napi_value QlstmSetAhead(napi_env env, napi_callback_info info)
{
  return bool_switch(env, info, "qlstmSetAhead", unroll_qlstm_set_ahead);
}

/* qlstmAheadUsed() → the blocks of layer 1 that steps have finished from products made ahead (unroll_qlstm_ahead_used). */
static napi_value QlstmAheadUsed(napi_env env, napi_callback_info info)
{
  (void)info;
  napi_value out;
  CHECK_NAPI(env, napi_create_double(env, (double)unroll_qlstm_ahead_used(), &out));
  return out;
}

static napi_value QlstmCell(napi_env env, napi_callback_info info)
{
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 4) return throw_type(env, "qlstmCell: expected 4 arguments (H, gates, c, h)");
  int H;
  const float *g;
  float *c, *h;
  size_t ng, nc, nh;
  if (!get_dim(env, argv[0], "H", &H) ||
      !get_typed(env, argv[1], napi_float32_array, "qlstmCell", "gates", "a Float32Array", &ng, (void **)&g) ||
      !get_typed(env, argv[2], napi_float32_array, "qlstmCell", "c", "a Float32Array", &nc, (void **)&c) ||
      !get_typed(env, argv[3], napi_float32_array, "qlstmCell", "h", "a Float32Array", &nh, (void **)&h))
    return NULL;
  if ((uint64_t)ng < 4 * (uint64_t)H || nc < (size_t)H || nh < (size_t)H)
    return throw_range(env, "qlstmCell: gates needs 4H values, c and h H each");
  const uint64_t b = (uint64_t)H * 4;
  if (overlaps(c, b, h, b) || overlaps(c, b, g, 4 * b) || overlaps(h, b, g, 4 * b))
    return throw_range(env, "qlstmCell: gates, c and h must not overlap");
  unroll_lstm_cell(H, g, c, h);
  return NULL;
}

/* A packed compact matrix (Uint8Array: int8, Uint16Array: bf16) of at least `need` elements; null allowed when `optional`. */
static int get_packed(napi_env env, napi_value v, const char *fn, const char *name, int optional, int *bf16, size_t rows,
                      size_t cols, void **out)
{
  char msg[192];
  napi_valuetype t;
  *out = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (optional && (t == napi_null || t == napi_undefined)) return 1;
  bool is_ta = false;
  napi_typedarray_type type;
  size_t n, off;
  napi_value buf;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &n, out, &buf, &off) != napi_ok ||
      (type != napi_uint8_array && type != napi_uint16_array) || (*bf16 >= 0 && *bf16 != (type == napi_uint16_array))) {
    snprintf(msg, sizeof msg, "%s: %s must be a packed %s (qpack / bpack in gate order)%s", fn, name,
             *bf16 < 0 ? "Uint8Array or Uint16Array" : *bf16 ? "Uint16Array, as the other matrix" : "Uint8Array, as the other matrix",
             optional ? " or null" : "");
    throw_type(env, msg);
    return 0;
  }
  *bf16 = type == napi_uint16_array;
  const size_t need = *bf16 ? unroll_bgemv_packed_size((int)rows, (int)cols) : unroll_qgemv_packed_size((int)rows, (int)cols);
  if (n < need) {
    snprintf(msg, sizeof msg, "%s: %s packs %zu × %zu weights in %zu elements; got %zu", fn, name, rows, cols, need, n);
    throw_range(env, msg);
    return 0;
  }
  return 1;
}

/*
 * qlstmLayer(H, in, wih, scaleIh, x, whh, scaleHh, bias, gates, c, h, descending) → whether it ran
 * (unroll_qlstm_layer; false leaves everything as it was). Without wih, x is null (gates hold the
 * input side) or the input side itself (4H).
 */
static napi_value QlstmLayer(napi_env env, napi_callback_info info)
{
  size_t argc = 12;
  napi_value argv[12], out;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 12)
    return throw_type(env, "qlstmLayer: expected 12 arguments (H, in, wih, scaleIh, x, whh, scaleHh, bias, gates, c, h, descending)");
  int H, in, descending, bf16 = -1;
  void *whh, *wih, *sih = NULL, *shh = NULL, *x = NULL, *bias = NULL;
  float *g, *c, *h;
  size_t ng, nc, nh;
  if (!get_dim(env, argv[0], "H", &H) || !get_dim(env, argv[1], "in", &in)) return NULL;
  if (H > 65536 || in > 65536) return throw_range(env, "qlstmLayer: H and in must be at most 65536");
  const size_t G = 4 * (size_t)H;
  if (!get_packed(env, argv[5], "qlstmLayer", "whh", 0, &bf16, G, (size_t)H, &whh) || !get_packed(env, argv[2], "qlstmLayer", "wih", 1, &bf16, G, (size_t)in, &wih))
    return NULL;
  if (!get_optional_typed(env, argv[6], napi_float32_array, "qlstmLayer", "scaleHh", "a Float32Array", G, &shh) ||
      !get_optional_typed(env, argv[3], napi_float32_array, "qlstmLayer", "scaleIh", "a Float32Array", G, &sih) ||
      !get_optional_typed(env, argv[4], napi_float32_array, "qlstmLayer", "x", "a Float32Array", wih ? (size_t)in : G, &x) ||
      !get_optional_typed(env, argv[7], napi_float32_array, "qlstmLayer", "bias", "a Float32Array", G, &bias) ||
      !get_typed(env, argv[8], napi_float32_array, "qlstmLayer", "gates", "a Float32Array", &ng, (void **)&g) ||
      !get_typed(env, argv[9], napi_float32_array, "qlstmLayer", "c", "a Float32Array", &nc, (void **)&c) ||
      !get_typed(env, argv[10], napi_float32_array, "qlstmLayer", "h", "a Float32Array", &nh, (void **)&h) ||
      !get_bool(env, argv[11], "descending", &descending))
    return NULL;
  if (ng < G || nc < (size_t)H || nh < (size_t)H) return throw_range(env, "qlstmLayer: gates needs 4H values, c and h H each");
  if (!bf16 && (!shh || (wih && !sih))) return throw_type(env, "qlstmLayer: int8 weights need their row scales");
  if (wih && !x) return throw_type(env, "qlstmLayer: x is needed with wih");
  const uint64_t hb = (uint64_t)H * 4, gb = 4 * hb, xb = wih ? (uint64_t)in * 4 : gb;
  if (overlaps(c, hb, h, hb) || overlaps(c, hb, g, gb) || overlaps(h, hb, g, gb) ||
      (x && (overlaps(x, xb, g, gb) || overlaps(x, xb, c, hb) || overlaps(x, xb, h, hb))) ||
      (bias && (overlaps(bias, gb, g, gb) || overlaps(bias, gb, c, hb) || overlaps(bias, gb, h, hb))))
    return throw_range(env, "qlstmLayer: gates, c and h must not overlap each other, x or bias");
  const int ran = unroll_qlstm_layer(bf16, H, in, wih, (const float *)sih, (const float *)x, whh, (const float *)shh,
                                     (const float *)bias, g, c, h, descending);
  CHECK_NAPI(env, napi_get_boolean(env, ran != 0, &out));
  return out;
}

/*
 * A stacked LSTM's packed weights for qlstmStack, made once by qlstmPlan: the packed matrices are
 * kept alive by references; the row scales and biases are copied.
 */
#define PLAN_MAX_LAYERS 32
typedef struct {
  int bf16, L, H;
  unsigned descending;
  unroll_qlstm_weights w[PLAN_MAX_LAYERS];
  napi_ref refs[2 * PLAN_MAX_LAYERS + 3];
  int nrefs;
  float *copies; /* the scales and biases */
  /* the head, for qlstmStep (V = 0: none): layer 0's input side per token, and the output layer */
  int V;
  const float *table;            /* V × 4H */
  const void *out_w, *out_packed; /* V × H, row-major and in the dot kernels' plain layout */
  const float *out_scale, *out_bias;
  /* layer 0's W_hh h0 made with a step for the next (unroll_qlstm_stack_carry): carry.pre owns 5H floats, or is NULL */
  unroll_qlstm_carry carry;
} qlstm_plan;

static void plan_free(napi_env env, void *data, void *hint)
{
  (void)hint;
  qlstm_plan *p = (qlstm_plan *)data;
  unroll_qlstm_carry_release(&p->carry); /* an idle worker may be reading the weights */
  for (int i = 0; i < p->nrefs; i++) napi_delete_reference(env, p->refs[i]);
  free(p->copies);
  free(p->carry.pre);
  free(p);
}

/* A Float32Array of at least `need` values copied to *dst (advanced), or NULL for null when `optional`. */
static int copy_floats(napi_env env, napi_value v, const char *name, size_t need, int optional, float **dst,
                       const float **out)
{
  void *data = NULL;
  *out = NULL;
  if (optional) {
    if (!get_optional_typed(env, v, napi_float32_array, "qlstmPlan", name, "a Float32Array", need, &data)) return 0;
    if (!data) return 1;
  } else {
    size_t n;
    if (!get_typed(env, v, napi_float32_array, "qlstmPlan", name, "a Float32Array", &n, &data)) return 0;
    if (n < need) {
      char msg[128];
      snprintf(msg, sizeof msg, "qlstmPlan: %s needs %zu values, got %zu", name, need, n);
      throw_range(env, msg);
      return 0;
    }
  }
  memcpy(*dst, data, need * sizeof(float));
  *out = *dst;
  *dst += need;
  return 1;
}

/*
 * The head of a plan (qlstmPlan's third argument): {table, rows, weights, packed, scale, bias}, the
 * first layer's input side for each of `rows` tokens (rows × 4H) and the output layer (rows × H:
 * weights row-major, Int8Array or Uint16Array as the plan's matrices, packed plainly by qpack /
 * bpack, int8 row scales or null, bias). Returns 0 with an exception pending where it is wrong.
 */
static int plan_head(napi_env env, napi_value head, int V, qlstm_plan *p, float **cur)
{
  napi_value table, weights, packed, scale, bias;
  if (napi_get_named_property(env, head, "table", &table) != napi_ok || napi_get_named_property(env, head, "weights", &weights) != napi_ok ||
      napi_get_named_property(env, head, "packed", &packed) != napi_ok || napi_get_named_property(env, head, "scale", &scale) != napi_ok ||
      napi_get_named_property(env, head, "bias", &bias) != napi_ok) {
    throw_type(env, "qlstmPlan: head must be an object {table, rows, weights, packed, scale, bias}");
    return 0;
  }
  const size_t G = 4 * (size_t)p->H;
  void *tab = NULL, *w = NULL, *pk = NULL;
  size_t n;
  if (!get_typed(env, table, napi_float32_array, "qlstmPlan", "head.table", "a Float32Array", &n, &tab)) return 0;
  char msg[192];
  if (n < (size_t)V * G) {
    snprintf(msg, sizeof msg, "qlstmPlan: head.table needs rows × 4H = %zu values, got %zu", (size_t)V * G, n);
    throw_range(env, msg);
    return 0;
  }
  const napi_typedarray_type wt = p->bf16 ? napi_uint16_array : napi_int8_array;
  if (!get_typed(env, weights, wt, "qlstmPlan", "head.weights", p->bf16 ? "a Uint16Array, as the layers'" : "an Int8Array, as the layers'", &n, &w))
    return 0;
  if (n < (size_t)V * p->H) {
    snprintf(msg, sizeof msg, "qlstmPlan: head.weights needs rows × H = %zu values, got %zu", (size_t)V * p->H, n);
    throw_range(env, msg);
    return 0;
  }
  int bf16 = p->bf16;
  if (!get_packed(env, packed, "qlstmPlan", "head.packed", 0, &bf16, (size_t)V, (size_t)p->H, &pk) ||
      (!p->bf16 && !copy_floats(env, scale, "head.scale", (size_t)V, 0, cur, &p->out_scale)) ||
      !copy_floats(env, bias, "head.bias", (size_t)V, 0, cur, &p->out_bias))
    return 0;
  if (napi_create_reference(env, table, 1, &p->refs[p->nrefs++]) != napi_ok ||
      napi_create_reference(env, weights, 1, &p->refs[p->nrefs++]) != napi_ok ||
      napi_create_reference(env, packed, 1, &p->refs[p->nrefs++]) != napi_ok)
    return 0;
  p->V = V;
  p->table = (const float *)tab;
  p->out_w = w;
  p->out_packed = pk;
  return 1;
}

/*
 * qlstmPlan(H, layers, head?) → plan, layers [{wih, scaleIh, whh, scaleHh, bias}, …] packed in gate
 * order (qpack / bpack), all int8 or all bf16; layer 0's wih, scaleIh and bias are null (its input
 * side comes with each step, or from the head's table). The head (plan_head) lets qlstmStep run.
 */
static napi_value QlstmPlan(napi_env env, napi_callback_info info)
{
  size_t argc = 3;
  napi_value argv[3], out;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 2 && argc != 3) return throw_type(env, "qlstmPlan: expected 2 or 3 arguments (H, layers, head)");
  int H;
  bool is_array = false;
  uint32_t L = 0;
  if (!get_dim(env, argv[0], "H", &H)) return NULL;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) return throw_type(env, "qlstmPlan: layers must be an array");
  CHECK_NAPI(env, napi_get_array_length(env, argv[1], &L));
  if (H == 0 || H > 65536 || L == 0 || L > PLAN_MAX_LAYERS) return throw_range(env, "qlstmPlan: needs 1 ≤ H ≤ 65536 and 1 to 32 layers");
  napi_valuetype head_type = napi_undefined;
  if (argc == 3) CHECK_NAPI(env, napi_typeof(env, argv[2], &head_type));
  const int has_head = head_type != napi_undefined && head_type != napi_null;
  if (has_head && head_type != napi_object) return throw_type(env, "qlstmPlan: head must be an object or null");
  const size_t G = 4 * (size_t)H;
  int V = 0; /* the head's rows, read once: its scale and bias are copied with the layers' */
  if (has_head) {
    napi_value rows;
    if (napi_get_named_property(env, argv[2], "rows", &rows) != napi_ok || !get_dim(env, rows, "head.rows", &V)) return NULL;
    if (V == 0) return throw_range(env, "qlstmPlan: head.rows must be at least 1");
  }
  qlstm_plan *p = (qlstm_plan *)calloc(1, sizeof *p);
  float *copies = p ? (float *)malloc((L * 3 * G + 2 * (size_t)V + 1) * sizeof(float)) : NULL;
  if (!p || !copies) {
    free(p);
    free(copies);
    return throw_range(env, "qlstmPlan: out of memory");
  }
  p->copies = copies;
  p->L = (int)L;
  p->H = H;
  int bf16 = -1, ok = 1;
  float *cur = copies;
  for (uint32_t l = 0; l < L && ok; l++) {
    napi_value layer, wih, sih, whh, shh, bias;
    void *pw = NULL, *pi = NULL;
    ok = napi_get_element(env, argv[1], l, &layer) == napi_ok && napi_get_named_property(env, layer, "wih", &wih) == napi_ok &&
         napi_get_named_property(env, layer, "scaleIh", &sih) == napi_ok && napi_get_named_property(env, layer, "whh", &whh) == napi_ok &&
         napi_get_named_property(env, layer, "scaleHh", &shh) == napi_ok && napi_get_named_property(env, layer, "bias", &bias) == napi_ok;
    if (!ok) {
      throw_type(env, "qlstmPlan: each layer must be an object {wih, scaleIh, whh, scaleHh, bias}");
      break;
    }
    ok = get_packed(env, whh, "qlstmPlan", "whh", 0, &bf16, G, (size_t)H, &pw) && (l == 0 || get_packed(env, wih, "qlstmPlan", "wih", 0, &bf16, G, (size_t)H, &pi)) &&
         copy_floats(env, shh, "scaleHh", G, bf16, &cur, &p->w[l].shh) &&
         (l == 0 || (copy_floats(env, sih, "scaleIh", G, bf16, &cur, &p->w[l].sih) && copy_floats(env, bias, "bias", G, 1, &cur, &p->w[l].bias)));
    if (!ok) break;
    p->w[l].whh = pw;
    p->w[l].wih = pi;
    ok = napi_create_reference(env, whh, 1, &p->refs[p->nrefs++]) == napi_ok && (l == 0 || napi_create_reference(env, wih, 1, &p->refs[p->nrefs++]) == napi_ok);
  }
  p->bf16 = bf16 == 1;
  if (ok && has_head) ok = plan_head(env, argv[2], V, p, &cur);
  if (ok && L >= 2 && H % 64 == 0) {
    /* without this memory the steps run unroll_qlstm_stack (the same results) */
    p->carry.pre = (float *)aligned_alloc(64, ((size_t)5 * H * sizeof(float) + 63) / 64 * 64);
    p->carry.h0 = p->carry.pre ? p->carry.pre + G : NULL;
  }
  if (!ok || napi_create_external(env, p, plan_free, NULL, &out) != napi_ok) {
    plan_free(env, p, NULL);
    return NULL;
  }
  return out;
}

/* The plan of argv[0], or NULL with an exception pending. */
static qlstm_plan *plan_arg(napi_env env, napi_value v, const char *fn)
{
  qlstm_plan *p = NULL;
  napi_valuetype t;
  char msg[96];
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, (void **)&p) != napi_ok || !p) {
    snprintf(msg, sizeof msg, "%s: plan must come from qlstmPlan", fn);
    throw_type(env, msg);
    return NULL;
  }
  return p;
}

/* The state arrays of a stack step: gates (4H), h and c (L·H each), not overlapping one another or `row` (4H, may be NULL). */
static int stack_state(napi_env env, const qlstm_plan *p, const char *fn, napi_value *argv, const void *row, float **g, float **h, float **c)
{
  const size_t G = 4 * (size_t)p->H, LH = (size_t)p->L * p->H;
  size_t ng, nh, nc;
  char msg[128];
  if (!get_typed(env, argv[0], napi_float32_array, fn, "gates", "a Float32Array", &ng, (void **)g) ||
      !get_typed(env, argv[1], napi_float32_array, fn, "h", "a Float32Array", &nh, (void **)h) ||
      !get_typed(env, argv[2], napi_float32_array, fn, "c", "a Float32Array", &nc, (void **)c))
    return 0;
  if (ng < G || nh < LH || nc < LH) {
    snprintf(msg, sizeof msg, "%s: gates needs 4H values, h and c L·H each", fn);
    throw_range(env, msg);
    return 0;
  }
  const uint64_t gb = G * 4, sb = LH * 4;
  if (overlaps(*g, gb, *h, sb) || overlaps(*g, gb, *c, sb) || overlaps(*h, sb, *c, sb) ||
      (row && (overlaps(row, gb, *g, gb) || overlaps(row, gb, *h, sb) || overlaps(row, gb, *c, sb)))) {
    snprintf(msg, sizeof msg, "%s: %sgates, h and c must not overlap", fn, row ? "row, " : "");
    throw_range(env, msg);
    return 0;
  }
  return 1;
}

/* The plan's layers from `row` (or g): carrying layer 0's products where it can (the same results). */
static int plan_stack(qlstm_plan *p, const float *row, float *g, float *h, float *c)
{
  if (carry_enabled && p->carry.pre)
    return unroll_qlstm_stack_carry(p->bf16, p->L, p->H, p->w, row, g, h, c, &p->descending, &p->carry);
  return unroll_qlstm_stack(p->bf16, p->L, p->H, p->w, row, g, h, c, &p->descending);
}

/* qlstmStack(plan, row, gates, h, c) → layers done (unroll_qlstm_stack); row (4H) or null (gates hold layer 0's input side). */
static napi_value QlstmStack(napi_env env, napi_callback_info info)
{
  size_t argc = 5;
  napi_value argv[5], out;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 5) return throw_type(env, "qlstmStack: expected 5 arguments (plan, row, gates, h, c)");
  qlstm_plan *p = plan_arg(env, argv[0], "qlstmStack");
  if (!p) return NULL;
  void *row = NULL;
  float *g, *h, *c;
  if (!get_optional_typed(env, argv[1], napi_float32_array, "qlstmStack", "row", "a Float32Array", 4 * (size_t)p->H, &row) ||
      !stack_state(env, p, "qlstmStack", argv + 2, row, &g, &h, &c))
    return NULL;
  const int done = plan_stack(p, (const float *)row, g, h, c);
  CHECK_NAPI(env, napi_create_int32(env, done, &out));
  return out;
}

/*
 * qlstmStep(plan, token, gates, h, c, logits) → L + 1 when it ran every layer from row `token` of the
 * head's table and then logits ← the output layer × the last h + bias (as qgemv / bgemv); else the
 * layers done (the caller goes on from there, as after qlstmStack).
 * qlstmSample(plan, token, gates, h, c, logits, u, temperature) → the same step, then the next token
 * as pickToken chooses it with the uniform draw u (u < 0: argmax) at `temperature` (pick.h), the
 * probabilities left in logits; or −1 − the layers done where one declined (no logits made).
 */
static napi_value plan_step(napi_env env, napi_callback_info info, int sample)
{
  const char *fn = sample ? "qlstmSample" : "qlstmStep";
  size_t argc = 8;
  napi_value argv[8], out;
  char msg[160];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != (sample ? 8u : 6u)) {
    snprintf(msg, sizeof msg, "%s: expected %s", fn, sample ? "8 arguments (plan, token, gates, h, c, logits, u, temperature)" : "6 arguments (plan, token, gates, h, c, logits)");
    return throw_type(env, msg);
  }
  qlstm_plan *p = plan_arg(env, argv[0], fn);
  if (!p) return NULL;
  if (p->V == 0) {
    snprintf(msg, sizeof msg, "%s: the plan has no head (qlstmPlan's third argument)", fn);
    return throw_type(env, msg);
  }
  int32_t token;
  if (napi_get_value_int32(env, argv[1], &token) != napi_ok) {
    snprintf(msg, sizeof msg, "%s: token must be an integer", fn);
    return throw_type(env, msg);
  }
  if (token < 0 || token >= p->V) {
    snprintf(msg, sizeof msg, "%s: token id %d is outside the vocabulary [0, %d)", fn, token, p->V);
    return throw_range(env, msg);
  }
  double u = 0, temperature = 1;
  if (sample) {
    if (napi_get_value_double(env, argv[6], &u) != napi_ok || napi_get_value_double(env, argv[7], &temperature) != napi_ok) {
      snprintf(msg, sizeof msg, "%s: u and temperature must be numbers", fn);
      return throw_type(env, msg);
    }
    if (!(u < 1) || !(temperature > 0)) {
      snprintf(msg, sizeof msg, "%s: needs u < 1 (u < 0: argmax) and temperature > 0; got %g and %g", fn, u, temperature);
      return throw_range(env, msg);
    }
  }
  const float *row = p->table + (size_t)token * 4 * p->H;
  float *g, *h, *c, *logits;
  size_t nl;
  if (!stack_state(env, p, fn, argv + 2, row, &g, &h, &c) ||
      !get_typed(env, argv[5], napi_float32_array, fn, "logits", "a Float32Array", &nl, (void **)&logits))
    return NULL;
  const uint64_t lb = (uint64_t)p->V * 4, gb = 16 * (uint64_t)p->H, sb = (uint64_t)p->L * p->H * 4;
  if (nl < (size_t)p->V) {
    snprintf(msg, sizeof msg, "%s: logits needs one value per token of the head (%d), got %zu", fn, p->V, nl);
    return throw_range(env, msg);
  }
  if (overlaps(logits, lb, g, gb) || overlaps(logits, lb, h, sb) || overlaps(logits, lb, c, sb) || overlaps(logits, lb, row, gb)) {
    snprintf(msg, sizeof msg, "%s: logits must not overlap gates, h, c or the table", fn);
    return throw_range(env, msg);
  }
  int result = plan_stack(p, row, g, h, c);
  if (result == p->L) {
    const float *top = h + (size_t)(p->L - 1) * p->H;
    if (p->bf16)
      unroll_bgemv((const uint16_t *)p->out_w, (const uint16_t *)p->out_packed, p->V, p->H, top, p->out_bias, logits, 0);
    else
      unroll_qgemv((const int8_t *)p->out_w, (const uint8_t *)p->out_packed, p->out_scale, p->V, p->H, top, p->out_bias, logits, 0);
    result = sample ? unroll_pick_token(logits, p->V, u, temperature) : p->L + 1;
  } else if (sample) {
    result = -1 - result;
  }
  CHECK_NAPI(env, napi_create_int32(env, result, &out));
  return out;
}

static napi_value QlstmStep(napi_env env, napi_callback_info info) { return plan_step(env, info, 0); }
static napi_value QlstmSample(napi_env env, napi_callback_info info) { return plan_step(env, info, 1); }

/* jsExp(x, out): out[i] ← unroll_js_exp(x[i]), Float64Arrays of one length (pick.h; to check it against Math.exp). */
static napi_value JsExp(napi_env env, napi_callback_info info)
{
  size_t argc = 2, nx, no;
  napi_value argv[2];
  double *x, *o;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 2) return throw_type(env, "jsExp: expected 2 arguments (x, out)");
  if (!get_typed(env, argv[0], napi_float64_array, "jsExp", "x", "a Float64Array", &nx, (void **)&x) ||
      !get_typed(env, argv[1], napi_float64_array, "jsExp", "out", "a Float64Array", &no, (void **)&o))
    return NULL;
  if (no != nx) return throw_range(env, "jsExp: x and out must have one length");
  unroll_js_exp_array(x, o, nx);
  return NULL;
}

static napi_value Fill(napi_env env, napi_callback_info info)
{
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 2) return throw_type(env, "fill: expected 2 arguments (x, row)");
  float *x;
  const float *row = NULL;
  size_t n, w = 0;
  if (!get_typed(env, argv[0], napi_float32_array, "fill", "x", "a Float32Array", &n, (void **)&x)) return NULL;
  napi_valuetype t;
  CHECK_NAPI(env, napi_typeof(env, argv[1], &t));
  if (t != napi_null) {
    if (!get_typed(env, argv[1], napi_float32_array, "fill", "row", "a Float32Array or null", &w, (void **)&row))
      return NULL;
    if (w == 0 ? n != 0 : n % w != 0) return throw_range(env, "fill: x.length must be a multiple of row.length");
    if (overlaps(x, (uint64_t)n * 4, row, (uint64_t)w * 4)) return throw_range(env, "fill: x and row must not overlap");
    if (w == 0) return NULL;
  }
  unroll_fill(x, n, row, w);
  return NULL;
}

/* Each thread (main or worker) frees its own packing scratch when its environment goes away. */
static void free_scratch(void *arg)
{
  (void)arg;
  unroll_free_scratch();
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */)
{
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"gemm", Gemm},           {"isa", Isa},
             {"setIsa", SetIsa},       {"threads", Threads},
             {"setThreads", SetThreads}, {"recForward", RecForward},
             {"recBackward", RecBackward}, {"peakGflops", Peak}, {"readBandwidth", Bandwidth}, {"softmaxXent", SoftmaxXent},
             {"adam", Adam},           {"sgd", Sgd},
             {"sumSquares", SumSquares}, {"scale", Scale}, {"fill", Fill},
             {"scatterAddRows", ScatterAddRows}, {"qgemv", Qgemv}, {"qlstmCell", QlstmCell}, {"qlstmLayer", QlstmLayer}, {"qlstmPlan", QlstmPlan}, {"qlstmStack", QlstmStack}, {"qlstmStep", QlstmStep},
             {"qlstmSample", QlstmSample}, {"qlstmSetCarry", QlstmSetCarry},
             {"qlstmSetAhead", QlstmSetAhead}, {"qlstmAheadUsed", QlstmAheadUsed}, {"jsExp", JsExp},
             {"bgemv", Bgemv}, {"qpack", Qpack}, {"bpack", Bpack}, {"quantizedKernels", QuantizedKernelNames}, {"setQuantizedDot", SetQuantizedDot}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    CHECK_NAPI(env, napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
    CHECK_NAPI(env, napi_set_named_property(env, exports, fns[i].name, f));
  }
  CHECK_NAPI(env, napi_add_env_cleanup_hook(env, free_scratch, NULL));
  return exports;
}
