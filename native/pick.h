/*
 * Choosing the next token from logits as src/generate/sample.ts's `pickToken` does for plain
 * multinomial sampling (no top-k, no top-p) and for argmax, with the same arithmetic in the same
 * order, so that a uniform draw u gives the same token and leaves the same probabilities in z:
 *
 *   z ← softmax(z / T) in place (each e^((z_v − max)/T) in double, stored as float; their sum in
 *   double; each divided by it and stored as float), then the first v at which u·Σz minus the
 *   running sum of z drops below 0 (the most likely token where rounding leaves none).
 *
 * The exponential is JavaScript's: V8 computes Math.exp with fdlibm's algorithm (its e_exp.c) in
 * IEEE double arithmetic without fused multiply-adds, and so does unroll_js_exp. The binding checks
 * it against Math.exp before it lets a sampler use this.
 */
#ifndef UNROLL_PICK_H
#define UNROLL_PICK_H

#include <stddef.h>

/* e^x as V8's Math.exp computes it, bit for bit. */
double unroll_js_exp(double x);

/* y[i] ← unroll_js_exp(x[i]), 8 at a time where the CPU has AVX-512 (the same bits). */
void unroll_js_exp_array(const double *x, double *y, size_t n);

/* The token pickToken chooses from z (V > 0 logits) with the draw u ∈ [0, 1) at temperature T > 0; u < 0: argmax (z unchanged). */
int unroll_pick_token(float *z, int V, double u, double temperature);

#endif
