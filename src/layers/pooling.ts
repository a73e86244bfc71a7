/**
 * Masked sequence pooling for sequence classification (many-to-one RNNs): reduces the outputs
 * y (T, B, D·H) of a recurrent stack with D directions of H units each to one row (B, D·H) per
 * sequence, looking only at the steps t < len_b of sequence b (right padding after it):
 *
 *   last:  out[b, d] = y[len_b − 1, b, d] for the forward direction d = 0 and y[0, b, d] for the
 *          reverse direction d = 1 (where a reverse RNN started at len_b − 1 ends): "both ends";
 *   mean:  out[b, f] = (1/len_b) Σ_{t<len_b} y[t, b, f];
 *   max:   out[b, f] = max_{t<len_b} y[t, b, f], remembering the first t that attains it.
 *
 * Backward writes dy (T, B, D·H): dout routed to the picked step (last, max) or spread evenly over
 * the valid steps (mean); every padded step gets exactly zero.
 */
import { allocate, dtypeOf, type FloatArray } from "../tensor/dtype.js";

// Dimensions: T steps, B sequences, D directions (1 or 2), H units per direction, F = D·H features.

export type Pooling = "last" | "mean" | "max";

/** The result of `poolForward`, and what `poolBackward` needs of it. */
export interface PoolPass {
  /** (B, F) pooled rows */
  readonly out: FloatArray;
  /** (B·F) time index picked by max pooling; null for the other poolings */
  readonly argmax: Int32Array | null;
}

function checkPooling(pooling: string): asserts pooling is Pooling {
  if (pooling !== "last" && pooling !== "mean" && pooling !== "max") {
    throw new Error(`unknown pooling "${pooling}"; choose last, mean or max`);
  }
}

function checkDims(T: number, B: number, D: number, H: number): void {
  for (const [name, v] of [["T", T], ["B", B], ["H", H]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`pooling: ${name} must be a positive integer, got ${v}`);
  }
  if (D !== 1 && D !== 2) throw new Error(`pooling: D (directions) must be 1 or 2, got ${D}`);
}

function checkLengths(lengths: Int32Array, T: number, B: number): void {
  if (lengths.length !== B) throw new Error(`pooling: lengths has ${lengths.length} entries, expected B = ${B}`);
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    if (n < 1 || n > T) throw new Error(`pooling: length ${n} of sequence ${b} is out of range 1…${T} (T = ${T})`);
  }
}

function checkSize(what: string, a: ArrayLike<number>, n: number, shape: string): void {
  if (a.length !== n) throw new Error(`pooling: ${what} has ${a.length} values, expected ${shape} = ${n}`);
}

/** Pools y (T, B, D·H) over the valid steps of each sequence (see the module comment). */
export function poolForward(y: FloatArray, T: number, B: number, D: number, H: number, lengths: Int32Array, pooling: Pooling): PoolPass {
  checkPooling(pooling);
  checkDims(T, B, D, H);
  checkLengths(lengths, T, B);
  const F = D * H;
  checkSize("y", y, T * B * F, `T·B·D·H = ${T}·${B}·${D}·${H}`);
  const out = allocate(dtypeOf(y), B * F);
  if (pooling === "last") {
    for (let b = 0; b < B; b++) {
      for (let d = 0; d < D; d++) {
        const t = d === 0 ? lengths[b] - 1 : 0;
        const src = (t * B + b) * F + d * H;
        out.set(y.subarray(src, src + H), b * F + d * H);
      }
    }
    return { out, argmax: null };
  }
  if (pooling === "mean") {
    for (let b = 0; b < B; b++) {
      const n = lengths[b];
      for (let t = 0; t < n; t++) {
        const row = (t * B + b) * F;
        for (let f = 0; f < F; f++) out[b * F + f] += y[row + f];
      }
      for (let f = 0; f < F; f++) out[b * F + f] /= n;
    }
    return { out, argmax: null };
  }
  const argmax = new Int32Array(B * F);
  for (let b = 0; b < B; b++) {
    out.set(y.subarray(b * F, (b + 1) * F), b * F); // t = 0; argmax already 0
    for (let t = 1; t < lengths[b]; t++) {
      const row = (t * B + b) * F;
      for (let f = 0; f < F; f++) {
        // strict >: the first maximum wins ties
        if (y[row + f] > out[b * F + f]) {
          out[b * F + f] = y[row + f];
          argmax[b * F + f] = t;
        }
      }
    }
  }
  return { out, argmax };
}

/**
 * Writes dL/dy (T, B, D·H) from dL/dout (B, D·H) into `dy` (allocated when absent; overwritten,
 * not accumulated) and returns it. Padded steps are zero.
 */
export function poolBackward(
  pass: PoolPass,
  dout: FloatArray,
  T: number,
  B: number,
  D: number,
  H: number,
  lengths: Int32Array,
  pooling: Pooling,
  dy?: FloatArray,
): FloatArray {
  checkPooling(pooling);
  checkDims(T, B, D, H);
  checkLengths(lengths, T, B);
  const F = D * H;
  checkSize("dout", dout, B * F, `B·D·H = ${B}·${D}·${H}`);
  checkSize("the pass's out", pass.out, B * F, `B·D·H = ${B}·${D}·${H}`);
  if (pooling === "max" && (pass.argmax === null || pass.argmax.length !== B * F)) {
    throw new Error(`pooling: max pooling backward needs the pass's argmax (B·D·H = ${B * F} indices); was the pass made with another pooling?`);
  }
  const g = dy ?? allocate(dtypeOf(dout), T * B * F);
  checkSize("dy", g, T * B * F, `T·B·D·H = ${T}·${B}·${D}·${H}`);
  g.fill(0);
  if (pooling === "last") {
    for (let b = 0; b < B; b++) {
      for (let d = 0; d < D; d++) {
        const t = d === 0 ? lengths[b] - 1 : 0;
        const dst = (t * B + b) * F + d * H;
        g.set(dout.subarray(b * F + d * H, b * F + (d + 1) * H), dst);
      }
    }
  } else if (pooling === "mean") {
    for (let b = 0; b < B; b++) {
      const n = lengths[b];
      for (let t = 0; t < n; t++) {
        const row = (t * B + b) * F;
        for (let f = 0; f < F; f++) g[row + f] = dout[b * F + f] / n;
      }
    }
  } else {
    const argmax = pass.argmax!;
    for (let b = 0; b < B; b++) {
      for (let f = 0; f < F; f++) {
        const t = argmax[b * F + f];
        if (t < 0 || t >= lengths[b]) throw new Error(`pooling: argmax ${t} of sequence ${b} is outside its length ${lengths[b]}`);
        g[(t * B + b) * F + f] = dout[b * F + f];
      }
    }
  }
  return g;
}
