/**
 * Sigmoid + binary cross-entropy per label, fused and numerically stable (PyTorch
 * `F.binary_cross_entropy_with_logits`, summed over the O labels of a row, averaged over counted
 * rows): for logit z and target y ∈ [0, 1],
 *
 *   ℓ(z, y) = −y log σ(z) − (1 − y) log(1 − σ(z)) = max(z, 0) − z y + log(1 + e^{−|z|})
 *   loss = (1/M) Σ_{n: mask_n} Σ_o ℓ(z_no, y_no),   dz_no = (σ(z_no) − y_no) / M,  0 for masked rows
 *
 * with M the number of counted rows: a multi-label output (several labels can be on at once),
 * as the next-symbol sets of the embedded Reber grammar.
 */
import { sigmoid } from "../cells/cell.js";
import type { FloatArray } from "../tensor/dtype.js";

// Dimensions: N rows, O labels per row, M counted rows.

/** Returns the mean loss per counted row and writes dL/dz (N, O) into `dz` when given. */
export function sigmoidBinaryCrossEntropy(
  z: FloatArray,
  y: ArrayLike<number>,
  mask: ArrayLike<number> | null,
  N: number,
  O: number,
  dz: FloatArray | null,
): number {
  let M = 0;
  for (let n = 0; n < N; n++) if (!mask || mask[n]) M++;
  const scale = M > 0 ? 1 / M : 0;
  let total = 0;
  for (let n = 0; n < N; n++) {
    const counted = !mask || mask[n];
    for (let o = 0; o < O; o++) {
      const i = n * O + o;
      if (!counted) {
        if (dz) dz[i] = 0;
        continue;
      }
      const zi = z[i];
      total += Math.max(zi, 0) - zi * y[i] + Math.log1p(Math.exp(-Math.abs(zi)));
      if (dz) dz[i] = (sigmoid(zi) - y[i]) * scale;
    }
  }
  return total * scale;
}
