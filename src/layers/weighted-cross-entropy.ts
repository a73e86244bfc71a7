/**
 * Class-weighted softmax cross-entropy, PyTorch's `nn.CrossEntropyLoss(weight=w, reduction="mean")`:
 * each row n counts with the weight w[y_n] of its target class, and the mean divides by the total
 * weight of the rows (not by N),
 *
 *   ℓ_n  = logsumexp(z_n) − z_n[y_n]                 (numerically stable: max subtracted)
 *   W    = Σ_n w[y_n]
 *   loss = Σ_n w[y_n] ℓ_n / W
 *   dz_n = (w[y_n] / W) (softmax(z_n) − onehot(y_n))
 *
 * With w = 1 for every class this is the plain mean cross-entropy, and with `weights` null it is
 * exactly `softmaxCrossEntropy` (which it calls).
 *
 * `balancedClassWeights` gives scikit-learn's `class_weight="balanced"`, w_k = N / (K · count_k):
 * each class then carries the same total weight N/K, however rare it is.
 */
import type { FloatArray } from "../tensor/dtype.js";
import { softmaxCrossEntropy } from "./softmax-cross-entropy.js";

// Dimensions: N rows, K classes.

function checkTargets(targets: Int32Array, N: number, K: number): void {
  if (targets.length < N) throw new Error(`weighted cross-entropy: ${targets.length} targets for N = ${N} rows`);
  for (let n = 0; n < N; n++) {
    const t = targets[n];
    if (!(t >= 0 && t < K)) throw new Error(`target ${t} at row ${n} is out of range: there are ${K} classes (0…${K - 1})`);
  }
}

function checkWeights(weights: Float64Array, K: number): void {
  if (weights.length !== K) throw new Error(`class weights: got ${weights.length} weights for ${K} classes; give one weight per class`);
  for (let k = 0; k < K; k++) {
    const w = weights[k];
    if (!(Number.isFinite(w) && w >= 0)) throw new Error(`class weight ${w} of class ${k} must be a finite number ≥ 0`);
  }
}

/**
 * The weighted mean cross-entropy of `logits` (N, K) against `targets` (N); writes dL/dlogits into
 * `dlogits` (N, K) when given. `weights` (K) null: the unweighted mean (`softmaxCrossEntropy`).
 * Throws on a target outside 0…K−1, and when the rows' weights sum to 0.
 */
export function weightedSoftmaxCrossEntropy(
  logits: FloatArray,
  targets: Int32Array,
  N: number,
  K: number,
  weights: Float64Array | null,
  dlogits: FloatArray | null,
): number {
  if (!Number.isInteger(N) || N < 1) throw new Error(`weighted cross-entropy: N must be a positive integer, got ${N}`);
  if (!Number.isInteger(K) || K < 1) throw new Error(`weighted cross-entropy: K must be a positive integer, got ${K}`);
  if (logits.length < N * K) throw new Error(`weighted cross-entropy: logits has ${logits.length} values, expected N·K = ${N}·${K}`);
  if (dlogits && dlogits.length < N * K) throw new Error(`weighted cross-entropy: dlogits has ${dlogits.length} values, expected N·K = ${N}·${K}`);
  checkTargets(targets, N, K);
  if (weights === null) return softmaxCrossEntropy(logits, targets, N, K, dlogits);
  checkWeights(weights, K);
  let W = 0;
  for (let n = 0; n < N; n++) W += weights[targets[n]];
  if (!(W > 0)) throw new Error("weighted cross-entropy: the rows' class weights sum to 0 (every target has weight 0); give the classes present positive weights");
  let total = 0;
  for (let n = 0; n < N; n++) {
    const z = logits.subarray(n * K, (n + 1) * K);
    const t = targets[n];
    const wn = weights[t];
    let max = -Infinity;
    for (let k = 0; k < K; k++) if (z[k] > max) max = z[k];
    let sum = 0;
    if (dlogits) {
      // e^{z − max} kept in dlogits, then scaled by w_n / (W · Σ): the softmax times the row's share
      const d = dlogits.subarray(n * K, (n + 1) * K);
      for (let k = 0; k < K; k++) {
        const e = Math.exp(z[k] - max);
        d[k] = e;
        sum += e;
      }
      const s = wn / W / sum;
      for (let k = 0; k < K; k++) d[k] *= s;
      d[t] -= wn / W;
    } else {
      for (let k = 0; k < K; k++) sum += Math.exp(z[k] - max);
    }
    total += wn * (max + Math.log(sum) - z[t]);
  }
  return total / W;
}

/**
 * scikit-learn's `class_weight="balanced"`: w_k = N / (K · count_k) for the N `labels`. Throws
 * when a label is outside 0…K−1 or a class never occurs (its weight would be infinite).
 */
export function balancedClassWeights(labels: Int32Array, K: number): Float64Array {
  if (!Number.isInteger(K) || K < 1) throw new Error(`balancedClassWeights: K must be a positive integer, got ${K}`);
  if (labels.length === 0) throw new Error("balancedClassWeights: no labels; balanced weights are computed from the training labels");
  const count = new Float64Array(K);
  for (let n = 0; n < labels.length; n++) {
    const y = labels[n];
    if (!(y >= 0 && y < K)) throw new Error(`label ${y} at position ${n} is out of range: there are ${K} classes (0…${K - 1})`);
    count[y]++;
  }
  const w = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    if (count[k] === 0) {
      throw new Error(`balancedClassWeights: class ${k} never occurs in the ${labels.length} training labels; every class needs at least one example (add examples, or drop the class)`);
    }
    w[k] = labels.length / (K * count[k]);
  }
  return w;
}
