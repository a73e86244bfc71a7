/**
 * Fused softmax + cross-entropy, numerically stable (max subtracted before exp):
 *
 *   loss = (1/M) Σ_{n: target_n ≠ ignore} [ logsumexp(z_n) − z_n[target_n] ]
 *   dz_n = (softmax(z_n) − onehot(target_n)) / M,   0 for ignored rows
 *
 * with M the number of counted rows (PyTorch `F.cross_entropy(reduction="mean", ignore_index)`).
 *
 * When every row is ignored (M = 0) the loss is 0 and dL/dlogits is 0, where PyTorch returns NaN
 * (0/0): a batch with nothing to predict (all padding) then adds nothing to training instead of
 * poisoning the weights with NaN. Every backend's fused kernel does the same
 * (test/cross-entropy.test.ts).
 */
import { countTargets } from "../backend/backend.js";
import type { FloatArray } from "../tensor/dtype.js";

export { countTargets };

// Dimensions: N rows, V classes.

/** Returns the mean loss and writes dL/dlogits into `dlogits` (N, V) when given. */
export function softmaxCrossEntropy(
  logits: FloatArray,
  targets: Int32Array,
  N: number,
  V: number,
  dlogits: FloatArray | null,
  ignoreIndex = -100,
): number {
  const count = countTargets(targets, N, V, ignoreIndex);
  const scale = count > 0 ? 1 / count : 0;
  let total = 0;
  for (let n = 0; n < N; n++) {
    const z = logits.subarray(n * V, (n + 1) * V);
    const t = targets[n];
    if (t === ignoreIndex) {
      if (dlogits) dlogits.fill(0, n * V, (n + 1) * V);
      continue;
    }
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (z[v] > max) max = z[v];
    let sum = 0;
    if (dlogits) {
      // One exp per class: keep e^{z − max} in dlogits, then scale the row by 1/(count · Σ).
      const d = dlogits.subarray(n * V, (n + 1) * V);
      for (let v = 0; v < V; v++) {
        const e = Math.exp(z[v] - max);
        d[v] = e;
        sum += e;
      }
      const k = scale / sum;
      for (let v = 0; v < V; v++) d[v] *= k;
      d[t] -= scale;
    } else {
      for (let v = 0; v < V; v++) sum += Math.exp(z[v] - max);
    }
    total += max + Math.log(sum) - z[t];
  }
  return total * scale;
}

/** In-place softmax of each row of a (N, V) matrix, at temperature `temperature`. */
export function softmaxRows(z: FloatArray, N: number, V: number, temperature = 1): void {
  for (let n = 0; n < N; n++) {
    const row = z.subarray(n * V, (n + 1) * V);
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (row[v] > max) max = row[v];
    let sum = 0;
    for (let v = 0; v < V; v++) {
      row[v] = Math.exp((row[v] - max) / temperature);
      sum += row[v];
    }
    for (let v = 0; v < V; v++) row[v] /= sum;
  }
}
