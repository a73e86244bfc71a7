/*
 * Scatter-add of rows by index (the token-input backward of src/sequence/unroll.ts, which is the
 * specification):
 *
 *   for n = 0 … N−1:  for c = 0 … width−1:  out[ids[n]·width + c] += src[n·width + c]
 *
 * in float32, with the additions into each element in the same order (n ascending), so the result
 * is bit-identical to that loop for any thread count and ISA. The caller guarantees every id is in
 * range and that out and src do not overlap (the N-API binding checks both).
 */
#ifndef UNROLL_SCATTER_H
#define UNROLL_SCATTER_H

#include <stddef.h>

void unroll_scatter_add_rows(float *out, const float *src, const int *ids, size_t N, size_t width);

#endif
