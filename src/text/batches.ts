/**
 * char-rnn batching: the token sequence is cut into B parallel contiguous streams, and the time
 * axis into chunks of S steps. Consecutive chunks of a stream continue each other, so the state
 * after one chunk is the right initial state for the next (truncated BPTT). The split into
 * training and validation is made by chunks: the first chunks of every stream train, the last
 * ones validate (PyTorch quality protocol, shared/anchors/quality/NOTES.md).
 *
 *   n = ⌊(N − 1) / (B·S)⌋·B·S;  x = ids[0 : n],  y = ids[1 : n + 1],  both viewed as (B, n/B)
 */

// Dimensions: B streams, S steps per chunk, N tokens.

/** One chunk: time-major ids (S·B, index t·B + b) and the next-token targets. */
export interface Chunk {
  readonly x: Int32Array;
  readonly y: Int32Array;
  readonly S: number;
  readonly B: number;
}

/** The chunks of a corpus, split by chunk index. */
export interface Batches {
  readonly B: number;
  readonly S: number;
  readonly train: readonly Chunk[];
  readonly val: readonly Chunk[];
  readonly test: readonly Chunk[];
}

/**
 * Cuts `ids` into chunks. `valFrac` and `testFrac` are the fractions of chunks (from the end of
 * every stream) held out: the first ⌊nchunks·(1 − valFrac − testFrac)⌋ chunks train, the last
 * ⌊nchunks·testFrac⌋ test, and those between validate.
 */
export function makeBatches(ids: Int32Array, B: number, S: number, valFrac: number, testFrac = 0): Batches {
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(S) || S < 1) throw new Error(`batch (${B}) and sequence length (${S}) must be positive integers`);
  if (!(valFrac >= 0 && testFrac >= 0 && valFrac + testFrac < 1)) throw new Error(`validation (${valFrac}) and test (${testFrac}) fractions must be ≥ 0 and sum to less than 1`);
  const n = Math.floor((ids.length - 1) / (B * S)) * B * S;
  if (n === 0) {
    throw new Error(`the text has ${ids.length} tokens, too few for one chunk of batch ${B} × sequence length ${S} (+1); use a smaller --batch or --seq-len, or more text`);
  }
  const L = n / B; // tokens per stream
  const nchunks = L / S;
  const chunks: Chunk[] = [];
  for (let k = 0; k < nchunks; k++) {
    const x = new Int32Array(S * B);
    const y = new Int32Array(S * B);
    for (let t = 0; t < S; t++) {
      for (let b = 0; b < B; b++) {
        const i = b * L + k * S + t;
        x[t * B + b] = ids[i];
        y[t * B + b] = ids[i + 1];
      }
    }
    chunks.push({ x, y, S, B });
  }
  const frac = (f: number) => Math.floor((nchunks * Math.round(f * 1e6)) / 1e6); // exact for decimal fractions
  const ntrain = Math.max(1, frac(1 - valFrac - testFrac));
  const ntest = Math.min(frac(testFrac), nchunks - ntrain);
  const train = chunks.slice(0, ntrain);
  return { B, S, train, val: chunks.slice(ntrain, nchunks - ntest), test: chunks.slice(nchunks - ntest) };
}
