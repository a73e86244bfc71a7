/**
 * Small float64 linear algebra for inspecting recurrent weights: the largest singular value, the
 * spectral radius, and the spectral norm of a matrix with a diagonal factor. Square H×H matrices,
 * row-major; none of this runs in a training loop.
 *
 *   ρ(W)       = max |λ_i(W)| = lim_k ‖W^k‖^{1/k} (Gelfand's formula), by repeated squaring:
 *                ρ ≈ ‖W^{2^s}‖_F^{1/2^s}, renormalising after each square
 *   σ_max(W)   = √λ_max(WᵀW) = √ρ(WᵀW), the same way (for the symmetric WᵀW an upper bound at every s)
 *   rms σ(W)   = ‖W‖_F / √H, the root mean square of the singular values
 */
import type { FloatArray } from "../tensor/dtype.js";

// Dimensions: H rows and columns.

/** C (H, H) = A B. */
function matmul(A: Float64Array, B: Float64Array, H: number): Float64Array {
  const C = new Float64Array(H * H);
  for (let i = 0; i < H; i++) {
    for (let k = 0; k < H; k++) {
      const a = A[i * H + k];
      if (a === 0) continue;
      for (let j = 0; j < H; j++) C[i * H + j] += a * B[k * H + j];
    }
  }
  return C;
}

/** ‖W‖_F. */
export function frobeniusNorm(W: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < W.length; i++) s += W[i] * W[i];
  return Math.sqrt(s);
}

/**
 * The largest singular value of the (H, H) matrix W scaled by a diagonal on the right,
 * σ_max(W diag(d)) (d omitted: σ_max(W)), from the Gram matrix A = (W D)ᵀ(W D): λ_max(A) = σ_max²,
 * and for a symmetric A, ‖A^k‖₂ = λ_max^k ≤ ‖A^k‖_F ≤ √H·λ_max^k. So ‖A^k‖_F^{1/k} is an upper
 * bound on λ_max at every k, within a factor H^{1/2k} of it; repeated squaring (k = 2, 4, 8, …,
 * renormalised) until it changes by less than `tol` relatively. The result is never below the
 * true σ_max (what a bound built from it needs) and converges with no start vector to choose.
 */
export function largestSingularValue(W: ArrayLike<number>, H: number, d: ArrayLike<number> | null = null, tol = 1e-12, maxSquarings = 40): number {
  const A = new Float64Array(H * H);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < H; j++) {
      const wij = W[i * H + j] * (d ? d[j] : 1);
      if (wij === 0) continue;
      // A[j][k] += (W D)[i][j] (W D)[i][k]
      for (let k = 0; k < H; k++) A[j * H + k] += wij * W[i * H + k] * (d ? d[k] : 1);
    }
  }
  return Math.sqrt(gelfand(A, H, tol, maxSquarings));
}

/** ‖M^k‖_F^{1/k} for k = 2^s, squaring until the estimate changes by less than `tol` (or s = max). */
function gelfand(W: ArrayLike<number>, H: number, tol: number, maxSquarings: number): number {
  let norm = frobeniusNorm(W);
  if (norm === 0) return 0;
  let M: Float64Array = Float64Array.from(W, (w) => w / norm);
  let logNorm = Math.log(norm); // log ‖W^{2^s}‖_F, with M = W^{2^s} / ‖W^{2^s}‖_F
  let estimate = norm;
  for (let s = 1; s <= maxSquarings; s++) {
    M = matmul(M, M, H);
    norm = frobeniusNorm(M);
    if (norm === 0) return 0; // nilpotent
    for (let i = 0; i < M.length; i++) M[i] /= norm;
    logNorm = 2 * logNorm + Math.log(norm);
    const next = Math.exp(logNorm / 2 ** s);
    if (Math.abs(next - estimate) <= tol * next) return next;
    estimate = next;
  }
  return estimate;
}

/**
 * The spectral radius max |λ_i| of the (H, H) matrix W by Gelfand's formula, ρ = lim ‖W^k‖_F^{1/k}
 * (module comment), squaring until the estimate settles to `tol`. The Frobenius norm makes the
 * estimate at most H^{1/2k} too high, and a Jordan block converges as k^{1/k}: at the 2^40 steps
 * this may take, both are far below any digit shown.
 */
export function spectralRadius(W: ArrayLike<number>, H: number, tol = 1e-12, maxSquarings = 40): number {
  return gelfand(W, H, tol, maxSquarings);
}
