import type { FloatArray } from "../../tensor/dtype.js";

/**
 * Reference GEMM in plain loops: C (M×N) (+)= op(A)·op(B). The loop orders keep the innermost
 * loop on contiguous memory for each of the four transpose cases.
 */
export function gemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: FloatArray,
  B: FloatArray,
  C: FloatArray,
  accumulate: boolean,
): void {
  if (!accumulate) C.fill(0, 0, M * N);
  if (!transA && !transB) {
    // C[m,:] += A[m,k] · B[k,:]
    for (let m = 0; m < M; m++) {
      const cRow = m * N;
      for (let k = 0; k < K; k++) {
        const a = A[m * K + k];
        const bRow = k * N;
        for (let n = 0; n < N; n++) C[cRow + n] += a * B[bRow + n];
      }
    }
  } else if (!transA && transB) {
    // C[m,n] += dot(A[m,:], B[n,:])
    for (let m = 0; m < M; m++) {
      const aRow = m * K;
      for (let n = 0; n < N; n++) {
        const bRow = n * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += A[aRow + k] * B[bRow + k];
        C[m * N + n] += s;
      }
    }
  } else if (transA && !transB) {
    // A stored K×M: C[m,:] += A[k,m] · B[k,:]
    for (let k = 0; k < K; k++) {
      const bRow = k * N;
      for (let m = 0; m < M; m++) {
        const a = A[k * M + m];
        const cRow = m * N;
        for (let n = 0; n < N; n++) C[cRow + n] += a * B[bRow + n];
      }
    }
  } else {
    // A stored K×M, B stored N×K: C[m,n] += Σ_k A[k,m] · B[n,k]
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[k * M + m] * B[n * K + k];
        C[m * N + n] += s;
      }
    }
  }
}
