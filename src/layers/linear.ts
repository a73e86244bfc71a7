/**
 * Affine layer y = x Wᵀ + b, W stored (O, I) as in PyTorch's `nn.Linear`.
 * Backward: dW += dyᵀ x,  db += Σ_n dy,  dx (+)= dy W.
 */
import { affine, type Backend } from "../backend/backend.js";
import { addColumnSumsGemm } from "../cells/cell.js";
import type { FloatArray } from "../tensor/dtype.js";

// Dimensions: N rows, I inputs, O outputs.

/** y (N, O) = x (N, I) W (O, I)ᵀ + b (O). */
export function linearForward(backend: Backend, W: FloatArray, b: FloatArray, x: FloatArray, N: number, I: number, O: number, y: FloatArray): void {
  affine(backend, false, true, N, O, I, x, W, b, y);
}

/** Adds dW, db; writes dx (N, I) when given (accumulating if `accumulateDx`). */
export function linearBackward(
  backend: Backend,
  W: FloatArray,
  x: FloatArray,
  dy: FloatArray,
  N: number,
  I: number,
  O: number,
  dW: FloatArray,
  db: FloatArray,
  dx: FloatArray | null,
  accumulateDx = false,
): void {
  backend.gemm(true, false, O, I, N, dy, x, dW, true);
  addColumnSumsGemm(backend, db, dy, N, O);
  if (dx) backend.gemm(false, false, N, I, O, dy, W, dx, accumulateDx);
}
