/*
 * Node-API binding of the native GEMM (loaded by src/node/native-backend.ts):
 *
 *   gemm(transA, transB, M, N, K, A, B, C, accumulate)   the Backend.gemm contract
 *   isa()            "avx512" | "avx2" | "portable": the float32 kernel in use
 *   setIsa(name)     use another kernel (tests, benchmarks); false when this CPU can't run it
 *
 * Arguments are validated here, once per call, and a bad call throws a TypeError or RangeError
 * instead of reading or writing out of bounds.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gemm.h"

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

static napi_value Gemm(napi_env env, napi_callback_info info)
{
  size_t argc = 9;
  napi_value argv[9];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) return throw_type(env, "gemm(transA, transB, M, N, K, A, B, C, accumulate) takes 9 arguments");

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

  if (C.type == napi_float32_array) {
    if (unroll_sgemm(transA, transB, M, N, K, (const float *)A.data, (const float *)B.data, (float *)C.data,
                     accumulate) != 0) {
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
  } fns[] = {{"gemm", Gemm}, {"isa", Isa}, {"setIsa", SetIsa}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    CHECK_NAPI(env, napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
    CHECK_NAPI(env, napi_set_named_property(env, exports, fns[i].name, f));
  }
  CHECK_NAPI(env, napi_add_env_cleanup_hook(env, free_scratch, NULL));
  return exports;
}
