/* pick.h: fdlibm's exponential (as V8 runs it) and pickToken's draw. */
#include "pick.h"

#include "gemm.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Compile the arithmetic as written: a fused multiply-add rounds once where V8 rounds twice. */
#if defined(__clang__)
#pragma clang fp contract(off)
#define NO_CONTRACT
#elif defined(__GNUC__)
#define NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define NO_CONTRACT
#endif

static uint32_t high_word(double x)
{
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  return (uint32_t)(b >> 32);
}

static double from_high_word(uint32_t hi)
{
  const uint64_t b = (uint64_t)hi << 32;
  double x;
  memcpy(&x, &b, sizeof x);
  return x;
}

/*
 * fdlibm's method: x = k·ln2 + r with |r| ≤ ln2/2 (r held as hi − lo), e^r = 1 + r + r·c/(2 − c)
 * with c = r − r²·P(r²), P of degree 4 (a Remez fit, error < 2^-59), then scaled by 2^k. The
 * branches, constants and order of operations are V8's (src/base/ieee754.cc), which special-cases
 * exp(1) to return E.
 */
NO_CONTRACT double unroll_js_exp(double x)
{
  static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  static const double inv_ln2 = 1.44269504088896338700e+00;
  static const double P1 = 1.66666666666666019037e-01, P2 = -2.77777777770155933842e-03, P3 = 6.61375632143793436117e-05,
                      P4 = -1.65339022054652515390e-06, P5 = 4.13813679705723846039e-08;
  static const double overflow_at = 7.09782712893383973096e+02, underflow_at = -7.45133219101941108420e+02;
  static const double two_m1000 = 9.33263618503218878990e-302, two_1023 = 8.988465674311579539e307;
  const uint32_t w = high_word(x), ax = w & 0x7FFFFFFFu;
  const int negative = (int)(w >> 31);
  if (ax >= 0x40862E42u) { /* |x| ≥ 709.78…: NaN, ±infinity, overflow, underflow */
    if (isnan(x)) return x + x;
    if (isinf(x)) return negative ? 0.0 : x;
    if (x > overflow_at) return INFINITY;
    if (x < underflow_at) return 0.0;
  }
  double hi = 0, lo = 0;
  int k = 0;
  if (ax > 0x3FD62E42u) { /* |x| > ln2/2: reduce */
    if (ax < 0x3FF0A2B2u) { /* |x| < 1.5·ln2: k = ±1 */
      if (x == 1.0) return 2.718281828459045;
      hi = negative ? x + ln2_hi : x - ln2_hi;
      lo = negative ? -ln2_lo : ln2_lo;
      k = negative ? -1 : 1;
    } else {
      k = (int)(inv_ln2 * x + (negative ? -0.5 : 0.5));
      const double t = (double)k;
      hi = x - t * ln2_hi; /* exact */
      lo = t * ln2_lo;
    }
    x = hi - lo;
  } else if (ax < 0x3E300000u) { /* |x| < 2^-28 */
    return 1.0 + x;
  }
  const double t = x * x;
  const double c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
  const double y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * two_1023;
    return y * from_high_word(0x3FF00000u + ((uint32_t)k << 20));
  }
  return y * from_high_word(0x3FF00000u + ((uint32_t)(k + 1000) << 20)) * two_m1000;
}

#if defined(__GNUC__) && !defined(UNROLL_PLAIN_C) && defined(__x86_64__)
#include <immintrin.h>
#if defined(__clang__)
#define EXP8 __attribute__((target("avx512f")))
#else
#define EXP8 __attribute__((target("avx512f"), optimize("fp-contract=off")))
#endif

/*
 * unroll_js_exp of 8 values at once: lanes with 1.5·ln2 ≤ |x| < 709.78… and −1021 ≤ k < 1024
 * (sampling's arguments, but for those near 0) take the general reduction with the same IEEE
 * operations in the same order, each rounded as the scalar code rounds it (no contraction: the
 * products and sums are separate instructions); the others go to unroll_js_exp one by one.
 */
EXP8 static void js_exp8(const double *x, double *y)
{
  const __m512d v = _mm512_loadu_pd(x);
  const __m512i bits = _mm512_castpd_si512(v), ax = _mm512_and_si512(_mm512_srli_epi64(bits, 32), _mm512_set1_epi64(0x7FFFFFFF));
  const __mmask8 negative = _mm512_test_epi64_mask(bits, _mm512_set1_epi64((long long)0x8000000000000000ull));
  __mmask8 general = _mm512_cmpge_epu64_mask(ax, _mm512_set1_epi64(0x3FF0A2B2)) & _mm512_cmplt_epu64_mask(ax, _mm512_set1_epi64(0x40862E42));
  /* k = (int)(x/ln2 ± 0.5), truncated as C truncates */
  const __m512d half = _mm512_mask_blend_pd(negative, _mm512_set1_pd(0.5), _mm512_set1_pd(-0.5));
  const __m512d kx = _mm512_add_pd(_mm512_mul_pd(_mm512_set1_pd(1.44269504088896338700e+00), v), half);
  const __m256i k = _mm512_cvttpd_epi32(_mm512_mask_blend_pd(general, _mm512_setzero_pd(), kx));
  const __m512i k64 = _mm512_cvtepi32_epi64(k);
  general &= _mm512_cmpge_epi64_mask(k64, _mm512_set1_epi64(-1021)) & _mm512_cmplt_epi64_mask(k64, _mm512_set1_epi64(1024));
  const __m512d t = _mm512_cvtepi32_pd(k);
  const __m512d hi = _mm512_sub_pd(v, _mm512_mul_pd(t, _mm512_set1_pd(6.93147180369123816490e-01)));
  const __m512d lo = _mm512_mul_pd(t, _mm512_set1_pd(1.90821492927058770002e-10));
  const __m512d r = _mm512_sub_pd(hi, lo), rr = _mm512_mul_pd(r, r);
  __m512d p = _mm512_mul_pd(rr, _mm512_set1_pd(4.13813679705723846039e-08));
  p = _mm512_mul_pd(rr, _mm512_add_pd(_mm512_set1_pd(-1.65339022054652515390e-06), p));
  p = _mm512_mul_pd(rr, _mm512_add_pd(_mm512_set1_pd(6.61375632143793436117e-05), p));
  p = _mm512_mul_pd(rr, _mm512_add_pd(_mm512_set1_pd(-2.77777777770155933842e-03), p));
  p = _mm512_mul_pd(rr, _mm512_add_pd(_mm512_set1_pd(1.66666666666666019037e-01), p));
  const __m512d c = _mm512_sub_pd(r, p);
  const __m512d q = _mm512_div_pd(_mm512_mul_pd(r, c), _mm512_sub_pd(_mm512_set1_pd(2.0), c));
  const __m512d e = _mm512_sub_pd(_mm512_set1_pd(1.0), _mm512_sub_pd(_mm512_sub_pd(lo, q), hi));
  /* × 2^k: the double whose exponent field is 1023 + k */
  const __m512i scale = _mm512_slli_epi64(_mm512_add_epi64(k64, _mm512_set1_epi64(1023)), 52);
  _mm512_storeu_pd(y, _mm512_mul_pd(e, _mm512_castsi512_pd(scale)));
  for (int i = 0; i < 8; i++)
    if (!(general >> i & 1)) y[i] = unroll_js_exp(x[i]);
}

/* a[i] ← (z[i] − max) / T and z[i] ← z[i] / sum, 8 at a time: the scalar code's IEEE operations on each lane. */
EXP8 static void pick_args8(const float *z, double max, double T, double *a)
{
  _mm512_storeu_pd(a, _mm512_div_pd(_mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(z)), _mm512_set1_pd(max)), _mm512_set1_pd(T)));
}

EXP8 static void pick_scale8(float *z, double sum)
{
  _mm256_storeu_ps(z, _mm512_cvtpd_ps(_mm512_div_pd(_mm512_cvtps_pd(_mm256_loadu_ps(z)), _mm512_set1_pd(sum))));
}
#endif

void unroll_js_exp_array(const double *x, double *y, size_t n)
{
  size_t i = 0;
#ifdef EXP8
  if (unroll_current_isa() == UNROLL_ISA_AVX512)
    for (; i + 8 <= n; i += 8) js_exp8(x + i, y + i);
#endif
  for (; i < n; i++) y[i] = unroll_js_exp(x[i]);
}

static int argmax(const float *z, int V)
{
  int best = 0;
  for (int v = 1; v < V; v++)
    if (z[v] > z[best]) best = v;
  return best;
}

NO_CONTRACT int unroll_pick_token(float *z, int V, double u, double temperature)
{
  if (u < 0) return argmax(z, V);
  double max = -INFINITY;
  for (int v = 0; v < V; v++)
    if (z[v] > max) max = z[v];
#ifdef EXP8
  const int vector = unroll_current_isa() == UNROLL_ISA_AVX512;
#endif
  double sum = 0, a[64], e[64];
  for (int v0 = 0; v0 < V; v0 += 64) {
    const int n = V - v0 < 64 ? V - v0 : 64;
    int i = 0;
#ifdef EXP8
    if (vector)
      for (; i + 8 <= n; i += 8) pick_args8(z + v0 + i, max, temperature, a + i);
#endif
    for (; i < n; i++) a[i] = ((double)z[v0 + i] - max) / temperature;
    unroll_js_exp_array(a, e, (size_t)n);
    for (i = 0; i < n; i++) {
      z[v0 + i] = (float)e[i];
      sum += z[v0 + i];
    }
  }
  int v = 0;
#ifdef EXP8
  if (vector)
    for (; v + 8 <= V; v += 8) pick_scale8(z + v, sum);
#endif
  for (; v < V; v++) z[v] = (float)(z[v] / sum);
  double total = 0;
  for (v = 0; v < V; v++) total += z[v];
  double left = u * total;
  for (v = 0; v < V; v++) {
    left -= z[v];
    if (left < 0) return v;
  }
  return argmax(z, V);
}
