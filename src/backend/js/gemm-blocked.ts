import type { FloatArray } from "../../tensor/dtype.js";

/**
 * GEMM with 4×4 register blocking: the same product as `gemm.ts` (the reference loops), about
 * 5–10× faster in V8 because each loaded element of A and B feeds four multiply-adds and the 16
 * partial sums stay in registers. Operands are addressed through strides, so one kernel serves
 * all four transpose cases:
 *
 *   op(A)[m, k] = A[m·am + k·ak]      op(B)[k, n] = B[k·bk + n·bn]
 */
export function gemmBlocked(
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
  const am = transA ? 1 : K;
  const ak = transA ? M : 1;
  const bk = transB ? 1 : N;
  const bn = transB ? K : 1;
  const M4 = M - (M % 4);
  const N4 = N - (N % 4);
  for (let m = 0; m < M4; m += 4) {
    const a0 = m * am;
    const a1 = a0 + am;
    const a2 = a1 + am;
    const a3 = a2 + am;
    for (let n = 0; n < N4; n += 4) {
      const b0 = n * bn;
      const b1 = b0 + bn;
      const b2 = b1 + bn;
      const b3 = b2 + bn;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0; k < K; k++) {
        const ka = k * ak;
        const kb = k * bk;
        const x0 = A[a0 + ka], x1 = A[a1 + ka], x2 = A[a2 + ka], x3 = A[a3 + ka];
        const y0 = B[b0 + kb], y1 = B[b1 + kb], y2 = B[b2 + kb], y3 = B[b3 + kb];
        c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
        c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
        c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
        c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
      }
      let r = m * N + n;
      C[r] += c00; C[r + 1] += c01; C[r + 2] += c02; C[r + 3] += c03;
      r += N;
      C[r] += c10; C[r + 1] += c11; C[r + 2] += c12; C[r + 3] += c13;
      r += N;
      C[r] += c20; C[r + 1] += c21; C[r + 2] += c22; C[r + 3] += c23;
      r += N;
      C[r] += c30; C[r + 1] += c31; C[r + 2] += c32; C[r + 3] += c33;
    }
  }
  // Edges: rows M4…M−1 (all columns) and columns N4…N−1 (rows 0…M4−1), one dot product each.
  for (let m = 0; m < M; m++) {
    for (let n = m < M4 ? N4 : 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[m * am + k * ak] * B[k * bk + n * bn];
      C[m * N + n] += s;
    }
  }
}
