/*
 * Optimizer updates and gradient-norm kernels (optim.h), float32 in memory, double in registers.
 *
 * JavaScript's loops (src/train/optimizers.ts, src/train/clip.ts) compute each element in double
 * and round to float32 at every store to a Float32Array, and a later read in the same iteration
 * sees the rounded value. The kernels here do exactly that, in the same order of operations, so
 * adam, sgd and scale are bit-identical to the specification. Two things would break it and are
 * kept out on purpose: a fused multiply-add (it rounds once where JavaScript rounds twice; the
 * project compiles with -ffp-contract=fast, hence the pragmas below and no "fma" in the target of
 * the AVX path) and a reciprocal in place of a division.
 *
 * Kernels, picked with sgemm's ISA (unroll_current_isa):
 *   avx2      4 doubles per __m256d, loads and stores converting 4 floats (target avx2, no FMA)
 *   portable  the scalar loop, also the AVX path's tail
 *
 * Work is split into fixed blocks of UNROLL_SUMSQ_BLOCK elements that the pool's threads claim; the
 * elementwise kernels give the same result under any split, and sum_squares adds its block sums in
 * block order on the calling thread, so every result is independent of the thread count. Below
 * PARALLEL_MIN elements everything runs on the calling thread (a pool run costs microseconds).
 */
#include "optim.h"

#include "gemm.h"
#include "pool.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(UNROLL_PLAIN_C) && (defined(__x86_64__) || defined(__i386__))
#define OPTIM_X86 1
#include <immintrin.h>
#endif

/* No contraction of a·b + c into an FMA in this file (see above); checked by test/optim-native.test.ts. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define BLOCK UNROLL_SUMSQ_BLOCK
#define PARALLEL_MIN 65536
/* Lanes of one block's sum: element i of a block adds into lane i mod LANES. */
#define LANES 16

typedef struct {
  float *p, *m, *v;
  float *backup; /* receives p before the update, or NULL */
  const float *g;
  double shrink, l2, b1, c1, b2, c2, stepSize, sqrtCorrection2, eps; /* c1 = 1 − b1, c2 = 1 − b2 */
} adam_args;

typedef struct {
  float *p, *b;
  float *backup; /* receives p before the update, or NULL */
  const float *g;
  double lr, wd, mu;
  int nesterov, firstStep;
} sgd_args;

typedef struct {
  float *x;
  double s;
} scale_args;

/* ---------------------------------------------------------------------------------------------
 * Portable kernels: the JavaScript loops, line for line.
 */
static void adam_portable(const adam_args *a, size_t lo, size_t hi)
{
  for (size_t i = lo; i < hi; i++) {
    const float p = (float)(a->p[i] * a->shrink); /* p[i] *= shrink */
    const double d = a->g[i] + a->l2 * p;
    const float m = (float)(a->b1 * a->m[i] + a->c1 * d);
    const float v = (float)(a->b2 * a->v[i] + a->c2 * d * d);
    a->m[i] = m;
    a->v[i] = v;
    a->p[i] = (float)(p - a->stepSize * (m / (sqrt(v) / a->sqrtCorrection2 + a->eps)));
  }
}

static void sgd_portable(const sgd_args *a, size_t lo, size_t hi)
{
  for (size_t i = lo; i < hi; i++) {
    double d = a->g[i] + a->wd * a->p[i];
    if (a->b) {
      const float b = (float)(a->firstStep ? d : a->mu * a->b[i] + d);
      a->b[i] = b;
      d = a->nesterov ? d + a->mu * b : b;
    }
    a->p[i] = (float)(a->p[i] - a->lr * d);
  }
}

static void scale_portable(const scale_args *a, size_t lo, size_t hi)
{
  for (size_t i = lo; i < hi; i++) a->x[i] = (float)(a->x[i] * a->s);
}

/* Σ x² over one block (at most BLOCK elements), lane by lane, lanes added in order. */
static double sumsq_portable(const float *x, size_t len)
{
  double lane[LANES] = {0};
  for (size_t i = 0; i < len; i++) lane[i % LANES] += (double)x[i] * x[i];
  double s = 0;
  for (int l = 0; l < LANES; l++) s += lane[l];
  return s;
}

/* ---------------------------------------------------------------------------------------------
 * AVX kernels: the same operations on 4 lanes.
 */
#if OPTIM_X86
#define AVX __attribute__((target("avx2")))
#define LOAD4(q) _mm256_cvtps_pd(_mm_loadu_ps(q))
#define ROUND4(x) _mm256_cvtpd_ps(x)
#define WIDEN4(f) _mm256_cvtps_pd(f)

AVX static void adam_avx2(const adam_args *a, size_t lo, size_t hi)
{
  const __m256d shrink = _mm256_set1_pd(a->shrink), l2 = _mm256_set1_pd(a->l2);
  const __m256d b1 = _mm256_set1_pd(a->b1), c1 = _mm256_set1_pd(a->c1);
  const __m256d b2 = _mm256_set1_pd(a->b2), c2 = _mm256_set1_pd(a->c2);
  const __m256d step = _mm256_set1_pd(a->stepSize), corr = _mm256_set1_pd(a->sqrtCorrection2);
  const __m256d eps = _mm256_set1_pd(a->eps);
  size_t i = lo;
  for (; i + 4 <= hi; i += 4) {
    const __m256d p = WIDEN4(ROUND4(_mm256_mul_pd(LOAD4(a->p + i), shrink)));
    const __m256d d = _mm256_add_pd(LOAD4(a->g + i), _mm256_mul_pd(l2, p));
    const __m128 mf = ROUND4(_mm256_add_pd(_mm256_mul_pd(b1, LOAD4(a->m + i)), _mm256_mul_pd(c1, d)));
    const __m128 vf = ROUND4(_mm256_add_pd(_mm256_mul_pd(b2, LOAD4(a->v + i)), _mm256_mul_pd(_mm256_mul_pd(c2, d), d)));
    _mm_storeu_ps(a->m + i, mf);
    _mm_storeu_ps(a->v + i, vf);
    const __m256d den = _mm256_add_pd(_mm256_div_pd(_mm256_sqrt_pd(WIDEN4(vf)), corr), eps);
    _mm_storeu_ps(a->p + i, ROUND4(_mm256_sub_pd(p, _mm256_mul_pd(step, _mm256_div_pd(WIDEN4(mf), den)))));
  }
  adam_portable(a, i, hi);
}

AVX static void sgd_avx2(const sgd_args *a, size_t lo, size_t hi)
{
  const __m256d lr = _mm256_set1_pd(a->lr), wd = _mm256_set1_pd(a->wd), mu = _mm256_set1_pd(a->mu);
  size_t i = lo;
  for (; i + 4 <= hi; i += 4) {
    const __m256d p = LOAD4(a->p + i);
    __m256d d = _mm256_add_pd(LOAD4(a->g + i), _mm256_mul_pd(wd, p));
    if (a->b) {
      const __m128 bf = a->firstStep ? ROUND4(d) : ROUND4(_mm256_add_pd(_mm256_mul_pd(mu, LOAD4(a->b + i)), d));
      _mm_storeu_ps(a->b + i, bf);
      d = a->nesterov ? _mm256_add_pd(d, _mm256_mul_pd(mu, WIDEN4(bf))) : WIDEN4(bf);
    }
    _mm_storeu_ps(a->p + i, ROUND4(_mm256_sub_pd(p, _mm256_mul_pd(lr, d))));
  }
  sgd_portable(a, i, hi);
}

AVX static void scale_avx2(const scale_args *a, size_t lo, size_t hi)
{
  const __m256d s = _mm256_set1_pd(a->s);
  size_t i = lo;
  for (; i + 4 <= hi; i += 4) _mm_storeu_ps(a->x + i, ROUND4(_mm256_mul_pd(LOAD4(a->x + i), s)));
  scale_portable(a, i, hi);
}

/* sumsq_portable's lanes: four accumulators of 4 hold lanes 0–15. */
AVX static double sumsq_avx2(const float *x, size_t len)
{
  __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
  size_t i = 0;
  for (; i + LANES <= len; i += LANES)
    for (int k = 0; k < 4; k++) {
      const __m256d y = LOAD4(x + i + 4 * k);
      acc[k] = _mm256_add_pd(acc[k], _mm256_mul_pd(y, y));
    }
  double lane[LANES];
  for (int k = 0; k < 4; k++) _mm256_storeu_pd(lane + 4 * k, acc[k]);
  for (; i < len; i++) lane[i % LANES] += (double)x[i] * x[i];
  double s = 0;
  for (int l = 0; l < LANES; l++) s += lane[l];
  return s;
}
#endif

#if OPTIM_X86
AVX static void copy_stream_avx(float *dst, const float *src, size_t n)
{
  size_t i = 0;
  for (; i < n && ((uintptr_t)(dst + i) & 31) != 0; i++) dst[i] = src[i];
  for (; i + 8 <= n; i += 8) _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
  for (; i < n; i++) dst[i] = src[i];
  _mm_sfence();
}
#endif

/* ---------------------------------------------------------------------------------------------
 * Dispatch: one range function per kernel, run over blocks on the pool.
 */
typedef void (*range_fn)(const void *args, size_t lo, size_t hi, double *sum);

static int use_avx2(void)
{
#if OPTIM_X86
  return unroll_current_isa() != UNROLL_ISA_PORTABLE;
#else
  return 0;
#endif
}

static void sumsq_range(const void *args, size_t lo, size_t hi, double *sum);

/*
 * dst ← src, n floats. The backup of a guarded update is read again only to undo a failed one, so
 * on x86 it is written with streaming stores, which skip reading the old lines into the cache.
 */
static void copy_out(float *dst, const float *src, size_t n)
{
#if OPTIM_X86
  if (use_avx2()) {
    copy_stream_avx(dst, src, n);
    return;
  }
#endif
  memcpy(dst, src, n * sizeof(float));
}

/*
 * A guarded update of [lo, hi): p is copied to `backup` first (when there is one), and with `sum`
 * (one block, run_blocks) Σ p² of the updated block goes there, read while the block is in L1.
 */
static void adam_range(const void *args, size_t lo, size_t hi, double *sum)
{
  const adam_args *a = (const adam_args *)args;
  if (a->backup) copy_out(a->backup + lo, a->p + lo, hi - lo);
#if OPTIM_X86
  if (use_avx2())
    adam_avx2(a, lo, hi);
  else
#endif
    adam_portable(a, lo, hi);
  if (sum) sumsq_range(a->p, lo, hi, sum);
}

static void sgd_range(const void *args, size_t lo, size_t hi, double *sum)
{
  const sgd_args *a = (const sgd_args *)args;
  if (a->backup) copy_out(a->backup + lo, a->p + lo, hi - lo);
#if OPTIM_X86
  if (use_avx2())
    sgd_avx2(a, lo, hi);
  else
#endif
    sgd_portable(a, lo, hi);
  if (sum) sumsq_range(a->p, lo, hi, sum);
}

static void scale_range(const void *args, size_t lo, size_t hi, double *sum)
{
  (void)sum;
#if OPTIM_X86
  if (use_avx2()) {
    scale_avx2((const scale_args *)args, lo, hi);
    return;
  }
#endif
  scale_portable((const scale_args *)args, lo, hi);
}

/* [lo, hi) is one block here. */
static void sumsq_range(const void *args, size_t lo, size_t hi, double *sum)
{
  const float *x = (const float *)args + lo;
#if OPTIM_X86
  if (use_avx2()) {
    *sum = sumsq_avx2(x, hi - lo);
    return;
  }
#endif
  *sum = sumsq_portable(x, hi - lo);
}

typedef struct {
  range_fn fn;
  const void *args;
  size_t n;
  size_t nblocks;
  double *sums; /* one per block (sum_squares), else NULL */
} optim_job;

static void optim_block(void *ctx, size_t blk)
{
  const optim_job *j = (const optim_job *)ctx;
  const size_t lo = blk * BLOCK, hi = lo + BLOCK < j->n ? lo + BLOCK : j->n;
  j->fn(j->args, lo, hi, j->sums ? j->sums + blk : NULL);
}

/* An elementwise kernel over [0, n): on the calling thread when small, else by blocks on the pool. */
static void run_elementwise(range_fn fn, const void *args, size_t n)
{
  if (n < PARALLEL_MIN || unroll_pool_threads() <= 1) {
    fn(args, 0, n, NULL);
    return;
  }
  optim_job j = {fn, args, n, (n + BLOCK - 1) / BLOCK, NULL};
  unroll_pool_for(j.nblocks, optim_block, &j);
}

/*
 * fn over [0, n) one block per call, returning the sum of the blocks' sums added in block order:
 * on the pool when large (and the block sums fit in memory), else on the calling thread.
 */
static double run_blocks(range_fn fn, const void *args, size_t n)
{
  const size_t nblocks = (n + BLOCK - 1) / BLOCK;
  double *sums = NULL;
  if (n >= PARALLEL_MIN && unroll_pool_threads() > 1) sums = (double *)malloc(nblocks * sizeof(double));
  double s = 0;
  if (sums) {
    optim_job j = {fn, args, n, nblocks, sums};
    unroll_pool_for(nblocks, optim_block, &j);
    for (size_t k = 0; k < nblocks; k++) s += sums[k];
    free(sums);
  } else {
    /* Small, one thread, or no memory for the block sums: the same blocks in the same order. */
    for (size_t lo = 0; lo < n; lo += BLOCK) {
      double block;
      fn(args, lo, lo + BLOCK < n ? lo + BLOCK : n, &block);
      s += block;
    }
  }
  return s;
}

double unroll_adam(float *p, const float *g, float *m, float *v, float *backup, size_t n, double shrink, double l2,
                   double b1, double b2, double stepSize, double sqrtCorrection2, double eps)
{
  const adam_args a = {p, m, v, backup, g, shrink, l2, b1, 1 - b1, b2, 1 - b2, stepSize, sqrtCorrection2, eps};
  if (backup) return run_blocks(adam_range, &a, n);
  run_elementwise(adam_range, &a, n);
  return 0;
}

double unroll_sgd(float *p, const float *g, float *b, float *backup, size_t n, double lr, double wd, double mu,
                  int nesterov, int firstStep)
{
  const sgd_args a = {p, b, backup, g, lr, wd, mu, nesterov, firstStep};
  if (backup) return run_blocks(sgd_range, &a, n);
  run_elementwise(sgd_range, &a, n);
  return 0;
}

typedef struct {
  float *x;
  const float *row; /* NULL: zeros */
  size_t w;
} fill_args;

static void fill_range(const void *args, size_t lo, size_t hi, double *sum)
{
  (void)sum;
  const fill_args *a = (const fill_args *)args;
  if (!a->row) {
    memset(a->x + lo, 0, (hi - lo) * sizeof(float));
    return;
  }
  for (size_t p = lo; p < hi;) {
    const size_t j = p % a->w, len = a->w - j < hi - p ? a->w - j : hi - p;
    memcpy(a->x + p, a->row + j, len * sizeof(float));
    p += len;
  }
}

void unroll_fill(float *x, size_t n, const float *row, size_t w)
{
  const fill_args a = {x, row, w};
  run_elementwise(fill_range, &a, n);
}

void unroll_scale(float *x, size_t n, double s)
{
  const scale_args a = {x, s};
  run_elementwise(scale_range, &a, n);
}

double unroll_sum_squares(const float *x, size_t n) { return run_blocks(sumsq_range, x, n); }
