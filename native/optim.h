/*
 * Optimizer updates and gradient-norm kernels over one flat float32 buffer of n elements: the loops
 * of src/train/optimizers.ts (adamStep, sgdStep) and src/train/clip.ts, which are the specification.
 * Each element is computed in double and rounded to float32 at every store, as JavaScript does, so
 * adam, sgd and scale are bit-identical to those loops for any thread count and ISA. Arrays must
 * not overlap (the N-API binding checks this). Large n is split over the pool (pool.h).
 */
#ifndef UNROLL_OPTIM_H
#define UNROLL_OPTIM_H

#include <stddef.h>

/*
 * The updates take an optional `backup` (n floats, or NULL). With one, the update is guarded: p is
 * copied there before it changes, and the call returns Σ p² after the update, the bits of
 * unroll_sum_squares(p, n), so that a caller can check the result and undo it without two more
 * passes over p. Without one they return 0.
 */

/*
 * Adam / AdamW, per element:
 *   p ← p·shrink;  d = g + l2·p;  m ← b1·m + (1−b1)·d;  v ← b2·v + (1−b2)·d·d;
 *   p ← p − stepSize · m / (√v / sqrtCorrection2 + eps)
 */
double unroll_adam(float *p, const float *g, float *m, float *v, float *backup, size_t n, double shrink, double l2,
                   double b1, double b2, double stepSize, double sqrtCorrection2, double eps);

/*
 * SGD, per element: d = g + wd·p; with a momentum buffer b (non-null): b ← d on the first step, else
 * mu·b + d, then d = d + mu·b (Nesterov) or b;  p ← p − lr·d.
 */
double unroll_sgd(float *p, const float *g, float *b, float *backup, size_t n, double lr, double wd, double mu,
                  int nesterov, int firstStep);

/*
 * Σ x² in double, by fixed blocks of UNROLL_SUMSQ_BLOCK elements (16 lanes each), the block sums
 * added in block order: the same for every thread count and ISA.
 */
#define UNROLL_SUMSQ_BLOCK 8192
double unroll_sum_squares(const float *x, size_t n);

/* x ← x·s (rounded to float32), per element. */
void unroll_scale(float *x, size_t n, double s);

/* x (n floats) ← copies of row (w floats, n a multiple of w), or zeros when row is NULL. */
void unroll_fill(float *x, size_t n, const float *row, size_t w);

#endif
