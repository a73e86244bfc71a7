/**
 * The copy task (Hochreiter & Schmidhuber 1997; in the form of Arjovsky, Shah & Bengio 2016,
 * "Unitary Evolution Recurrent Neural Networks", §4.1). Categories a_0 … a_9: a_0 blank, a_1 … a_8
 * symbols, a_9 the delimiter. A sequence has T + 20 steps:
 *
 *   input:   s_1 … s_10 (uniform over a_1 … a_8),  T − 1 blanks,  a_9,  10 blanks
 *   target:  T + 10 blanks,  s_1 … s_10
 *
 * The loss is the cross-entropy averaged over all T + 20 steps. Predicting blanks, then a uniform
 * guess over the 8 symbols for the last 10 steps, gives 10·log 8 / (T + 20) nats: the baseline.
 */
import { softmaxCrossEntropy } from "../../layers/softmax-cross-entropy.js";
import { allocate, type DType } from "../../tensor/dtype.js";
import type { Rng } from "../../tensor/random.js";
import { checkLength, type Task } from "./task.js";

// Dimensions: T + 20 steps, B batch; inputs I = 10 (one-hot a_0 … a_9), outputs O = 9 (a_0 … a_8).

/** Symbols to remember. */
export const COPY_SYMBOLS = 10;
const I = 10;
const O = 9;
const DELIMITER = 9;

/** The copy task. */
export const copyTask: Task = {
  name: "copy",
  title: "Copy task",
  citation: "Hochreiter & Schmidhuber (1997); as in Arjovsky, Shah & Bengio (2016)",
  description:
    "The network reads 10 symbols (8 possible each), then T − 1 blanks, then a delimiter, and must then write the " +
    "10 symbols back in order. Its output is scored at every one of the T + 20 steps.",
  lengthMeaning: "blank gap between reading and writing",
  inputSize: I,
  outputSize: O,
  loss: "xent",
  metric: { name: "xent", better: "lower", unit: "nats per step" },
  minT: 1,
  baseline: (T) => (COPY_SYMBOLS * Math.log(8)) / (T + 20),
  baselineMeaning: "blanks, then a uniform guess over the 8 symbols: 10·log 8 / (T + 20) nats per step",
  solved: (value, T) => value < 0.1 * copyTask.baseline(T),
  solvedMeaning: "test cross-entropy below 10% of the baseline",

  sample(rng: Rng, T: number, B: number, dtype: DType) {
    checkLength(copyTask, T);
    const L = T + 20;
    const x = allocate(dtype, L * B * I); // (L, B, I)
    const y = new Int32Array(L * B); // (L·B) blank (0) unless set below
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < L; t++) {
        let v = 0;
        if (t < COPY_SYMBOLS) {
          v = 1 + rng.int(8);
          y[(T + 10 + t) * B + b] = v;
        } else if (t === T + 9) v = DELIMITER;
        x[(t * B + b) * I + v] = 1;
      }
    }
    return { T: L, B, x, target: { kind: "xent", y } };
  },

  score(batch, out) {
    if (batch.target.kind !== "xent") throw new Error("copy: wrong target kind");
    const N = batch.T * batch.B;
    return { sum: softmaxCrossEntropy(out, batch.target.y, N, O, null, -1) * N, count: N };
  },
};
