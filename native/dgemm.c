/*
 * float64 GEMM in the loop orders of the specification (src/backend/js/gemm.ts): float64 serves
 * gradient checks and conformance runs, where being obviously right matters more than speed.
 * The innermost loop runs over contiguous memory in each transpose case, so the compiler
 * vectorizes the NN and TN cases.
 */
#include "gemm.h"

#include <string.h>

void unroll_dgemm(int transA, int transB, int M, int N, int K, const double *restrict A, const double *restrict B,
                  double *restrict C, int accumulate)
{
  if (M <= 0 || N <= 0) return;
  if (!accumulate) memset(C, 0, (size_t)M * (size_t)N * sizeof(double));
  if (!transA && !transB) {
    /* C[m,:] += A[m,k] · B[k,:] */
    for (int m = 0; m < M; m++) {
      double *c = C + (size_t)m * N;
      for (int k = 0; k < K; k++) {
        const double a = A[(size_t)m * K + k];
        const double *b = B + (size_t)k * N;
        for (int n = 0; n < N; n++) c[n] += a * b[n];
      }
    }
  } else if (!transA && transB) {
    /* C[m,n] += dot(A[m,:], B[n,:]) */
    for (int m = 0; m < M; m++) {
      const double *a = A + (size_t)m * K;
      for (int n = 0; n < N; n++) {
        const double *b = B + (size_t)n * K;
        double s = 0.0;
        for (int k = 0; k < K; k++) s += a[k] * b[k];
        C[(size_t)m * N + n] += s;
      }
    }
  } else if (transA && !transB) {
    /* A stored K×M: C[m,:] += A[k,m] · B[k,:] */
    for (int k = 0; k < K; k++) {
      const double *b = B + (size_t)k * N;
      for (int m = 0; m < M; m++) {
        const double a = A[(size_t)k * M + m];
        double *c = C + (size_t)m * N;
        for (int n = 0; n < N; n++) c[n] += a * b[n];
      }
    }
  } else {
    /* A stored K×M, B stored N×K: C[m,n] += Σ_k A[k,m] · B[n,k] */
    for (int m = 0; m < M; m++) {
      for (int n = 0; n < N; n++) {
        const double *b = B + (size_t)n * K;
        double s = 0.0;
        for (int k = 0; k < K; k++) s += A[(size_t)k * M + m] * b[k];
        C[(size_t)m * N + n] += s;
      }
    }
  }
}
