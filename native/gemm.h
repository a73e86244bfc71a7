/*
 * unroll native GEMM: C (M×N) = op(A)·op(B), or C += op(A)·op(B) when `accumulate`.
 *
 * Row-major, dense, the semantics of src/backend/js/gemm.ts (the specification):
 *   op(A) is M×K: A is stored M×K, or K×M when transA.
 *   op(B) is K×N: B is stored K×N, or N×K when transB.
 * C must not overlap A or B (the N-API binding checks this).
 *
 * float32 runs a packed, cache-blocked kernel chosen at run time (AVX-512, AVX2+FMA or portable);
 * float64 (used for gradient checks only) runs plain loops.
 */
#ifndef UNROLL_GEMM_H
#define UNROLL_GEMM_H

#include <stddef.h>

/* Instruction sets of the float32 kernel, best last. */
typedef enum { UNROLL_ISA_PORTABLE = 0, UNROLL_ISA_AVX2 = 1, UNROLL_ISA_AVX512 = 2 } unroll_isa;

/* "portable", "avx2" or "avx512". */
const char *unroll_isa_name(unroll_isa isa);

/* Whether this CPU (and OS) can run `isa`. */
int unroll_isa_supported(unroll_isa isa);

/* The kernel sgemm uses now: the best supported one unless unroll_set_isa chose another. */
unroll_isa unroll_current_isa(void);

/* Makes sgemm use `isa`; returns 0 (and changes nothing) when the CPU cannot run it. */
int unroll_set_isa(unroll_isa isa);

/* The current kernel's register tile: C rows (*mr) and columns (*nr) one microkernel call computes. */
void unroll_sgemm_tile(int *mr, int *nr);

/* Returns 0, or -1 when the packing scratch could not be allocated (C is then untouched). */
int unroll_sgemm(int transA, int transB, int M, int N, int K, const float *A, const float *B, float *C,
                 int accumulate);

/* unroll_sgemm on strided operands: rows of A, B, C as stored are lda, ldb, ldc floats apart. */
int unroll_sgemm_ld(int transA, int transB, int M, int N, int K, const float *A, ptrdiff_t lda, const float *B,
                    ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate);

/*
 * unroll_sgemm_ld with a bias (N floats, or NULL) when not accumulating: C = bias + op(A)·op(B) per
 * row, the bits of filling C with the bias and then accumulating, without the pass that fills it.
 */
int unroll_sgemm_bias(int transA, int transB, int M, int N, int K, const float *A, ptrdiff_t lda, const float *B,
                      ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate, const float *bias);

/* Measured float32 FMA peak of one core in GFLOP/s with the current ISA's registers (best of runs over `seconds`). */
double unroll_peak_gflops(double seconds);
/* Read bandwidth of `threads` threads sharing a buffer of `bytes`, GB/s (peak.c); -1 when it cannot be allocated. */
double unroll_read_bandwidth(double bytes, double seconds, int threads);

void unroll_dgemm(int transA, int transB, int M, int N, int K, const double *A, const double *B, double *C,
                  int accumulate);

/* Frees this thread's packing scratch (it is grown on demand and reused across calls). */
void unroll_free_scratch(void);

#endif
