/*
 * Scatter-add of rows by index (scatter.h), float32.
 *
 * Every element of `out` receives its additions in the loop's order (rows n ascending) whoever
 * computes it, so the result is bit-identical to the JavaScript loop: a float32 add rounds exactly
 * as JavaScript's double add followed by Math.fround (the double sum of two floats is exact to 48
 * bits, so rounding it once to float32 is the correctly rounded float32 sum). Only additions here,
 * so -ffp-contract has nothing to contract.
 *
 * Work is split by COLUMNS: the pool's threads claim column ranges (multiples of 16 floats, one
 * 64-byte line, so no two threads write one line), and each runs every row n ascending over its
 * range. No element is written by two threads, no sums are combined across threads, and the order
 * per element is the loop's: identical results for any thread count. The kernel streams src once
 * and is bound by memory bandwidth, so threads gain little: on a 2-core AMD EPYC VM, 2048 rows ×
 * 1024 columns (T1's dXP, src 8 MB, in L3) take 0.45 ms on one thread and 0.34–0.44 ms on two
 * (medians), and 512 × 1024 is slower on two (0.088 against 0.069 ms). Hence PARALLEL_MIN: below
 * 2^20 elements (N·width), or with under 2 ranges' worth of columns, it runs on the calling thread.
 *
 * Kernels, picked with sgemm's ISA (unroll_current_isa):
 *   avx2      8 floats per __m256 (target avx2), the scalar loop for the tail
 *   portable  the scalar loop
 */
#include "scatter.h"

#include "gemm.h"
#include "pool.h"

#if defined(__GNUC__) && !defined(UNROLL_PLAIN_C) && (defined(__x86_64__) || defined(__i386__))
#define SCATTER_X86 1
#include <immintrin.h>
#endif

#define PARALLEL_MIN (1u << 20)
#define ALIGN 16

typedef void (*range_fn)(float *out, const float *src, const int *ids, size_t N, size_t width, size_t lo,
                         size_t hi);

/* Columns [lo, hi) of every row: the specification's loop restricted to those columns. */
static void scatter_portable(float *restrict out, const float *restrict src, const int *ids, size_t N, size_t width,
                             size_t lo, size_t hi)
{
  for (size_t n = 0; n < N; n++) {
    float *restrict o = out + (size_t)ids[n] * width;
    const float *restrict s = src + n * width;
    for (size_t c = lo; c < hi; c++) o[c] += s[c];
  }
}

#if SCATTER_X86
__attribute__((target("avx2"))) static void scatter_avx2(float *restrict out, const float *restrict src,
                                                         const int *ids, size_t N, size_t width, size_t lo,
                                                         size_t hi)
{
  for (size_t n = 0; n < N; n++) {
    float *restrict o = out + (size_t)ids[n] * width;
    const float *restrict s = src + n * width;
    size_t c = lo;
    for (; c + 32 <= hi; c += 32) {
      const __m256 a0 = _mm256_add_ps(_mm256_loadu_ps(o + c), _mm256_loadu_ps(s + c));
      const __m256 a1 = _mm256_add_ps(_mm256_loadu_ps(o + c + 8), _mm256_loadu_ps(s + c + 8));
      const __m256 a2 = _mm256_add_ps(_mm256_loadu_ps(o + c + 16), _mm256_loadu_ps(s + c + 16));
      const __m256 a3 = _mm256_add_ps(_mm256_loadu_ps(o + c + 24), _mm256_loadu_ps(s + c + 24));
      _mm256_storeu_ps(o + c, a0);
      _mm256_storeu_ps(o + c + 8, a1);
      _mm256_storeu_ps(o + c + 16, a2);
      _mm256_storeu_ps(o + c + 24, a3);
    }
    for (; c + 8 <= hi; c += 8) _mm256_storeu_ps(o + c, _mm256_add_ps(_mm256_loadu_ps(o + c), _mm256_loadu_ps(s + c)));
    for (; c < hi; c++) o[c] += s[c];
  }
}
#endif

typedef struct {
  range_fn fn;
  float *out;
  const float *src;
  const int *ids;
  size_t N, width;
  int nparts;
} scatter_job;

/* Column range `part` of the job. */
static void scatter_part(void *ctx, size_t part)
{
  const scatter_job *j = (const scatter_job *)ctx;
  int lo, hi;
  unroll_partition((int)j->width, j->nparts, (int)part, ALIGN, &lo, &hi);
  if (lo < hi) j->fn(j->out, j->src, j->ids, j->N, j->width, (size_t)lo, (size_t)hi);
}

void unroll_scatter_add_rows(float *out, const float *src, const int *ids, size_t N, size_t width)
{
  range_fn fn = scatter_portable;
#if SCATTER_X86
  if (unroll_current_isa() != UNROLL_ISA_PORTABLE) fn = scatter_avx2;
#endif
  const int nth = unroll_pool_threads();
  /* One range per thread (each a multiple of ALIGN columns): the fewest passes over ids. */
  const size_t maxParts = (width + ALIGN - 1) / ALIGN;
  const int nparts = maxParts < (size_t)nth ? (int)maxParts : nth;
  if (N * width < PARALLEL_MIN || nparts < 2 || width > (size_t)0x7fffffff) {
    fn(out, src, ids, N, width, 0, width);
    return;
  }
  scatter_job j = {fn, out, src, ids, N, width, nparts};
  unroll_pool_for((size_t)nparts, scatter_part, &j);
}
