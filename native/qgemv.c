/*
 * int8 × float32 matrix–vector product with per-row scales (qgemv.h).
 *
 * The float kernels compute row r as: for each lane of their vector width, a float32 running sum
 * of q·x over the columns of that lane; then the lanes are added, then the scalar tail, then the
 * product with scale[r]. The order differs between ISAs (lane widths), not between threads.
 *
 *   avx512   4 rows at a time, 32 columns per step (8 accumulators): 16 int8 →
 *            _mm512_cvtepi8_epi32 → _mm512_cvtepi32_ps → _mm512_fmadd_ps with x (target avx512f)
 *   avx2     the same with 8 columns per vector (target avx2,fma)
 *   portable the scalar loop
 *
 * Converting every weight to float32 costs two instructions per 16 weights, so the float kernels
 * run at about a quarter of what the caches deliver. Where the CPU has AVX512-VNNI, `avx512-vnni`
 * instead multiplies the int8 weights by x in fixed point, 64 products per vpdpbusd:
 *
 *   x is written as sx · (128·hi + lo), sx = max|x| / 16256, hi in [-127, 127], lo in [-64, 63]
 *   (x to 15 bits: each element within sx/2 = max|x|/32512 of its value);
 *   Σ q·x = sx · (128·Σ q·hi + Σ q·lo), each sum exact in int32 (cols ≤ 65536).
 *
 * vpdpbusd multiplies unsigned by signed bytes, so the weights enter as q + 128 (q xor 0x80) and
 * 128·Σ hi (and 128·Σ lo), computed once per call, are subtracted. A non-finite x falls back to
 * the float kernel, which propagates it.
 *
 * bf16 weights (unroll_bgemv): y[r] = Σ_k w[r,k]·x[k], w bfloat16 (the upper half of a float32).
 *
 *   avx512-bf16  vdpbf16ps, 32 weights per instruction, x split as bf16(x) + bf16(x − bf16(x))
 *                (x to 16 bits); products exact, float32 accumulation (target avx512bf16)
 *   avx512/avx2  each bf16 widened to float32 exactly (zero-extend, shift by 16), FMA with x
 *   portable     the scalar loop
 *
 * Threads: products of at least PARALLEL_MIN weights are split into fixed row blocks (64 rows)
 * claimed by the pool's threads, each first taking those of its own part (unroll_pool_for_affine),
 * so that from token to token a core reads the same rows; batch-1 sampling of a 2×512 LSTM reads
 * 3 MB of int8 weights per token, which two cores stream faster than one.
 *
 * unroll_qlstm_layer runs a whole LSTM layer step in one pass over the pool: each 64-unit block
 * takes its four gates' stripes of W_ih and W_hh and then updates its units' cell, so a step costs
 * one N-API call and one dispatch per layer instead of three calls and two dispatches.
 * unroll_qlstm_stack_carry makes layer 0's next W_hh h0 in layer 1's pass and leaves layer 1's
 * next W_hh h1 to an idle worker between calls (unroll_qlstm_ahead, below).
 */
#include "qgemv.h"

#include "gemm.h"
#include "pool.h"
#include "recurrence.h"


#if defined(__GNUC__) && !defined(UNROLL_PLAIN_C) && (defined(__x86_64__) || defined(__i386__))
#define QGEMV_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- fixed-point int8 × x (AVX512-VNNI) ---- */

/* x in two signed digits, padded with zeros to a multiple of 64 (main thread only: the pool reads them). */
typedef struct {
  const int8_t *hi, *lo;
  int sum_hi, sum_lo;
  double sx;
} qx_digits;

#if QGEMV_X86
#define QX_RANGE 16256

/* Two slots per calling thread (a fused layer splits its input and its state), grown, never shrunk. */
static _Thread_local int8_t *digit_buf[2];
static _Thread_local size_t digit_cap[2];

/* 64-byte aligned scratch of at least `bytes` in `slot` (0 or 1); NULL when out of memory. */
static void *scratch_slot(int slot, size_t bytes)
{
  if (bytes > digit_cap[slot]) {
    free(digit_buf[slot]);
    digit_cap[slot] = 0;
    digit_buf[slot] = (int8_t *)aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!digit_buf[slot]) return NULL;
    digit_cap[slot] = bytes;
  }
  return digit_buf[slot];
}

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

/* max |x| over finite x, or −1 when x holds a NaN or ±Inf. */
VNNI static float max_abs(const float *x, int cols)
{
  __m512 m = _mm512_setzero_ps();
  __mmask16 bad = 0;
  const __m512 inf = _mm512_set1_ps(__builtin_inff());
  int k = 0;
  for (; k + 16 <= cols; k += 16) {
    const __m512 a = _mm512_abs_ps(_mm512_loadu_ps(x + k));
    bad |= _mm512_cmp_ps_mask(a, inf, _CMP_NLT_UQ); /* NaN or Inf */
    m = _mm512_max_ps(m, a);
  }
  if (k < cols) {
    const __mmask16 t = (__mmask16)((1u << (cols - k)) - 1);
    const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(t, x + k));
    bad |= _mm512_mask_cmp_ps_mask(t, a, inf, _CMP_NLT_UQ);
    m = _mm512_max_ps(m, a);
  }
  return bad ? -1.0f : _mm512_reduce_max_ps(m);
}

/* x as digits (qx_digits), padded with zeros; 0 when x holds a non-finite value or no scratch could be had. */
VNNI static int split_digits(const float *x, int cols, qx_digits *d, int slot)
{
  const float m = max_abs(x, cols);
  if (m < 0) return 0;
  const size_t padded = ((size_t)cols + 63) / 64 * 64;
  int8_t *hi = (int8_t *)scratch_slot(slot, 2 * padded);
  if (!hi) return 0;
  int8_t *lo = hi + padded;
  const __m512 inv = _mm512_set1_ps(m > 0 ? (float)QX_RANGE / m : 0);
  const __m512i top = _mm512_set1_epi32(QX_RANGE), bottom = _mm512_set1_epi32(-QX_RANGE), half = _mm512_set1_epi32(64);
  __m512i sh = _mm512_setzero_si512(), sl = sh;
  for (size_t k = 0; k < padded; k += 16) {
    const int n = cols - (int)k;
    const __mmask16 t = n >= 16 ? 0xFFFF : n > 0 ? (__mmask16)((1u << n) - 1) : 0;
    /* round to nearest even (the default MXCSR mode), then clamp */
    __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(t, x + k), inv));
    v = _mm512_max_epi32(_mm512_min_epi32(v, top), bottom);
    const __m512i h = _mm512_srai_epi32(_mm512_add_epi32(v, half), 7); /* floor((v + 64) / 128) */
    const __m512i l = _mm512_sub_epi32(v, _mm512_slli_epi32(h, 7));
    sh = _mm512_add_epi32(sh, h);
    sl = _mm512_add_epi32(sl, l);
    _mm_storeu_si128((__m128i *)(hi + k), _mm512_cvtepi32_epi8(h));
    _mm_storeu_si128((__m128i *)(lo + k), _mm512_cvtepi32_epi8(l));
  }
  d->hi = hi;
  d->lo = lo;
  d->sum_hi = _mm512_reduce_add_epi32(sh);
  d->sum_lo = _mm512_reduce_add_epi32(sl);
  d->sx = (double)m / QX_RANGE;
  return 1;
}

/*
 * Packed int8 layout (unroll_qgemv_packed_size): tiles of 16 rows × 4 columns, 64 bytes each,
 * byte 4·i + j = q[64s + 16b + i][4g + j] + 128 (rows and columns padded with q = 0), tile
 * (s, g, b) at ((s · ⌈cols/4⌉ + g) · 4 + b) · 64: the four tiles of a 64-row stripe s and column
 * group g are adjacent, so a stripe streams from one address. One vpdpbusd multiplies a tile by 4
 * broadcast digits of x and adds into 16 lanes, one per row: no horizontal sums.
 */
VNNI static void rows_vnni(const uint8_t *packed, const float *scale, int lo, int hi, int cols, const qx_digits *d,
                           float *y, const float *add)
{
  const int groups = (cols + 3) / 4;
  const size_t bstride = 64;
  const __m512 sx = _mm512_set1_ps((float)d->sx);
  const __m512i corr_h = _mm512_set1_epi32(128 * d->sum_hi), corr_l = _mm512_set1_epi32(128 * d->sum_lo);
  for (int r = lo; r < hi; r += 64) {
    const int nb = (hi - r + 15) / 16 < 4 ? (hi - r + 15) / 16 : 4;
    const uint8_t *p = packed + (size_t)((r - lo) / 64) * groups * 256;
    __m512i h0 = _mm512_setzero_si512(), h1 = h0, h2 = h0, h3 = h0, l0 = h0, l1 = h0, l2 = h0, l3 = h0;
    const int32_t *xh = (const int32_t *)d->hi, *xl = (const int32_t *)d->lo;
    if (nb == 4) {
      for (int g = 0; g < groups; g++) {
        const __m512i bh = _mm512_set1_epi32(xh[g]), bl = _mm512_set1_epi32(xl[g]);
        const uint8_t *pg = p + (size_t)g * 256;
        const __m512i w0 = _mm512_loadu_si512(pg), w1 = _mm512_loadu_si512(pg + bstride),
                      w2 = _mm512_loadu_si512(pg + 2 * bstride), w3 = _mm512_loadu_si512(pg + 3 * bstride);
        h0 = _mm512_dpbusd_epi32(h0, w0, bh);
        l0 = _mm512_dpbusd_epi32(l0, w0, bl);
        h1 = _mm512_dpbusd_epi32(h1, w1, bh);
        l1 = _mm512_dpbusd_epi32(l1, w1, bl);
        h2 = _mm512_dpbusd_epi32(h2, w2, bh);
        l2 = _mm512_dpbusd_epi32(l2, w2, bl);
        h3 = _mm512_dpbusd_epi32(h3, w3, bh);
        l3 = _mm512_dpbusd_epi32(l3, w3, bl);
      }
    } else {
      for (int g = 0; g < groups; g++) {
        const __m512i bh = _mm512_set1_epi32(xh[g]), bl = _mm512_set1_epi32(xl[g]);
        const uint8_t *pg = p + (size_t)g * 256;
        __m512i w = _mm512_loadu_si512(pg);
        h0 = _mm512_dpbusd_epi32(h0, w, bh);
        l0 = _mm512_dpbusd_epi32(l0, w, bl);
        if (nb > 1) {
          w = _mm512_loadu_si512(pg + bstride);
          h1 = _mm512_dpbusd_epi32(h1, w, bh);
          l1 = _mm512_dpbusd_epi32(l1, w, bl);
        }
        if (nb > 2) {
          w = _mm512_loadu_si512(pg + 2 * bstride);
          h2 = _mm512_dpbusd_epi32(h2, w, bh);
          l2 = _mm512_dpbusd_epi32(l2, w, bl);
        }
      }
    }
    const __m512i hs[4] = {h0, h1, h2, h3}, ls[4] = {l0, l1, l2, l3};
    for (int b = 0; b < nb; b++) {
      const int r0 = r + 16 * b, n = hi - r0 < 16 ? hi - r0 : 16;
      const __mmask16 m = (__mmask16)(0xFFFFu >> (16 - n));
      /* Σ q·x / sx = 128·Σ q·hi + Σ q·lo, each Σ (q+128)·digit − 128·Σ digit */
      const __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hs[b], corr_h)), _mm512_set1_ps(128.0f),
                                       _mm512_cvtepi32_ps(_mm512_sub_epi32(ls[b], corr_l)));
      /* (v·sx)·scale, + add as one fused multiply-add: spelled out, as GCC's -ffp-contract=fast
       * compiles the multiply and add, so that no compiler's contraction choice changes the bits */
      const __m512 vs = _mm512_mul_ps(v, sx);
      if (!scale) { /* the product before its row scales (unroll_qlstm_stack_carry finishes it) */
        _mm512_mask_storeu_ps(y + r0, m, vs);
        continue;
      }
      const __m512 sc = _mm512_maskz_loadu_ps(m, scale + r0);
      const __m512 out = add ? _mm512_fmadd_ps(vs, sc, _mm512_maskz_loadu_ps(m, add + r0)) : _mm512_mul_ps(vs, sc);
      _mm512_mask_storeu_ps(y + r0, m, out);
    }
  }
}
#endif

/* ---- bf16 weights ---- */

typedef void (*brows_fn)(const uint16_t *w, int lo, int hi, int cols, const float *x, float *y, int accumulate);

static inline float bf16_to_float(uint16_t b)
{
  const uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static void brows_portable(const uint16_t *w, int lo, int hi, int cols, const float *x, float *y, int accumulate)
{
  for (int r = lo; r < hi; r++) {
    const uint16_t *row = w + (size_t)r * cols;
    float s = 0;
    for (int k = 0; k < cols; k++) s += bf16_to_float(row[k]) * x[k];
    store(y, r, s, accumulate);
  }
}

#if QGEMV_X86
AVX512 static inline __m512 bcvt16(const uint16_t *p)
{
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

AVX512 static float btail512(const uint16_t *row, const float *x, int k, int cols, __m512 acc)
{
  for (; k + 16 <= cols; k += 16) acc = _mm512_fmadd_ps(bcvt16(row + k), _mm512_loadu_ps(x + k), acc);
  float s = _mm512_reduce_add_ps(acc);
  for (; k < cols; k++) s += bf16_to_float(row[k]) * x[k];
  return s;
}

AVX512 static void brows_avx512(const uint16_t *w, int lo, int hi, int cols, const float *x, float *y, int accumulate)
{
  int r = lo;
  for (; r + 4 <= hi; r += 4) {
    const uint16_t *w0 = w + (size_t)r * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k + 16 <= cols; k += 16) {
      const __m512 x0 = _mm512_loadu_ps(x + k);
      a0 = _mm512_fmadd_ps(bcvt16(w0 + k), x0, a0);
      a1 = _mm512_fmadd_ps(bcvt16(w1 + k), x0, a1);
      a2 = _mm512_fmadd_ps(bcvt16(w2 + k), x0, a2);
      a3 = _mm512_fmadd_ps(bcvt16(w3 + k), x0, a3);
    }
    store(y, r, btail512(w0, x, k, cols, a0), accumulate);
    store(y, r + 1, btail512(w1, x, k, cols, a1), accumulate);
    store(y, r + 2, btail512(w2, x, k, cols, a2), accumulate);
    store(y, r + 3, btail512(w3, x, k, cols, a3), accumulate);
  }
  for (; r < hi; r++) store(y, r, btail512(w + (size_t)r * cols, x, 0, cols, _mm512_setzero_ps()), accumulate);
}

AVX2 static inline __m256 bcvt8(const uint16_t *p)
{
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

AVX2 static float btail256(const uint16_t *row, const float *x, int k, int cols, __m256 acc)
{
  for (; k + 8 <= cols; k += 8) acc = _mm256_fmadd_ps(bcvt8(row + k), _mm256_loadu_ps(x + k), acc);
  __m128 v = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  v = _mm_add_ps(v, _mm_movehl_ps(v, v));
  v = _mm_add_ss(v, _mm_shuffle_ps(v, v, 1));
  float s = _mm_cvtss_f32(v);
  for (; k < cols; k++) s += bf16_to_float(row[k]) * x[k];
  return s;
}

AVX2 static void brows_avx2(const uint16_t *w, int lo, int hi, int cols, const float *x, float *y, int accumulate)
{
  int r = lo;
  for (; r + 4 <= hi; r += 4) {
    const uint16_t *w0 = w + (size_t)r * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k + 8 <= cols; k += 8) {
      const __m256 x0 = _mm256_loadu_ps(x + k);
      a0 = _mm256_fmadd_ps(bcvt8(w0 + k), x0, a0);
      a1 = _mm256_fmadd_ps(bcvt8(w1 + k), x0, a1);
      a2 = _mm256_fmadd_ps(bcvt8(w2 + k), x0, a2);
      a3 = _mm256_fmadd_ps(bcvt8(w3 + k), x0, a3);
    }
    store(y, r, btail256(w0, x, k, cols, a0), accumulate);
    store(y, r + 1, btail256(w1, x, k, cols, a1), accumulate);
    store(y, r + 2, btail256(w2, x, k, cols, a2), accumulate);
    store(y, r + 3, btail256(w3, x, k, cols, a3), accumulate);
  }
  for (; r < hi; r++) store(y, r, btail256(w + (size_t)r * cols, x, 0, cols, _mm256_setzero_ps()), accumulate);
}

#define BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

/*
 * Packed bf16 layout (unroll_bgemv_packed_size): tiles of 16 rows × 2 columns, 64 bytes each,
 * element 2·i + j = w[64s + 16b + i][2g + j] (padded with zeros), tile (s, g, b) at
 * ((s · ⌈cols/2⌉ + g) · 4 + b) · 32 elements (as for int8, a stripe's four tiles are adjacent).
 * One vdpbf16ps multiplies a tile by a broadcast pair of x and adds into 16 lanes.
 * xs holds bf16(x) then bf16(x − bf16(x)), each padded with zeros to a multiple of 32.
 */
BF16 static void brows_bf16(const uint16_t *packed, int lo, int hi, int cols, const uint16_t *xs, float *y,
                            const float *add)
{
  const int groups = (cols + 1) / 2;
  const int padded = (cols + 31) / 32 * 32;
  const uint32_t *xh = (const uint32_t *)xs, *xl = (const uint32_t *)(xs + padded);
  const size_t bstride = 32;
  for (int r = lo; r < hi; r += 64) {
    const int nb = (hi - r + 15) / 16 < 4 ? (hi - r + 15) / 16 : 4;
    const uint16_t *p = packed + (size_t)((r - lo) / 64) * groups * 128;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    if (nb == 4) {
      for (int g = 0; g < groups; g++) {
        const __m512bh bh = (__m512bh)_mm512_set1_epi32((int)xh[g]), bl = (__m512bh)_mm512_set1_epi32((int)xl[g]);
        const uint16_t *pg = p + (size_t)g * 128;
        const __m512bh w0 = (__m512bh)_mm512_loadu_si512(pg), w1 = (__m512bh)_mm512_loadu_si512(pg + bstride),
                       w2 = (__m512bh)_mm512_loadu_si512(pg + 2 * bstride), w3 = (__m512bh)_mm512_loadu_si512(pg + 3 * bstride);
        a0 = _mm512_dpbf16_ps(_mm512_dpbf16_ps(a0, w0, bh), w0, bl);
        a1 = _mm512_dpbf16_ps(_mm512_dpbf16_ps(a1, w1, bh), w1, bl);
        a2 = _mm512_dpbf16_ps(_mm512_dpbf16_ps(a2, w2, bh), w2, bl);
        a3 = _mm512_dpbf16_ps(_mm512_dpbf16_ps(a3, w3, bh), w3, bl);
      }
    } else {
      for (int g = 0; g < groups; g++) {
        const __m512bh bh = (__m512bh)_mm512_set1_epi32((int)xh[g]), bl = (__m512bh)_mm512_set1_epi32((int)xl[g]);
        const uint16_t *pg = p + (size_t)g * 128;
        __m512bh w = (__m512bh)_mm512_loadu_si512(pg);
        a0 = _mm512_dpbf16_ps(_mm512_dpbf16_ps(a0, w, bh), w, bl);
        if (nb > 1) {
          w = (__m512bh)_mm512_loadu_si512(pg + bstride);
          a1 = _mm512_dpbf16_ps(_mm512_dpbf16_ps(a1, w, bh), w, bl);
        }
        if (nb > 2) {
          w = (__m512bh)_mm512_loadu_si512(pg + 2 * bstride);
          a2 = _mm512_dpbf16_ps(_mm512_dpbf16_ps(a2, w, bh), w, bl);
        }
      }
    }
    const __m512 as[4] = {a0, a1, a2, a3};
    for (int b = 0; b < nb; b++) {
      const int r0 = r + 16 * b, n = hi - r0 < 16 ? hi - r0 : 16;
      const __mmask16 m = (__mmask16)(0xFFFFu >> (16 - n));
      __m512 out = as[b];
      if (add) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(m, add + r0));
      _mm512_mask_storeu_ps(y + r0, m, out);
    }
  }
}
#endif

/* bf16 of a float, rounded to nearest even (x finite). */
static inline uint16_t float_to_bf16(float f)
{
  uint32_t u;
  memcpy(&u, &f, 4);
  return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
}

#if QGEMV_X86
/* bf16(x) then bf16(x − bf16(x)), each padded with zeros to a multiple of 32; NULL when x is not finite. */
static const uint16_t *split_bf16(const float *x, int cols, int slot)
{
  const size_t padded = ((size_t)cols + 31) / 32 * 32;
  uint16_t *xs = (uint16_t *)scratch_slot(slot, 4 * padded);
  if (!xs) return NULL;
  memset(xs, 0, 4 * padded);
  for (int k = 0; k < cols; k++) {
    if (!(fabsf(x[k]) <= 3.4e38f)) return NULL;
    const uint16_t h = float_to_bf16(x[k]);
    xs[k] = h;
    xs[padded + k] = float_to_bf16(x[k] - bf16_to_float(h));
  }
  return xs;
}
#endif

/* ---- features and dispatch ---- */

static int cpu_vnni = -1, cpu_bf16 = -1;
static int dot_enabled = 1;

static void detect_features(void)
{
  if (cpu_vnni >= 0) return;
  cpu_vnni = cpu_bf16 = 0;
#if QGEMV_X86
  unsigned a, b, c, d;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    cpu_vnni = (int)((c >> 11) & 1);
    if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) cpu_bf16 = (int)((a >> 5) & 1);
  }
#endif
}

/* The dot-product kernels run only on the AVX-512 tier (the OS saves zmm state) and when enabled. */
static int use_vnni(void)
{
  detect_features();
  return dot_enabled && cpu_vnni && unroll_current_isa() == UNROLL_ISA_AVX512;
}

static int use_bf16dot(void)
{
  detect_features();
  return dot_enabled && cpu_bf16 && unroll_current_isa() == UNROLL_ISA_AVX512;
}

int unroll_qgemv_set_dot(int enabled)
{
  const int was = dot_enabled;
  dot_enabled = enabled != 0;
  return was;
}

const char *unroll_qgemv_kernel(void)
{
  if (use_vnni()) return "avx512-vnni";
  return unroll_isa_name(unroll_current_isa());
}

const char *unroll_bgemv_kernel(void)
{
  if (use_bf16dot()) return "avx512-bf16";
  return unroll_isa_name(unroll_current_isa());
}

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

static brows_fn bkernel(void)
{
#if QGEMV_X86
  switch (unroll_current_isa()) {
  case UNROLL_ISA_AVX512: return brows_avx512;
  case UNROLL_ISA_AVX2: return brows_avx2;
  default: break;
  }
#endif
  return brows_portable;
}

size_t unroll_qgemv_packed_size(int rows, int cols)
{
  return (size_t)((rows + 63) / 64) * 64 * (size_t)((cols + 3) / 4) * 4;
}

size_t unroll_bgemv_packed_size(int rows, int cols)
{
  return (size_t)((rows + 63) / 64) * 64 * (size_t)((cols + 1) / 2) * 2;
}

/*
 * Offset of row r's column group g in a packed matrix of `groups` groups, tiles of `tile` elements
 * (int8 64, bf16 32). In gate order (`gate_stripes` > 0: four gates of gate_stripes stripes each),
 * stripe s of gate s / gate_stripes sits at position 4·(s mod gate_stripes) + gate, so the four
 * gates' stripes of a 64-unit block are adjacent.
 */
static size_t tile_offset(int r, int g, int groups, int tile, int gate_stripes)
{
  size_t s = (size_t)(r / 64);
  if (gate_stripes > 0) s = (s % (size_t)gate_stripes) * 4 + s / (size_t)gate_stripes;
  return ((s * groups + g) * 4 + (r % 64) / 16) * tile;
}

void unroll_qgemv_pack(const int8_t *q, int rows, int cols, int gate_order, uint8_t *packed)
{
  const int groups = (cols + 3) / 4, gs = gate_order ? rows / 256 : 0;
  memset(packed, 128, unroll_qgemv_packed_size(rows, cols));
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < cols; k++)
      packed[tile_offset(r, k / 4, groups, 64, gs) + (r % 16) * 4 + k % 4] = (uint8_t)(q[(size_t)r * cols + k] + 128);
}

void unroll_bgemv_pack(const uint16_t *w, int rows, int cols, int gate_order, uint16_t *packed)
{
  const int groups = (cols + 1) / 2, gs = gate_order ? rows / 256 : 0;
  memset(packed, 0, unroll_bgemv_packed_size(rows, cols) * 2);
  for (int r = 0; r < rows; r++)
    for (int k = 0; k < cols; k++)
      packed[tile_offset(r, k / 2, groups, 32, gs) + (r % 16) * 2 + k % 2] = w[(size_t)r * cols + k];
}

/* Elements of one 64-row stripe of a packed matrix of `cols` columns: int8 ⌈cols/4⌉ tile groups of 256 bytes, bf16 ⌈cols/2⌉ of 128. */
static size_t stripe_elems(int bf16, int cols)
{
  return bf16 ? (size_t)((cols + 1) / 2) * 128 : (size_t)((cols + 3) / 4) * 256;
}

typedef struct {
  rows_fn fn;
  brows_fn bfn;
  const int8_t *q;
  const uint8_t *qpacked;
  const uint16_t *w, *wpacked, *xs;
  const float *scale, *x, *bias;
  const qx_digits *d;
  float *y;
  int rows, cols, accumulate;
} qgemv_job;

static void qgemv_rows(const qgemv_job *j, int lo, int hi)
{
#if QGEMV_X86
  if (j->d)
    rows_vnni(j->qpacked + (size_t)(lo / 64) * stripe_elems(0, j->cols), j->scale, lo, hi, j->cols, j->d, j->y, j->accumulate ? j->y : NULL);
  else if (j->xs)
    brows_bf16(j->wpacked + (size_t)(lo / 64) * stripe_elems(1, j->cols), lo, hi, j->cols, j->xs, j->y, j->accumulate ? j->y : NULL);
  else
#endif
  if (j->bfn)
    j->bfn(j->w, lo, hi, j->cols, j->x, j->y, j->accumulate);
  else
    j->fn(j->q, j->scale, lo, hi, j->cols, j->x, j->y, j->accumulate);
  if (j->bias)
    for (int r = lo; r < hi; r++) j->y[r] += j->bias[r];
}

static void qgemv_block(void *ctx, size_t block)
{
  const qgemv_job *j = (const qgemv_job *)ctx;
  const int lo = (int)block * BLOCK_ROWS;
  const int hi = lo + BLOCK_ROWS < j->rows ? lo + BLOCK_ROWS : j->rows;
  qgemv_rows(j, lo, hi);
}

static void run(const qgemv_job *j)
{
  const int nblocks = (j->rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
  if (unroll_pool_threads() < 2 || nblocks < 2 || (long long)j->rows * j->cols < PARALLEL_MIN) {
    qgemv_rows(j, 0, j->rows);
    return;
  }
  unroll_pool_for_affine((size_t)nblocks, qgemv_block, (void *)j, 0);
}

void unroll_qgemv(const int8_t *q, const uint8_t *packed, const float *scale, int rows, int cols, const float *x,
                  const float *bias, float *y, int accumulate)
{
  if (rows <= 0) return;
  qgemv_job j = {kernel(), NULL, q, packed, NULL, NULL, NULL, scale, x, bias, NULL, y, rows, cols, accumulate};
#if QGEMV_X86
  qx_digits d;
  if (packed && cols > 0 && cols <= 65536 && use_vnni() && split_digits(x, cols, &d, 0)) j.d = &d;
#endif
  run(&j);
}

void unroll_bgemv(const uint16_t *w, const uint16_t *packed, int rows, int cols, const float *x, const float *bias,
                  float *y, int accumulate)
{
  if (rows <= 0) return;
  qgemv_job j = {NULL, bkernel(), NULL, NULL, w, packed, NULL, NULL, x, bias, NULL, y, rows, cols, accumulate};
#if QGEMV_X86
  if (packed && cols > 0 && use_bf16dot()) j.xs = split_bf16(x, cols, 0);
#endif
  run(&j);
}

/* ---- one batch-1 LSTM layer step on packed compact weights ---- */

typedef struct {
  int H, in, bf16;
  const void *wih, *whh; /* packed: uint8 (int8 + 128) or bf16 */
  const float *sih, *shh; /* int8 row scales */
#if QGEMV_X86
  const qx_digits *dx, *dh;
#endif
  const uint16_t *xsx, *xsh;
  const float *bias;
  const float *gin; /* what W_hh h adds to: g itself, or the input side of the gates given apart */
  float *g, *c, *h;
  /* W_hh h made ahead (unroll_qlstm_carry's ahead), before its row scales; NULL: none */
  const float *ahead;
  int *made; /* per 64-unit block: 0 not begun (the step claims it), 1 being made, 2 made */
} qlstm_job;

#if QGEMV_X86
VNNI static void finish_vnni(int n, const float *pre, const float *scale, const float *row, float *g);
VNNI static void finish_bf16(int n, const float *pre, const float *row, float *g);
#endif
/* Blocks of layer 1 that a step finished from products made ahead (unroll_qlstm_ahead_used). */
static unsigned long ahead_used;

/*
 * Units [64·blk, 64·blk + 64): the four gates' 64-row stripes of W_ih x (+ bias) and W_hh h, in
 * the order and with the roundings of unroll_qgemv / unroll_bgemv called apart, then the cell.
 */
static void qlstm_block(void *ctx, size_t blk)
{
#if QGEMV_X86
  const qlstm_job *j = (const qlstm_job *)ctx;
  const int H = j->H, u0 = (int)blk * 64;
  /* stripe 4·blk + q of a gate-order pack */
  const size_t sih = stripe_elems(j->bf16, j->in), shh = stripe_elems(j->bf16, H);
  int unbegun = 0;
  const int ahead = j->made && !__atomic_compare_exchange_n(&j->made[blk], &unbegun, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  for (int q = 0; q < 4; q++) {
    const int r0 = q * H + u0, r1 = r0 + 64;
    const size_t s = 4 * blk + (size_t)q;
    if (j->wih) {
      if (j->bf16)
        brows_bf16((const uint16_t *)j->wih + s * sih, r0, r1, j->in, j->xsx, j->g, NULL);
      else
        rows_vnni((const uint8_t *)j->wih + s * sih, j->sih, r0, r1, j->in, j->dx, j->g, NULL);
      if (j->bias)
        for (int r = r0; r < r1; r++) j->g[r] += j->bias[r];
    }
    if (ahead) continue;
    if (j->bf16)
      brows_bf16((const uint16_t *)j->whh + s * shh, r0, r1, H, j->xsh, j->g, j->gin);
    else
      rows_vnni((const uint8_t *)j->whh + s * shh, j->shh, r0, r1, H, j->dh, j->g, j->gin);
  }
  if (ahead) { /* made, or being made, by an idle worker since the last step: finished as rows_* would */
    unroll_pool_wait_for(&j->made[blk], 2);
    for (int q = 0; q < 4; q++) {
      const int r0 = q * H + u0;
      if (j->bf16)
        finish_bf16(64, j->ahead + r0, j->gin + r0, j->g + r0);
      else
        finish_vnni(64, j->ahead + r0, j->shh + r0, j->gin + r0, j->g + r0);
    }
    __atomic_add_fetch(&ahead_used, 1, __ATOMIC_RELAXED);
  }
  unroll_lstm_cell_part(H, 64, j->g + u0, j->c + u0, j->h + u0);
#else
  (void)ctx, (void)blk;
#endif
}

int unroll_qlstm_layer(int bf16, int H, int in, const void *wih, const float *sih, const float *x, const void *whh,
                       const float *shh, const float *bias, float *g, float *c, float *h, int descending)
{
#if QGEMV_X86
  if (H <= 0 || H % 64 != 0 || H > 65536 || in > 65536 || (wih && in <= 0)) return 0;
  if (bf16 ? !use_bf16dot() : !use_vnni()) return 0;
  qx_digits dx, dh;
  /* without W_ih, x (when given) is the gates' input side (4H), e.g. a row of a token table */
  qlstm_job j = {H, in, bf16, wih, whh, sih, shh, NULL, NULL, NULL, NULL, bias, wih || !x ? g : x, g, c, h};
  /* x and h are read as digits (copies), so the blocks may write h while others still multiply by it */
  if (bf16) {
    if ((wih && !(j.xsx = split_bf16(x, in, 0))) || !(j.xsh = split_bf16(h, H, 1))) return 0;
  } else {
    if ((wih && !split_digits(x, in, &dx, 0)) || !split_digits(h, H, &dh, 1)) return 0;
    j.dx = wih ? &dx : NULL;
    j.dh = &dh;
  }
  const size_t nblocks = (size_t)(H / 64);
  if (unroll_pool_threads() < 2 || 4LL * H * ((wih ? in : 0) + H) < PARALLEL_MIN)
    for (size_t k = 0; k < nblocks; k++) qlstm_block(&j, k);
  else
    unroll_pool_for_affine(nblocks, qlstm_block, &j, descending);
  return 1;
#else
  (void)bf16, (void)H, (void)in, (void)wih, (void)sih, (void)x, (void)whh, (void)shh, (void)bias, (void)g, (void)c,
      (void)h, (void)descending;
  return 0;
#endif
}

/* Layers [from, to) of unroll_qlstm_stack; returns the layer that declined, or `to`. */
static int stack_layers(int bf16, int from, int to, int H, const unroll_qlstm_weights *w, const float *row, float *g, float *h,
                        float *c, unsigned *descending)
{
  for (int l = from; l < to; l++) {
    const int down = (int)((*descending >> l) & 1u);
    const int ran = l == 0 ? unroll_qlstm_layer(bf16, H, 0, NULL, NULL, row, w[0].whh, w[0].shh, NULL, g, c, h, down)
                           : unroll_qlstm_layer(bf16, H, H, w[l].wih, w[l].sih, h + (size_t)(l - 1) * H, w[l].whh, w[l].shh,
                                                w[l].bias, g, c + (size_t)l * H, h + (size_t)l * H, down);
    if (!ran) return l;
    *descending ^= 1u << l;
  }
  return to;
}

int unroll_qlstm_stack(int bf16, int L, int H, const unroll_qlstm_weights *w, const float *row, float *g, float *h,
                       float *c, unsigned *descending)
{
  return stack_layers(bf16, 0, L, H, w, row, g, h, c, descending);
}

/* ---- the stack with layer 0's W_hh products carried to the next step ---- */

typedef struct {
  qlstm_job l1; /* layer 1 */
  const void *whh0;
  float *pre;
} carry_job;

/*
 * Item i of the carried phase: block i / 2 of layer 1 (i even), or the four 64-row stripes of
 * layer 0's W_hh h0 for the same units (i odd), stored before their row scales (int8) or
 * their input side (bf16). A thread's part holds both kinds for a run of units.
 */
static void carry_item(void *ctx, size_t i)
{
#if QGEMV_X86
  const carry_job *j = (const carry_job *)ctx;
  const size_t blk = i / 2;
  if (i % 2 == 0) {
    qlstm_block((void *)&j->l1, blk);
    return;
  }
  const int H = j->l1.H, u0 = (int)blk * 64;
  const size_t shh = stripe_elems(j->l1.bf16, H);
  for (int q = 0; q < 4; q++) {
    const int r0 = q * H + u0, r1 = r0 + 64;
    const size_t s = 4 * blk + (size_t)q;
    /* h0 is layer 1's input x: its digits (or bf16 halves) serve both products */
    if (j->l1.bf16)
      brows_bf16((const uint16_t *)j->whh0 + s * shh, r0, r1, H, j->l1.xsx, j->pre, NULL);
    else
      rows_vnni((const uint8_t *)j->whh0 + s * shh, NULL, r0, r1, H, j->l1.dx, j->pre, NULL);
  }
#else
  (void)ctx, (void)i;
#endif
}

#if QGEMV_X86
/* g ← the carried W_hh h0 finished as rows_vnni / brows_bf16 would have: fma(pre, scale, row), or pre + row. */
VNNI static void finish_vnni(int n, const float *pre, const float *scale, const float *row, float *g)
{
  for (int r = 0; r < n; r += 16)
    _mm512_storeu_ps(g + r, _mm512_fmadd_ps(_mm512_loadu_ps(pre + r), _mm512_loadu_ps(scale + r), _mm512_loadu_ps(row + r)));
}

VNNI static void finish_bf16(int n, const float *pre, const float *row, float *g)
{
  for (int r = 0; r < n; r += 16) _mm512_storeu_ps(g + r, _mm512_add_ps(_mm512_loadu_ps(pre + r), _mm512_loadu_ps(row + r)));
}
#endif

/*
 * Layer 1's W_hh h1 for the next step, made by an idle worker while the caller finishes the step
 * (the output layer, the choice of a token, JavaScript): h1 is known once the carried pass ends,
 * and only W_ih h0 of layer 1 waits for the next token. The worker makes whole 64-unit blocks
 * (four gate stripes, before their row scales) from its copy of h1 until the next step begins
 * (`stop`), claiming each through `made`; the next step finishes those from them and multiplies the
 * others itself, when its h1 is still the copy bit for bit. Which blocks were made ahead depends
 * on timing, the results never do.
 */
struct unroll_qlstm_ahead {
  unroll_idle_job job; /* first: the pool hands back this pointer */
  int H, bf16, posted;
  const void *whh1;
  volatile int stop;
  float *pre;  /* 4H */
  float *h1;   /* H, the copy the products are made from */
  int *made;   /* H / 64 */
};

static int ahead_enabled = 1;

int unroll_qlstm_set_ahead(int on)
{
  const int was = ahead_enabled;
  ahead_enabled = on != 0;
  return was;
}

unsigned long unroll_qlstm_ahead_used(void) { return __atomic_load_n(&ahead_used, __ATOMIC_RELAXED); }

static void ahead_run(unroll_idle_job *job)
{
#if QGEMV_X86
  unroll_qlstm_ahead *a = (unroll_qlstm_ahead *)job;
  const int H = a->H, nb = H / 64;
  qx_digits dh;
  const uint16_t *xs = NULL;
  if (a->bf16 ? !(xs = split_bf16(a->h1, H, 1)) : !split_digits(a->h1, H, &dh, 1)) return;
  const size_t shh = stripe_elems(a->bf16, H);
  /* from the last block: a thread's own part of the carried pass comes last in it (two threads) */
  for (int b = nb - 1; b >= 0; b--) {
    int unbegun = 0;
    if (__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) return;
    if (!__atomic_compare_exchange_n(&a->made[b], &unbegun, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
    for (int q = 0; q < 4; q++) {
      const int r0 = q * H + 64 * b;
      const size_t s = 4 * (size_t)b + (size_t)q;
      if (a->bf16)
        brows_bf16((const uint16_t *)a->whh1 + s * shh, r0, r0 + 64, H, xs, a->pre, NULL);
      else
        rows_vnni((const uint8_t *)a->whh1 + s * shh, NULL, r0, r0 + 64, H, &dh, a->pre, NULL);
    }
    __atomic_store_n(&a->made[b], 2, __ATOMIC_RELEASE);
  }
#else
  (void)job;
#endif
}

/* The products made ahead for this step's layer 1, or NULL; stops the worker making them. */
static unroll_qlstm_ahead *ahead_for(unroll_qlstm_carry *carry, int bf16, int H, const void *whh1, const float *h1)
{
  unroll_qlstm_ahead *a = carry->ahead;
  if (!a || !a->posted) return NULL;
  __atomic_store_n(&a->stop, 1, __ATOMIC_RELEASE);
  return a->H == H && a->bf16 == bf16 && a->whh1 == whh1 && memcmp(a->h1, h1, (size_t)H * sizeof(float)) == 0 ? a : NULL;
}

/* After a step: the worker's job taken back, and posted again for the h1 just made (a step over the pool). */
static void ahead_post(unroll_qlstm_carry *carry, int pooled, int bf16, int H, const void *whh1, const float *h1)
{
  unroll_qlstm_ahead *a = carry->ahead;
  if (a && a->posted) {
    unroll_pool_idle_withdraw(&a->job);
    a->posted = 0;
  }
  if (!pooled || !ahead_enabled) return;
  if (a && a->H != H) {
    unroll_qlstm_carry_release(carry);
    a = NULL;
  }
  if (!a) {
    const size_t nb = (size_t)H / 64, bytes = (5 * (size_t)H * sizeof(float) + nb * sizeof(int) + 63) / 64 * 64;
    a = (unroll_qlstm_ahead *)calloc(1, sizeof *a);
    float *mem = a ? (float *)aligned_alloc(64, bytes) : NULL;
    if (!mem) {
      free(a);
      return; /* the steps multiply W_hh h1 themselves: the same results */
    }
    a->job.fn = ahead_run;
    a->H = H;
    a->pre = mem;
    a->h1 = mem + 4 * (size_t)H;
    a->made = (int *)(mem + 5 * (size_t)H);
    carry->ahead = a;
  }
  a->bf16 = bf16;
  a->whh1 = whh1;
  a->stop = 0;
  memset(a->made, 0, (size_t)(H / 64) * sizeof(int));
  memcpy(a->h1, h1, (size_t)H * sizeof(float));
  unroll_pool_idle_post(&a->job);
  a->posted = 1;
}

void unroll_qlstm_carry_release(unroll_qlstm_carry *carry)
{
  unroll_qlstm_ahead *a = carry->ahead;
  if (!a) return;
  if (a->posted) unroll_pool_idle_withdraw(&a->job);
  free(a->pre);
  free(a);
  carry->ahead = NULL;
}

int unroll_qlstm_stack_carry(int bf16, int L, int H, const unroll_qlstm_weights *w, const float *row, float *g, float *h,
                             float *c, unsigned *descending, unroll_qlstm_carry *carry)
{
#if QGEMV_X86
  const int valid = carry->valid;
  carry->valid = 0;
  if (L < 2 || H <= 0 || H % 64 != 0 || H > 65536 || (bf16 ? !use_bf16dot() : !use_vnni()))
    return unroll_qlstm_stack(bf16, L, H, w, row, g, h, c, descending);
  const int G = 4 * H;
  /* layer 0: its W_hh h0 came with the last step when h0 is still the one it was made from */
  if (valid && memcmp(carry->h0, h, (size_t)H * sizeof(float)) == 0) {
    const float *in = row ? row : g; /* in place: each element read before it is written */
    if (bf16)
      finish_bf16(G, carry->pre, in, g);
    else
      finish_vnni(G, carry->pre, w[0].shh, in, g);
    unroll_lstm_cell(H, g, c, h);
  } else if (stack_layers(bf16, 0, 1, H, w, row, g, h, c, descending) == 0) {
    return 0;
  }
  /* layer 1 and the next step's W_hh h0, in one pass over the pool */
  const float *h0 = h, *h1 = h + H;
  qx_digits dx, dh;
  carry_job j = {{H, H, bf16, w[1].wih, w[1].whh, w[1].sih, w[1].shh, NULL, NULL, NULL, NULL, w[1].bias, g, g, c + H, h + H},
                 w[0].whh, carry->pre};
  if (bf16) {
    if (!(j.l1.xsx = split_bf16(h0, H, 0)) || !(j.l1.xsh = split_bf16(h1, H, 1))) return 1;
  } else {
    if (!split_digits(h0, H, &dx, 0) || !split_digits(h1, H, &dh, 1)) return 1;
    j.l1.dx = &dx;
    j.l1.dh = &dh;
  }
  const size_t items = 2 * (size_t)(H / 64);
  const int down = (int)((*descending >> 1) & 1u); /* layer 1's bit: layer 1 runs in this pass */
  const int pooled = unroll_pool_threads() >= 2 && 12LL * H * H >= PARALLEL_MIN;
  const unroll_qlstm_ahead *a = ahead_for(carry, bf16, H, w[1].whh, h1);
  if (a) {
    j.l1.ahead = a->pre;
    j.l1.made = a->made;
  }
  if (!pooled) /* small: on this thread, as unroll_qlstm_layer would */
    for (size_t k = 0; k < items; k++) carry_item(&j, down ? items - 1 - k : k);
  else
    unroll_pool_for_affine(items, carry_item, &j, down);
  *descending ^= 1u << 1;
  memcpy(carry->h0, h0, (size_t)H * sizeof(float));
  carry->valid = 1;
  ahead_post(carry, pooled, bf16, H, w[1].whh, h1);
  return stack_layers(bf16, 2, L, H, w, row, g, h, c, descending);
#else
  carry->valid = 0;
  return unroll_qlstm_stack(bf16, L, H, w, row, g, h, c, descending);
#endif
}

