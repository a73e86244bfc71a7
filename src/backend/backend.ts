import type { FloatArray } from "../tensor/dtype.js";

/**
 * The seam between model code and compute. Model code calls only these kernels; a backend
 * (plain TypeScript, WebAssembly, native) implements them. All buffers are dense row-major views
 * (use `subarray` for offsets); every kernel works for Float32Array and Float64Array alike.
 *
 * Fused per-step kernels are optional: a cell uses its backend's fused kernel when present, and
 * its own plain loops (the specification) otherwise.
 */
export interface Backend {
  readonly name: string;

  /**
   * General matrix multiply: C (M×N) = op(A)·op(B), or C += op(A)·op(B) when `accumulate`.
   * op(A) is M×K: A is stored M×K, or K×M when `transA`. op(B) is K×N: B is stored K×N, or N×K
   * when `transB`.
   */
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: FloatArray,
    B: FloatArray,
    C: FloatArray,
    accumulate: boolean,
  ): void;
}
