/**
 * Gradient clipping over one flat gradient buffer (a gradient arena's `data`), as in PyTorch's
 * `torch.nn.utils.clip_grad_norm_` / `clip_grad_value_` and char-rnn's `grad_params:clamp`.
 *
 *   ‖g‖ = √(Σᵢ gᵢ²)
 *   clip by norm:   g ← g · min(1, maxNorm / (‖g‖ + 1e-6))
 *   clip by value:  gᵢ ← min(max(gᵢ, −clip), clip)
 *
 * A backend's `OptimizerKernels`, when given, compute Σ gᵢ² (in float64, in their own fixed order)
 * and the scaling (bit for bit) where they accept the buffer.
 */
import type { OptimizerKernels } from "../backend/backend.js";
import type { FloatArray } from "../tensor/dtype.js";

/** Σ xᵢ² over all elements, accumulated in float64 (by the kernels where they accept x). */
export function sumSquares(x: FloatArray, kernels?: OptimizerKernels): number {
  let sum = kernels?.sumSquares(x) ?? null;
  if (sum === null) {
    sum = 0;
    for (let i = 0; i < x.length; i++) sum += x[i] * x[i];
  }
  return sum;
}

/** The Euclidean norm of `grads` over all elements, accumulated in float64. */
export function globalNorm(grads: FloatArray, kernels?: OptimizerKernels): number {
  return Math.sqrt(sumSquares(grads, kernels));
}

/**
 * Scales `grads` in place by maxNorm / (‖g‖ + 1e-6) when that factor is below 1, and returns ‖g‖
 * before clipping. Like PyTorch's default (`error_if_nonfinite=False`), a non-finite norm is not an
 * error: it is returned and the factor is applied anyway (an infinite norm gives factor 0, which
 * zeroes the finite entries; a NaN norm makes every entry NaN), so the caller can skip the step.
 */
export function clipGradNorm(grads: FloatArray, maxNorm: number, kernels?: OptimizerKernels): number {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) throw new Error(`maxNorm must be a finite number > 0, got ${maxNorm}`);
  const norm = globalNorm(grads, kernels);
  const scale = maxNorm / (norm + 1e-6);
  if (!(scale >= 1) && !kernels?.scale(grads, scale)) {
    for (let i = 0; i < grads.length; i++) grads[i] *= scale;
  }
  return norm;
}

/** Clamps every element of `grads` in place to [−clip, clip]; NaN entries stay NaN. */
export function clipGradValue(grads: FloatArray, clip: number): void {
  if (!(clip > 0) || !Number.isFinite(clip)) throw new Error(`clip must be a finite number > 0, got ${clip}`);
  for (let i = 0; i < grads.length; i++) grads[i] = Math.min(Math.max(grads[i], -clip), clip);
}
