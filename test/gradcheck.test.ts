/**
 * Finite-difference gradient checks of every hand-written backward pass (STYLE.md principle 9):
 * float64, fourth-order central differences with ε = 1e-4, PER TENSOR (every parameter tensor,
 * the input x and the initial states h0, c0), every element, on a random weighted sum of the
 * outputs and final states and on several other loss shapes. The criterion
 * (test/helpers/gradcheck.ts, which also says why this difference scheme and threshold) is
 *
 *   max_i |a_i − n_i| / max(1e-8, max_i |a_i| + max_i |n_i|) ≤ 1e-6   for each tensor,
 *
 * and each checked tensor must influence the loss (max |n_i| ≥ 1e-6), so no check compares zeros
 * with zeros. Sizes are small and odd (T = 4, B = 3, I = 3, H = 4) so that no transposition or
 * mixed-up dimension can cancel out.
 */
import { describe, expect, it } from "vitest";
import { jsBackend } from "../src/backend/js/index.js";
import { parseCell, type CellConfig, type CellParams } from "../src/cells/index.js";
import { embeddingBackward, embeddingForward } from "../src/layers/embedding.js";
import { linearBackward, linearForward } from "../src/layers/linear.js";
import { softmaxCrossEntropy } from "../src/layers/softmax-cross-entropy.js";
import {
  createGradients,
  createLanguageModel,
  languageModelBackward,
  languageModelForward,
  languageModelLoss,
  usesTokenInput,
  type LanguageModelConfig,
} from "../src/model/language-model.js";
import { bindRecurrent, recurrentBackward, recurrentForward, recurrentSpecs, type RecurrentConfig } from "../src/sequence/recurrent.js";
import { finalC, finalH, isTokenInput, outputAt, timeOf, unrollBackward, unrollForward, type UnrollCache } from "../src/sequence/unroll.js";
import { createArena, mirrorArena, view, type Arena } from "../src/tensor/arena.js";
import type { FloatArray } from "../src/tensor/dtype.js";
import { Rng } from "../src/tensor/random.js";
import { dot, failures, fillUniform, gradcheck, randomF64, type Checked } from "./helpers/gradcheck.js";

// Dimensions: T steps, B batch, I input features, H hidden, V vocabulary, E embedding.
const T = 4;
const B = 3;
const I = 3;
const H = 4;

const CELLS = ["rnn-tanh", "rnn-sigmoid", "rnn-relu", "lstm", "lstm-peephole", "lstm-coupled", "lstm-peephole-coupled", "gru", "gru-cho"] as const;

/** Which outputs the scalar loss L = Σ w ⊙ (…) reads. */
type LossShape = "all outputs and final states" | "last output only" | "final h only" | "final c only";
const SHAPES: readonly LossShape[] = ["all outputs and final states", "last output only", "final h only", "final c only"];

/** Upstream weights of a loss shape: dy (T, B, F) by time, dhN, dcN; null where the loss ignores them. */
function lossWeights(shape: LossShape, rng: Rng, F: number, S: number, hasC: boolean) {
  let wy: Float64Array | null = null;
  let wh: Float64Array | null = null;
  let wc: Float64Array | null = null;
  if (shape === "all outputs and final states") {
    wy = randomF64(T * B * F, rng, 1);
    wh = randomF64(S, rng, 1);
    if (hasC) wc = randomF64(S, rng, 1);
  } else if (shape === "last output only") {
    wy = new Float64Array(T * B * F);
    fillUniform(wy.subarray((T - 1) * B * F), rng, 1);
  } else if (shape === "final h only") {
    wh = randomF64(S, rng, 1);
  } else {
    wc = randomF64(S, rng, 1);
  }
  return { wy, wh, wc };
}

/** Every tensor of a parameter arena paired with its gradient. */
function arenaTensors(params: Arena, grads: Arena): Checked[] {
  return params.specs.map((s) => ({ name: s.name, x: view(params, s.name), analytic: view(grads, s.name) }));
}

/** min over all steps and units of |pre-activation| of an RNN run, recomputed independently. */
function minPreactivation(run: UnrollCache, p: CellParams, I: number): number {
  const { T, B, H } = run.dims;
  const x = run.x;
  if (isTokenInput(x)) throw new Error("minPreactivation needs a dense input");
  let m = Infinity;
  for (let k = 0; k < T; k++) {
    const t = timeOf(k, T, run.reverse);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        let a = p.bih[j] + p.bhh[j];
        for (let i = 0; i < I; i++) a += p.Wih[j * I + i] * x[(t * B + b) * I + i];
        for (let i = 0; i < H; i++) a += p.Whh[j * H + i] * run.hs[(k * B + b) * H + i];
        m = Math.min(m, Math.abs(a));
      }
    }
  }
  return m;
}

describe("the gradient checker itself", () => {
  // L(x) = Σ w_i sin(x_i) + (Σ x_i)², dL/dx_i = w_i cos(x_i) + 2 Σ x
  const rng = Rng.seeded(1);
  const x = randomF64(7, rng);
  const w = randomF64(7, rng, 1);
  const loss = () => {
    let s = 0;
    let sum = 0;
    for (let i = 0; i < x.length; i++) {
      s += w[i] * Math.sin(x[i]);
      sum += x[i];
    }
    return s + sum * sum;
  };
  const grad = () => {
    const sum = x.reduce((a, b) => a + b, 0);
    return Array.from(x, (v, i) => w[i] * Math.cos(v) + 2 * sum);
  };

  it("accepts a correct gradient, far below the tolerance", () => {
    const [c] = gradcheck(loss, [{ name: "x", x, analytic: grad() }]);
    expect(c.error).toBeLessThan(1e-8);
    expect(failures([c])).toEqual([]);
  });

  it("rejects a gradient with one element off by 0.1%", () => {
    const g = grad();
    g[3] *= 1.001;
    expect(failures(gradcheck(loss, [{ name: "x", x, analytic: g }]))).toHaveLength(1);
  });

  it("rejects a tensor the loss does not depend on", () => {
    const unused = randomF64(3, rng);
    expect(failures(gradcheck(loss, [{ name: "unused", x: unused, analytic: [0, 0, 0] }]))).toEqual([
      "unused: the loss does not depend on it (max |numeric| 0.00e+0)",
    ]);
  });

  it("leaves the checked tensor unchanged", () => {
    const before = Float64Array.from(x);
    gradcheck(loss, [{ name: "x", x, analytic: grad() }]);
    expect(x).toEqual(before);
  });
});

describe("gradcheck: one cell unrolled over T steps (unrollForward / unrollBackward)", () => {
  let seed = 110; // a base whose rnn-relu cases keep live units at the last step (a dead layer makes the loss constant)
  for (const name of CELLS) {
    for (const reverse of [false, true]) {
      for (const shape of SHAPES) {
        const cellConfig = parseCell(name);
        if (shape === "final c only" && cellConfig.kind !== "lstm") continue;
        const caseSeed = seed++;
        it(`${name}${reverse ? " (reverse direction)" : ""}: ${shape}`, () => {
          const rng = Rng.seeded(caseSeed);
          const config: RecurrentConfig = { cell: cellConfig, inputSize: I, hiddenSize: H, numLayers: 1, bidirectional: false, dropout: 0 };
          const params = createArena("float64", recurrentSpecs(config));
          fillUniform(params.data, rng);
          const grads = mirrorArena(params);
          const { cell, dirs } = bindRecurrent(config, params);
          const dp = bindRecurrent(config, grads).dirs[0];
          const p = dirs[0];
          const x = randomF64(T * B * I, rng, 1);
          const h0 = randomF64(B * H, rng);
          const c0 = cell.hasC ? randomF64(B * H, rng) : null;
          const { wy, wh, wc } = lossWeights(shape, rng, H, B * H, cell.hasC);
          const forward = () => unrollForward(jsBackend, cell, p, "float64", { T, B, H }, I, x, h0, c0, reverse);
          const loss = () => {
            const run = forward();
            let L = 0;
            if (wy) for (let t = 0; t < T; t++) L += dot(outputAt(run, t), wy.subarray(t * B * H, (t + 1) * B * H));
            if (wh) L += dot(finalH(run), wh);
            if (wc) L += dot(finalC(run), wc);
            return L;
          };

          const run = forward();
          if (name === "rnn-relu") {
            // relu has a kink at 0: the finite difference is only valid away from it.
            expect(minPreactivation(run, p, I)).toBeGreaterThan(1e-3);
          }
          const dx = new Float64Array(T * B * I);
          const { dh0, dc0 } = unrollBackward(jsBackend, cell, p, dp, "float64", run, wy, wh, wc, dx);
          const tensors: Checked[] = [...arenaTensors(params, grads), { name: "x", x, analytic: dx }, { name: "h0", x: h0, analytic: dh0 }];
          if (c0) tensors.push({ name: "c0", x: c0, analytic: dc0 });
          expect(tensors).toHaveLength(params.specs.length + (c0 ? 3 : 2));
          expect(failures(gradcheck(loss, tensors))).toEqual([]);
        });
      }
    }
  }
});

describe("gradcheck: stacked and bidirectional stacks (recurrentForward / recurrentBackward)", () => {
  const cases: { name: string; bidirectional: boolean }[] = [
    { name: "lstm", bidirectional: false },
    { name: "lstm-peephole", bidirectional: false },
    { name: "gru", bidirectional: false },
    { name: "rnn-tanh", bidirectional: false },
    { name: "lstm", bidirectional: true },
    { name: "lstm-peephole-coupled", bidirectional: true },
    { name: "gru", bidirectional: true },
    { name: "gru-cho", bidirectional: true },
    { name: "rnn-sigmoid", bidirectional: true },
  ];
  let seed = 300;
  for (const { name, bidirectional } of cases) {
    for (const shape of SHAPES) {
      const cellConfig = parseCell(name);
      if (shape === "final c only" && cellConfig.kind !== "lstm") continue;
      const caseSeed = seed++;
      it(`2-layer ${bidirectional ? "bidirectional " : ""}${name}: ${shape}`, () => {
        const rng = Rng.seeded(caseSeed);
        const L = 2;
        const D = bidirectional ? 2 : 1;
        const config: RecurrentConfig = { cell: cellConfig, inputSize: I, hiddenSize: H, numLayers: L, bidirectional, dropout: 0 };
        const params = createArena("float64", recurrentSpecs(config));
        fillUniform(params.data, rng);
        const grads = mirrorArena(params);
        const r = bindRecurrent(config, params);
        const g = bindRecurrent(config, grads);
        const x = randomF64(T * B * I, rng, 1);
        const h0 = randomF64(L * D * B * H, rng);
        const c0 = r.cell.hasC ? randomF64(L * D * B * H, rng) : null;
        const { wy, wh, wc } = lossWeights(shape, rng, D * H, L * D * B * H, r.cell.hasC);
        const loss = () => {
          const pass = recurrentForward(jsBackend, r, "float64", x, T, B, h0, c0);
          return (wy ? dot(pass.y, wy) : 0) + (wh ? dot(pass.hN, wh) : 0) + (wc ? dot(pass.cN, wc) : 0);
        };
        const pass = recurrentForward(jsBackend, r, "float64", x, T, B, h0, c0);
        const { dx, dh0, dc0 } = recurrentBackward(jsBackend, r, g, "float64", pass, wy, wh, wc);
        const tensors: Checked[] = [...arenaTensors(params, grads), { name: "x", x, analytic: dx }, { name: "h0", x: h0, analytic: dh0 }];
        if (c0) tensors.push({ name: "c0", x: c0, analytic: dc0 });
        expect(failures(gradcheck(loss, tensors))).toEqual([]);
      });
    }
  }
});

/**
 * Gate pre-activations of a run of a hard-sigmoid LSTM or GRU, recomputed independently: per gate
 * element (i, f, o of an LSTM with their peepholes; r, z of a GRU), a = W_ih x + b_ih + W_hh h + b_hh
 * [+ p ⊙ c]. Returns how far the closest one is from the kinks ±2.5 and the fraction beyond them.
 */
function hardGateStats(run: UnrollCache, p: CellParams, I: number, cell: CellConfig): { kink: number; clipped: number } {
  const { T, B, H } = run.dims;
  const x = run.x;
  if (isTokenInput(x)) throw new Error("hardGateStats needs a dense input");
  const lstm = cell.kind === "lstm" ? cell : null;
  // [row block, peephole vector, whether it reads c_t (else c_{t−1})] per sigmoid gate
  const blocks: [number, FloatArray | undefined, boolean][] = lstm
    ? lstm.coupled
      ? [[0, p.extra.pf, false], [2, p.extra.po, true]]
      : [[0, p.extra.pi, false], [1, p.extra.pf, false], [3, p.extra.po, true]]
    : [[0, undefined, false], [1, undefined, false]];
  let kink = Infinity;
  let clipped = 0;
  let count = 0;
  for (let k = 0; k < T; k++) {
    const t = timeOf(k, T, run.reverse);
    for (let b = 0; b < B; b++) {
      for (const [g, peep, reads] of blocks) {
        for (let j = 0; j < H; j++) {
          const row = g * H + j;
          let a = p.bih[row] + p.bhh[row];
          for (let i = 0; i < I; i++) a += p.Wih[row * I + i] * x[(t * B + b) * I + i];
          for (let i = 0; i < H; i++) a += p.Whh[row * H + i] * run.hs[(k * B + b) * H + i];
          if (peep) a += peep[j] * run.cs[((reads ? k + 1 : k) * B + b) * H + j];
          kink = Math.min(kink, Math.abs(Math.abs(a) - 2.5));
          if (Math.abs(a) > 2.5) clipped++;
          count++;
        }
      }
    }
  }
  return { kink, clipped: clipped / count };
}

describe("gradcheck: hard-sigmoid gates (the -hard cells), clipped and linear parts both exercised", () => {
  // The hard sigmoid has kinks at ±2.5, where finite differences are not valid. Each case draws
  // parameters (U(−1.5, 1.5): larger than the other cases', so that gates reach the flat parts,
  // slope 0) and inputs from successive seeds until no gate pre-activation comes within 1e-3 of a
  // kink (the differences step by 2ε = 2e-4) and 15–85% of them lie beyond ±2.5; then checks.
  const HARD = ["lstm-hard", "lstm-peephole-hard", "lstm-coupled-hard", "lstm-peephole-coupled-hard", "gru-hard", "gru-cho-hard"] as const;
  let seed = 700;
  for (const name of HARD) {
    for (const reverse of [false, true]) {
      for (const shape of SHAPES) {
        const cellConfig = parseCell(name);
        if (shape === "final c only" && cellConfig.kind !== "lstm") continue;
        const caseSeed = 100 * seed++;
        it(`${name}${reverse ? " (reverse direction)" : ""}: ${shape}`, () => {
          const config: RecurrentConfig = { cell: cellConfig, inputSize: I, hiddenSize: H, numLayers: 1, bidirectional: false, dropout: 0 };
          const params = createArena("float64", recurrentSpecs(config));
          const grads = mirrorArena(params);
          const { cell, dirs } = bindRecurrent(config, params);
          const dp = bindRecurrent(config, grads).dirs[0];
          const p = dirs[0];
          const x = new Float64Array(T * B * I);
          const h0 = new Float64Array(B * H);
          const c0 = cell.hasC ? new Float64Array(B * H) : null;
          const forward = () => unrollForward(jsBackend, cell, p, "float64", { T, B, H }, I, x, h0, c0, reverse);
          let draw = 0;
          for (; ; draw++) {
            expect(draw, "no draw in 100 keeps away from the kinks").toBeLessThan(100);
            const rng = Rng.seeded(caseSeed + draw);
            fillUniform(params.data, rng, 1.5);
            fillUniform(x, rng, 1);
            fillUniform(h0, rng);
            if (c0) fillUniform(c0, rng);
            const stats = hardGateStats(forward(), p, I, cellConfig);
            if (stats.kink > 1e-3 && stats.clipped > 0.15 && stats.clipped < 0.85) break;
          }
          const { wy, wh, wc } = lossWeights(shape, Rng.seeded(caseSeed + draw + 50), H, B * H, cell.hasC);
          const loss = () => {
            const run = forward();
            let L = 0;
            if (wy) for (let t = 0; t < T; t++) L += dot(outputAt(run, t), wy.subarray(t * B * H, (t + 1) * B * H));
            if (wh) L += dot(finalH(run), wh);
            if (wc) L += dot(finalC(run), wc);
            return L;
          };
          const run = forward();
          const dx = new Float64Array(T * B * I);
          const { dh0, dc0 } = unrollBackward(jsBackend, cell, p, dp, "float64", run, wy, wh, wc, dx);
          const tensors: Checked[] = [...arenaTensors(params, grads), { name: "x", x, analytic: dx }, { name: "h0", x: h0, analytic: dh0 }];
          if (c0) tensors.push({ name: "c0", x: c0, analytic: dc0 });
          expect(failures(gradcheck(loss, tensors))).toEqual([]);
        });
      }
    }
  }

  for (const name of ["lstm-peephole-coupled-hard", "gru-cho-hard"]) {
    it(`2-layer bidirectional ${name}: all outputs and final states`, () => {
      const rng = Rng.seeded(name.length + 790);
      const L = 2;
      const config: RecurrentConfig = { cell: parseCell(name), inputSize: I, hiddenSize: H, numLayers: L, bidirectional: true, dropout: 0 };
      const params = createArena("float64", recurrentSpecs(config));
      fillUniform(params.data, rng, 1.5);
      const grads = mirrorArena(params);
      const r = bindRecurrent(config, params);
      const g = bindRecurrent(config, grads);
      const x = randomF64(T * B * I, rng, 1);
      const h0 = randomF64(L * 2 * B * H, rng);
      const c0 = r.cell.hasC ? randomF64(L * 2 * B * H, rng) : null;
      const { wy, wh, wc } = lossWeights("all outputs and final states", rng, 2 * H, L * 2 * B * H, r.cell.hasC);
      const loss = () => {
        const pass = recurrentForward(jsBackend, r, "float64", x, T, B, h0, c0);
        return (wy ? dot(pass.y, wy) : 0) + (wh ? dot(pass.hN, wh) : 0) + (wc ? dot(pass.cN, wc) : 0);
      };
      const pass = recurrentForward(jsBackend, r, "float64", x, T, B, h0, c0);
      // Every layer and direction (runs[l·2 + d]; layer 1 reads layer 0's (T, B, 2H) outputs).
      pass.runs.forEach((run, n) => expect(hardGateStats(run, r.dirs[n], n < 2 ? I : 2 * H, config.cell).kink).toBeGreaterThan(1e-3));
      const { dx, dh0, dc0 } = recurrentBackward(jsBackend, r, g, "float64", pass, wy, wh, wc);
      const tensors: Checked[] = [...arenaTensors(params, grads), { name: "x", x, analytic: dx }, { name: "h0", x: h0, analytic: dh0 }];
      if (c0) tensors.push({ name: "c0", x: c0, analytic: dc0 });
      expect(failures(gradcheck(loss, tensors))).toEqual([]);
    });
  }
});

describe("gradcheck: layers", () => {
  it("embedding: repeated ids add up, absent ids get no gradient", () => {
    const rng = Rng.seeded(400);
    const V = 6;
    const E = 3;
    const ids = Int32Array.from([2, 0, 2, 5, 3, 2, 0]); // 1 and 4 absent, 2 three times
    const N = ids.length;
    const W = randomF64(V * E, rng);
    const w = randomF64(N * E, rng, 1);
    const loss = () => {
      const out = new Float64Array(N * E);
      embeddingForward(W, ids, E, out);
      return dot(out, w);
    };
    const dW = new Float64Array(V * E);
    embeddingBackward(w, ids, E, dW);
    expect(failures(gradcheck(loss, [{ name: "embedding.weight", x: W, analytic: dW }]))).toEqual([]);
    for (const absent of [1, 4]) expect(Array.from(dW.subarray(absent * E, (absent + 1) * E))).toEqual([0, 0, 0]);
  });

  it("linear: W, b and x; dx written, or added into with accumulateDx", () => {
    const rng = Rng.seeded(401);
    const N = 5;
    const In = 3;
    const O = 4;
    const W = randomF64(O * In, rng);
    const b = randomF64(O, rng);
    const x = randomF64(N * In, rng, 1);
    const w = randomF64(N * O, rng, 1);
    const loss = () => {
      const y = new Float64Array(N * O);
      linearForward(jsBackend, W, b, x, N, In, O, y);
      return dot(y, w);
    };
    const dW = new Float64Array(O * In);
    const db = new Float64Array(O);
    const dx = randomF64(N * In, rng); // garbage: must be overwritten
    linearBackward(jsBackend, W, x, w, N, In, O, dW, db, dx);
    expect(
      failures(
        gradcheck(loss, [
          { name: "linear.weight", x: W, analytic: dW },
          { name: "linear.bias", x: b, analytic: db },
          { name: "x", x, analytic: dx },
        ]),
      ),
    ).toEqual([]);
    // accumulateDx: dx2 = prior + dL/dx
    const prior = randomF64(N * In, rng);
    const dx2 = Float64Array.from(prior);
    linearBackward(jsBackend, W, x, w, N, In, O, new Float64Array(O * In), new Float64Array(O), dx2, true);
    for (let i = 0; i < dx2.length; i++) expect(dx2[i]).toBeCloseTo(prior[i] + dx[i], 14);
  });

  for (const ignoreIndex of [-100, 2]) {
    it(`softmaxCrossEntropy with ignored rows (ignoreIndex ${ignoreIndex})`, () => {
      const rng = Rng.seeded(402 + ignoreIndex);
      const N = 5;
      const V = 4;
      const logits = randomF64(N * V, rng, 2);
      const targets = Int32Array.from([1, ignoreIndex, 3, 0, ignoreIndex === -100 ? 2 : 1]);
      const loss = () => softmaxCrossEntropy(logits, targets, N, V, null, ignoreIndex);
      const dlogits = randomF64(N * V, rng); // garbage: must be overwritten, ignored row zeroed
      const L = softmaxCrossEntropy(logits, targets, N, V, dlogits, ignoreIndex);
      expect(L).toBe(loss());
      expect(failures(gradcheck(loss, [{ name: "logits", x: logits, analytic: dlogits }]))).toEqual([]);
      expect(Array.from(dlogits.subarray(1 * V, 2 * V))).toEqual([0, 0, 0, 0]);
      // the mean is over the 4 counted rows only: an independent evaluation
      let expected = 0;
      for (const n of [0, 2, 3, 4]) {
        const row = Array.from(logits.subarray(n * V, (n + 1) * V));
        expected += Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[targets[n]];
      }
      expect(L).toBeCloseTo(expected / 4, 14);
    });
  }
});

describe("gradcheck: the language model through languageModelLoss", () => {
  // T·B = 12 tokens: V = 5 reads token ids through the projection table, V = 7 (2V > T·B) embeds
  // the rows first; one-hot input always reads token ids.
  const cases: { label: string; embedSize: number; V: number; cell: string; ignore: boolean }[] = [
    { label: "embedding input (token table), 2-layer lstm", embedSize: 3, V: 5, cell: "lstm", ignore: false },
    { label: "embedding input (token table), 2-layer gru, an ignored target", embedSize: 3, V: 5, cell: "gru", ignore: true },
    { label: "embedding input (embedded rows), 2-layer lstm", embedSize: 3, V: 7, cell: "lstm", ignore: false },
    { label: "embedding input (embedded rows), 2-layer gru-cho, an ignored target", embedSize: 3, V: 7, cell: "gru-cho", ignore: true },
    { label: "one-hot input, 2-layer lstm-peephole, an ignored target", embedSize: 0, V: 5, cell: "lstm-peephole", ignore: true },
    { label: "one-hot input, 2-layer rnn-tanh", embedSize: 0, V: 7, cell: "rnn-tanh", ignore: false },
  ];
  let seed = 500;
  for (const { label, embedSize, V, cell, ignore } of cases) {
    const caseSeed = seed++;
    it(label, () => {
      const rng = Rng.seeded(caseSeed);
      const L = 2;
      const config: LanguageModelConfig = { vocabSize: V, embedSize, cell: parseCell(cell), hiddenSize: H, numLayers: L, dropout: 0 };
      expect(usesTokenInput(config, T, B)).toBe(embedSize === 0 || label.includes("token table"));
      const model = createLanguageModel(config, "float64");
      fillUniform(model.params.data, rng);
      const tokens = Int32Array.from({ length: T * B }, () => rng.int(V));
      const targets = Int32Array.from({ length: T * B }, () => rng.int(V));
      if (ignore) targets[4] = -100;
      const hasC = config.cell.kind === "lstm";
      const state = { h: randomF64(L * B * H, rng), c: hasC ? randomF64(L * B * H, rng) : null };
      const loss = () => languageModelLoss(model, languageModelForward(jsBackend, model, tokens, T, B, state), targets, null);
      const pass = languageModelForward(jsBackend, model, tokens, T, B, state);
      const dlogits = new Float64Array(T * B * V);
      languageModelLoss(model, pass, targets, dlogits);
      const grads = createGradients(model);
      languageModelBackward(jsBackend, model, grads, pass, dlogits);
      const tensors = arenaTensors(model.params, grads);
      expect(tensors.map((t) => t.name)).toContain("linear.weight");
      if (embedSize > 0) expect(tensors.map((t) => t.name)).toContain("embedding.weight");
      expect(failures(gradcheck(loss, tensors))).toEqual([]);
    });
  }
});
