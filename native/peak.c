/*
 * The float32 FMA peak of one core, measured: independent chains of fused multiply-adds in the
 * widest registers the current ISA has (zmm, ymm, or scalar C for the portable kernel), enough
 * chains to cover the FMA latency on two ports. `unroll bench` reports GFLOP/s against it.
 */
#include <time.h>

#include "gemm.h"

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
