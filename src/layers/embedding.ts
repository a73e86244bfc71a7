/**
 * Embedding lookup: out[n] = W[ids[n]]. Backward scatters: dW[ids[n]] += dout[n], so a token that
 * occurs several times adds up its gradients, and rows of absent tokens stay untouched.
 */
import type { FloatArray } from "../tensor/dtype.js";

// Dimensions: N tokens, V vocabulary, E embedding size.

/** Throws when an id is not an integer in [0, V). Call once at the API boundary. */
export function checkTokenIds(ids: ArrayLike<number>, V: number, what = "token id"): void {
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n];
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw new Error(`${what} ${id} at position ${n} is out of range: the vocabulary has ${V} entries (ids 0…${V - 1})`);
    }
  }
}

/** out (N, E) = W (V, E) rows at `ids` (N). */
export function embeddingForward(W: FloatArray, ids: Int32Array, E: number, out: FloatArray): void {
  for (let n = 0; n < ids.length; n++) out.set(W.subarray(ids[n] * E, (ids[n] + 1) * E), n * E);
}

/** dW (V, E) += scatter of dout (N, E) by `ids`. */
export function embeddingBackward(dout: FloatArray, ids: Int32Array, E: number, dW: FloatArray): void {
  for (let n = 0; n < ids.length; n++) {
    const row = ids[n] * E;
    for (let e = 0; e < E; e++) dW[row + e] += dout[n * E + e];
  }
}

/** out (N, V) = one-hot rows of `ids` (char-rnn's input encoding). */
export function oneHot(ids: Int32Array, V: number, out: FloatArray): void {
  out.fill(0, 0, ids.length * V);
  for (let n = 0; n < ids.length; n++) out[n * V + ids[n]] = 1;
}
