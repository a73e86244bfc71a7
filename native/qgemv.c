/*
 * int8 × float32 matrix–vector product with per-row scales (qgemv.h).
 *
 * Every kernel computes row r as: for each lane of its vector width, a float32 running sum of
 * q·x over the columns of that lane; then the lanes are added, then the scalar tail, then the
 * product with scale[r]. The order differs between ISAs (lane widths), not between threads.
 *
 *   avx512   4 rows at a time, 32 columns per step (8 accumulators): 16 int8 →
 *            _mm512_cvtepi8_epi32 → _mm512_cvtepi32_ps → _mm512_fmadd_ps with x (target avx512f)
 *   avx2     the same with 8 columns per vector (target avx2,fma)
 *   portable the scalar loop
 *
 * Threads: products of at least PARALLEL_MIN weights are split into fixed row blocks (multiples
 * of 4 rows) claimed by the pool's threads; batch-1 sampling of a 2×512 LSTM reads 4 MB of int8
 * weights per token, which two cores stream faster than one.
 */
#include "qgemv.h"

#include "gemm.h"
#include "pool.h"


#if defined(__GNUC__) && !defined(UNROLL_PLAIN_C) && (defined(__x86_64__) || defined(__i386__))
#define QGEMV_X86 1
#include <immintrin.h>
#endif

#define PARALLEL_MIN (1 << 17)
#define BLOCK_ROWS 64

typedef void (*rows_fn)(const int8_t *q, const float *scale, int lo, int hi, int cols, const float *x, float *y,
                        int accumulate);

static inline void store(float *y, int r, float s, int accumulate)
{
  if (accumulate)
    y[r] += s;
  else
    y[r] = s;
}

static void rows_portable(const int8_t *q, const float *scale, int lo, int hi, int cols, const float *x, float *y,
                          int accumulate)
{
  for (int r = lo; r < hi; r++) {
    const int8_t *row = q + (size_t)r * cols;
    float s = 0;
    for (int k = 0; k < cols; k++) s += (float)row[k] * x[k];
    store(y, r, s * scale[r], accumulate);
  }
}

#if QGEMV_X86
#define AVX512 __attribute__((target("avx512f")))
#define AVX2 __attribute__((target("avx2,fma")))

AVX512 static inline __m512 cvt16(const int8_t *p)
{
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

AVX512 static float tail512(const int8_t *row, const float *x, int k, int cols, __m512 acc)
{
  for (; k + 16 <= cols; k += 16) acc = _mm512_fmadd_ps(cvt16(row + k), _mm512_loadu_ps(x + k), acc);
  float s = _mm512_reduce_add_ps(acc);
  for (; k < cols; k++) s += (float)row[k] * x[k];
  return s;
}

AVX512 static void rows_avx512(const int8_t *q, const float *scale, int lo, int hi, int cols, const float *x,
                               float *y, int accumulate)
{
  int r = lo;
  for (; r + 4 <= hi; r += 4) {
    const int8_t *q0 = q + (size_t)r * cols, *q1 = q0 + cols, *q2 = q1 + cols, *q3 = q2 + cols;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int k = 0;
    for (; k + 32 <= cols; k += 32) {
      const __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + 16);
      a0 = _mm512_fmadd_ps(cvt16(q0 + k), x0, a0);
      a1 = _mm512_fmadd_ps(cvt16(q1 + k), x0, a1);
      a2 = _mm512_fmadd_ps(cvt16(q2 + k), x0, a2);
      a3 = _mm512_fmadd_ps(cvt16(q3 + k), x0, a3);
      b0 = _mm512_fmadd_ps(cvt16(q0 + k + 16), x1, b0);
      b1 = _mm512_fmadd_ps(cvt16(q1 + k + 16), x1, b1);
      b2 = _mm512_fmadd_ps(cvt16(q2 + k + 16), x1, b2);
      b3 = _mm512_fmadd_ps(cvt16(q3 + k + 16), x1, b3);
    }
    store(y, r, tail512(q0, x, k, cols, _mm512_add_ps(a0, b0)) * scale[r], accumulate);
    store(y, r + 1, tail512(q1, x, k, cols, _mm512_add_ps(a1, b1)) * scale[r + 1], accumulate);
    store(y, r + 2, tail512(q2, x, k, cols, _mm512_add_ps(a2, b2)) * scale[r + 2], accumulate);
    store(y, r + 3, tail512(q3, x, k, cols, _mm512_add_ps(a3, b3)) * scale[r + 3], accumulate);
  }
  for (; r < hi; r++) {
    const int8_t *q0 = q + (size_t)r * cols;
    __m512 a0 = _mm512_setzero_ps(), b0 = a0;
    int k = 0;
    for (; k + 32 <= cols; k += 32) {
      a0 = _mm512_fmadd_ps(cvt16(q0 + k), _mm512_loadu_ps(x + k), a0);
      b0 = _mm512_fmadd_ps(cvt16(q0 + k + 16), _mm512_loadu_ps(x + k + 16), b0);
    }
    store(y, r, tail512(q0, x, k, cols, _mm512_add_ps(a0, b0)) * scale[r], accumulate);
  }
}

AVX2 static inline __m256 cvt8(const int8_t *p)
{
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

AVX2 static float tail256(const int8_t *row, const float *x, int k, int cols, __m256 acc)
{
  for (; k + 8 <= cols; k += 8) acc = _mm256_fmadd_ps(cvt8(row + k), _mm256_loadu_ps(x + k), acc);
  __m128 v = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  v = _mm_add_ps(v, _mm_movehl_ps(v, v));
  v = _mm_add_ss(v, _mm_shuffle_ps(v, v, 1));
  float s = _mm_cvtss_f32(v);
  for (; k < cols; k++) s += (float)row[k] * x[k];
  return s;
}

AVX2 static void rows_avx2(const int8_t *q, const float *scale, int lo, int hi, int cols, const float *x, float *y,
                           int accumulate)
{
  int r = lo;
  for (; r + 4 <= hi; r += 4) {
    const int8_t *q0 = q + (size_t)r * cols, *q1 = q0 + cols, *q2 = q1 + cols, *q3 = q2 + cols;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int k = 0;
    for (; k + 16 <= cols; k += 16) {
      const __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);
      a0 = _mm256_fmadd_ps(cvt8(q0 + k), x0, a0);
      a1 = _mm256_fmadd_ps(cvt8(q1 + k), x0, a1);
      a2 = _mm256_fmadd_ps(cvt8(q2 + k), x0, a2);
      a3 = _mm256_fmadd_ps(cvt8(q3 + k), x0, a3);
      b0 = _mm256_fmadd_ps(cvt8(q0 + k + 8), x1, b0);
      b1 = _mm256_fmadd_ps(cvt8(q1 + k + 8), x1, b1);
      b2 = _mm256_fmadd_ps(cvt8(q2 + k + 8), x1, b2);
      b3 = _mm256_fmadd_ps(cvt8(q3 + k + 8), x1, b3);
    }
    store(y, r, tail256(q0, x, k, cols, _mm256_add_ps(a0, b0)) * scale[r], accumulate);
    store(y, r + 1, tail256(q1, x, k, cols, _mm256_add_ps(a1, b1)) * scale[r + 1], accumulate);
    store(y, r + 2, tail256(q2, x, k, cols, _mm256_add_ps(a2, b2)) * scale[r + 2], accumulate);
    store(y, r + 3, tail256(q3, x, k, cols, _mm256_add_ps(a3, b3)) * scale[r + 3], accumulate);
  }
  for (; r < hi; r++) {
    const int8_t *q0 = q + (size_t)r * cols;
    __m256 a0 = _mm256_setzero_ps(), b0 = a0;
    int k = 0;
    for (; k + 16 <= cols; k += 16) {
      a0 = _mm256_fmadd_ps(cvt8(q0 + k), _mm256_loadu_ps(x + k), a0);
      b0 = _mm256_fmadd_ps(cvt8(q0 + k + 8), _mm256_loadu_ps(x + k + 8), b0);
    }
    store(y, r, tail256(q0, x, k, cols, _mm256_add_ps(a0, b0)) * scale[r], accumulate);
  }
}
#endif

static rows_fn kernel(void)
{
#if QGEMV_X86
  switch (unroll_current_isa()) {
  case UNROLL_ISA_AVX512: return rows_avx512;
  case UNROLL_ISA_AVX2: return rows_avx2;
  default: break;
  }
#endif
  return rows_portable;
}

typedef struct {
  rows_fn fn;
  const int8_t *q;
  const float *scale, *x;
  float *y;
  int rows, cols, accumulate;
} qgemv_job;

static void qgemv_block(void *ctx, size_t block)
{
  const qgemv_job *j = (const qgemv_job *)ctx;
  const int lo = (int)block * BLOCK_ROWS;
  const int hi = lo + BLOCK_ROWS < j->rows ? lo + BLOCK_ROWS : j->rows;
  j->fn(j->q, j->scale, lo, hi, j->cols, j->x, j->y, j->accumulate);
}

void unroll_qgemv(const int8_t *q, const float *scale, int rows, int cols, const float *x, float *y, int accumulate)
{
  const rows_fn fn = kernel();
  if (rows <= 0) return;
  const int nblocks = (rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
  if (unroll_pool_threads() < 2 || nblocks < 2 || (long long)rows * cols < PARALLEL_MIN) {
    fn(q, scale, 0, rows, cols, x, y, accumulate);
    return;
  }
  qgemv_job j = {fn, q, scale, x, y, rows, cols, accumulate};
  unroll_pool_for((size_t)nblocks, qgemv_block, &j);
}
