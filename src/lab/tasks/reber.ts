/**
 * Next-symbol prediction on the embedded Reber grammar (Hochreiter & Schmidhuber 1997,
 * experiment 1; after Cleeremans, Servan-Schreiber & McClelland 1989 and Fahlman 1991).
 *
 * Reber grammar, symbols B T P S X V E; from each state both edges are taken with probability ½:
 *
 *   0 ─B→ 1;  1 ─T→ 2, 1 ─P→ 3;  2 ─S→ 2, 2 ─X→ 4;  3 ─T→ 3, 3 ─V→ 5;
 *   4 ─X→ 3, 4 ─S→ 6;  5 ─P→ 4, 5 ─V→ 6;  6 ─E→ end
 *
 * Embedded: B, then T or P, then a Reber string, then the same T or P again, then E. At every step
 * the network outputs the set of symbols that may come next (7 sigmoid outputs, multi-label); the
 * long-range part is the second-to-last symbol, which repeats the second one across the whole
 * inner string. A string is predicted correctly when at every step each output is on (σ > ½)
 * exactly for the legal next symbols. A model that knows the grammar but not the embedding must
 * guess that symbol: half the strings, the baseline.
 *
 * `T` is a maximum length: longer strings are drawn again; batches are padded to their longest
 * string and the padding is masked out of the loss.
 */
import { allocate, type DType } from "../../tensor/dtype.js";
import type { Rng } from "../../tensor/random.js";
import { checkLength, type Task } from "./task.js";

// Dimensions: T steps (longest string of the batch), B batch; inputs I = outputs O = 7.

/** The alphabet, in input/output order. */
export const REBER_SYMBOLS = "BTPSXVE";
const O = 7;
const sym = (c: string): number => REBER_SYMBOLS.indexOf(c);

/** Edges of the Reber grammar: state → [symbol, next state][]; state 6 emits E and ends. */
const EDGES: readonly (readonly (readonly [string, number])[])[] = [
  [["B", 1]],
  [["T", 2], ["P", 3]],
  [["S", 2], ["X", 4]],
  [["T", 3], ["V", 5]],
  [["X", 3], ["S", 6]],
  [["P", 4], ["V", 6]],
  [["E", -1]],
];

/**
 * One embedded Reber string: its symbols and, for each position, the set of legal next symbols
 * (a bit mask over REBER_SYMBOLS; 0 after the final E).
 */
export function embeddedReberString(rng: Rng): { symbols: number[]; next: number[] } {
  const bit = (c: string): number => 1 << sym(c);
  const branch = rng.int(2) === 0 ? "T" : "P";
  const symbols = [sym("B"), sym(branch)];
  const next = [bit("T") | bit("P"), bit("B")];
  let state = 0;
  while (state !== -1) {
    const edges = EDGES[state];
    const [c, to] = edges.length === 1 ? edges[0] : edges[rng.int(2)];
    symbols.push(sym(c));
    // after the inner E only the embedding's branch symbol may follow
    next.push(to === -1 ? bit(branch) : EDGES[to].reduce((m, [s]) => m | bit(s), 0));
    state = to;
  }
  symbols.push(sym(branch), sym("E"));
  next.push(bit("E"), 0);
  return { symbols, next };
}

/** Next-symbol prediction on the embedded Reber grammar. */
export const reberTask: Task = {
  name: "reber",
  title: "Embedded Reber grammar",
  citation: "Hochreiter & Schmidhuber (1997), experiment 1; Cleeremans et al. (1989)",
  description:
    "Strings of an artificial grammar, one symbol per step; at every step the network must say which symbols may come " +
    "next. The second-to-last symbol must repeat the second one, across the whole inner string.",
  lengthMeaning: "maximum string length",
  inputSize: O,
  outputSize: O,
  loss: "bce",
  metric: { name: "strings-correct", better: "higher", unit: "fraction of strings predicted correctly at every step" },
  minT: 9,
  baseline: () => 0.5,
  baselineMeaning: "knowing the grammar but guessing the second-to-last symbol (T or P): half the strings",
  solved: (value) => value >= 0.99,
  solvedMeaning: "at least 99% of test strings predicted correctly at every step",

  sample(rng: Rng, T: number, B: number, dtype: DType) {
    checkLength(reberTask, T);
    const strings: { symbols: number[]; next: number[] }[] = [];
    while (strings.length < B) {
      const s = embeddedReberString(rng);
      if (s.symbols.length <= T) strings.push(s);
    }
    const L = Math.max(...strings.map((s) => s.symbols.length));
    const x = allocate(dtype, L * B * O); // (L, B, O)
    const y = new Float64Array(L * B * O); // (L, B, O)
    const mask = new Uint8Array(L * B); // (L·B)
    strings.forEach((s, b) => {
      for (let t = 0; t < s.symbols.length; t++) {
        x[(t * B + b) * O + s.symbols[t]] = 1;
        if (s.next[t] === 0) continue; // the final E predicts nothing
        mask[t * B + b] = 1;
        for (let o = 0; o < O; o++) y[(t * B + b) * O + o] = (s.next[t] >> o) & 1;
      }
    });
    return { T: L, B, x, target: { kind: "bce", y, mask } };
  },

  score(batch, out) {
    const { T, B, target } = batch;
    if (target.kind !== "bce") throw new Error("reber: wrong target kind");
    let sum = 0;
    for (let b = 0; b < B; b++) {
      let ok = true;
      for (let t = 0; t < T && ok; t++) {
        if (!target.mask[t * B + b]) continue;
        for (let o = 0; o < O; o++) {
          const i = (t * B + b) * O + o;
          if (out[i] > 0 !== target.y[i] > 0.5) ok = false;
        }
      }
      if (ok) sum++;
    }
    return { sum, count: B };
  },
};
