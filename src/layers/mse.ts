/**
 * Mean squared error (PyTorch `F.mse_loss(reduction="mean")`):
 *
 *   loss = (1/N) Σ_n (z_n − y_n)²,   dz_n = 2 (z_n − y_n) / N
 *
 * over N predictions z and targets y (a flattened (rows, outputs) matrix).
 */
import type { FloatArray } from "../tensor/dtype.js";

// Dimensions: N predictions.

/** Returns the mean loss and writes dL/dz (N) into `dz` when given. */
export function meanSquaredError(z: FloatArray, y: ArrayLike<number>, N: number, dz: FloatArray | null): number {
  if (N === 0) return 0;
  let total = 0;
  for (let n = 0; n < N; n++) {
    const e = z[n] - y[n];
    total += e * e;
    if (dz) dz[n] = (2 * e) / N;
  }
  return total / N;
}
