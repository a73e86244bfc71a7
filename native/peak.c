/*
 * The float32 FMA peak of one core, measured: independent chains of fused multiply-adds in the
 * widest registers the current ISA has (zmm, ymm, or scalar C for the portable kernel), enough
 * chains to cover the FMA latency on two ports. `unroll bench` reports GFLOP/s against it.
 */
#include <time.h>

#include "gemm.h"
#include "pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define X86 1
#endif

static double now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define CHAINS 12

#ifdef X86
__attribute__((target("avx512f"))) static float run_avx512(long iters)
{
  __m512 acc[CHAINS];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_set1_ps((float)j);
  for (long i = 0; i < iters; i++)
    for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  __m512 s = acc[0];
  for (int j = 1; j < CHAINS; j++) s = _mm512_add_ps(s, acc[j]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float run_avx2(long iters)
{
  __m256 acc[CHAINS];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_set1_ps((float)j);
  for (long i = 0; i < iters; i++)
    for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  __m256 s = acc[0];
  for (int j = 1; j < CHAINS; j++) s = _mm256_add_ps(s, acc[j]);
  float o[8];
  _mm256_storeu_ps(o, s);
  return o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7];
}
#endif

static float run_portable(long iters)
{
  float acc[CHAINS];
  for (int j = 0; j < CHAINS; j++) acc[j] = (float)j;
  for (long i = 0; i < iters; i++)
    for (int j = 0; j < CHAINS; j++) acc[j] = acc[j] * 0.999999f + 1e-7f;
  float s = 0;
  for (int j = 0; j < CHAINS; j++) s += acc[j];
  return s;
}

volatile float unroll_peak_sink;

double unroll_peak_gflops(double seconds)
{
  const unroll_isa isa = unroll_current_isa();
  const int lanes = isa == UNROLL_ISA_AVX512 ? 16 : isa == UNROLL_ISA_AVX2 ? 8 : 1;
  double best = 0;
  long iters = 1 << 16;
  const double t_end = now_s() + seconds;
  do {
    const double t0 = now_s();
#ifdef X86
    if (isa == UNROLL_ISA_AVX512) unroll_peak_sink = run_avx512(iters);
    else if (isa == UNROLL_ISA_AVX2) unroll_peak_sink = run_avx2(iters);
    else
#endif
      unroll_peak_sink = run_portable(iters);
    const double dt = now_s() - t0;
    const double gflops = 2.0 * lanes * CHAINS * (double)iters / dt * 1e-9;
    if (gflops > best) best = gflops;
    if (dt < 0.02) iters *= 2;
  } while (now_s() < t_end);
  return best;
}

/*
 * Read bandwidth, measured: `threads` threads of the pool (1 = the caller alone) each sum their
 * share of a buffer of `bytes` (floats, 64-byte aligned, touched first so its pages exist) with
 * independent accumulators in the widest registers, at the same time, repeated for `seconds`;
 * the best pass counts, as bytes read by all of them over the pass's time. A buffer far larger than the last-level cache gives the memory
 * bandwidth; one that fits in the cache, the cache's. Batch-1 sampling reads every weight once per
 * character, so its speed is bounded by this figure. Returns GB/s (1e9 bytes), or -1 when the
 * buffer cannot be allocated.
 */
#include <stdlib.h>
#include <string.h>

#ifdef X86
__attribute__((target("avx512f"))) static float sum_avx512(const float *x, size_t n)
{
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_load_ps(x + i));
    a1 = _mm512_add_ps(a1, _mm512_load_ps(x + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_load_ps(x + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_load_ps(x + i + 48));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

__attribute__((target("avx2"))) static float sum_avx2(const float *x, size_t n)
{
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(x + i + 24));
  }
  float o[8];
  _mm256_storeu_ps(o, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  return o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7];
}
#endif

static float sum_portable(const float *x, size_t n)
{
  float a[8] = {0};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) a[j] += x[i + j];
  return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

typedef struct {
  const float *x;
  size_t n;
  unroll_isa isa;
} sum_job;

static void sum_share(void *ctx, int tid, int nth)
{
  const sum_job *j = (const sum_job *)ctx;
  const size_t share = (j->n / (size_t)nth) & ~(size_t)63; /* whole 256-byte blocks */
  const float *x = j->x + (size_t)tid * share;
  float s;
#ifdef X86
  if (j->isa == UNROLL_ISA_AVX512) s = sum_avx512(x, share);
  else if (j->isa == UNROLL_ISA_AVX2) s = sum_avx2(x, share);
  else
#endif
    s = sum_portable(x, share);
  if (tid == 0) unroll_peak_sink = s;
}

double unroll_read_bandwidth(double bytes, double seconds, int threads)
{
  const size_t n = ((size_t)(bytes / sizeof(float)) + 63) & ~(size_t)63;
  float *x = aligned_alloc(64, n * sizeof(float));
  if (x == NULL) return -1;
  for (size_t i = 0; i < n; i++) x[i] = (float)(i & 1023) * 1e-3f;
  const int before = unroll_pool_threads();
  const int nth = unroll_pool_set_threads(threads < 1 ? 1 : threads);
  sum_job j = {x, n, unroll_current_isa()};
  const size_t read = ((n / (size_t)nth) & ~(size_t)63) * (size_t)nth * sizeof(float);
  double best = 0;
  const double t_end = now_s() + seconds;
  int passes = 0;
  do {
    const double t0 = now_s();
    if (nth == 1)
      sum_share(&j, 0, 1);
    else
      unroll_pool_run(sum_share, &j);
    const double dt = now_s() - t0;
    const double gbs = (double)read / dt * 1e-9;
    if (passes++ > 0 && gbs > best) best = gbs; /* the first pass warms the caches and TLB */
  } while (now_s() < t_end || passes < 3);
  unroll_pool_set_threads(before);
  free(x);
  return best;
}
