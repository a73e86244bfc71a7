/*
 * int8 matrix–vector product with per-row float32 scales (qgemv.c), for batch-1 inference with
 * quantized weights (src/generate/quantized.ts):
 *
 *   y[r] = scale[r] · Σ_k q[r·cols + k] · x[k]        (y[r] += … when `accumulate`)
 *
 * q is rows × cols int8, row-major; x has cols floats, y rows floats. The sum is accumulated in
 * float32 (each q converted exactly to float32). Kernels: AVX-512, AVX2+FMA or portable C, picked
 * with sgemm's ISA (unroll_current_isa). Large products split their rows over the addon's pool;
 * every row is computed by one thread in a fixed order, so results do not depend on the thread
 * count.
 */
#ifndef UNROLL_QGEMV_H
#define UNROLL_QGEMV_H

#include <stddef.h>
#include <stdint.h>

void unroll_qgemv(const int8_t *q, const float *scale, int rows, int cols, const float *x, float *y, int accumulate);

#endif
