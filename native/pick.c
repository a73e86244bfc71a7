/* pick.h: fdlibm's exponential (as V8 runs it) and pickToken's draw. */
#include "pick.h"

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
  double sum = 0;
  for (int v = 0; v < V; v++) {
    z[v] = (float)unroll_js_exp(((double)z[v] - max) / temperature);
    sum += z[v];
  }
  for (int v = 0; v < V; v++) z[v] = (float)(z[v] / sum);
  double total = 0;
  for (int v = 0; v < V; v++) total += z[v];
  double left = u * total;
  for (int v = 0; v < V; v++) {
    left -= z[v];
    if (left < 0) return v;
  }
  return argmax(z, V);
}
