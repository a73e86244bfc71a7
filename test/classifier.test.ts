/**
 * Sequence classifier (src/tasks/classifier.ts) and the class-weighted cross-entropy
 * (src/layers/weighted-cross-entropy.ts): float64 finite-difference gradient checks of every
 * parameter tensor (LSTM and GRU, one and two directions, each pooling, two layers, one-hot input,
 * class weights, dropout with a fixed mask); a batch of B equals B runs of one; predicted
 * probabilities agree with the loss; a tiny model learns "does the sequence contain token 3".
 */
import { describe, expect, it } from "vitest";
import { getBackend } from "../src/backend/select.js";
import type { CellConfig } from "../src/cells/cell.js";
import type { Pooling } from "../src/layers/pooling.js";
import { softmaxCrossEntropy } from "../src/layers/softmax-cross-entropy.js";
import { balancedClassWeights, weightedSoftmaxCrossEntropy } from "../src/layers/weighted-cross-entropy.js";
import { mirrorArena, view } from "../src/tensor/arena.js";
import { Rng } from "../src/tensor/random.js";
import { createOptimizer } from "../src/train/optimizers.js";
import {
  classifierLoss,
  classifierPredict,
  classifierSpecs,
  createClassifier,
  initClassifier,
  type ClassifierConfig,
  type ClassifierModel,
} from "../src/tasks/classifier.js";
import { failures, gradcheck, randomF64, type TensorCheck } from "./helpers/gradcheck.js";

const backend = getBackend("js");
const LSTM: CellConfig = { kind: "lstm", peephole: false, coupled: false };
const GRU: CellConfig = { kind: "gru", resetAfter: true };

function config(over: Partial<ClassifierConfig> = {}): ClassifierConfig {
  return { vocabSize: 5, embedSize: 3, cell: LSTM, hiddenSize: 3, numLayers: 1, bidirectional: false, dropout: 0, pooling: "last", numClasses: 3, ...over };
}

function model64(c: ClassifierConfig, seed: number): ClassifierModel {
  const m = createClassifier(c, "float64");
  initClassifier(m, Rng.seeded(seed));
  return m;
}

function randomIds(n: number, V: number, rng: Rng): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(V);
  return a;
}

/** Largest per-tensor error seen by the gradchecks of this file (reported by the last test). */
let worst = 0;
function record(checks: readonly TensorCheck[]): void {
  for (const c of checks) worst = Math.max(worst, c.error);
}

describe("weighted cross-entropy", () => {
  it("equals softmaxCrossEntropy when weights are null (and with all-ones weights)", () => {
    const rng = Rng.seeded(1);
    const N = 5;
    const K = 4;
    const z = randomF64(N * K, rng, 2);
    const y = randomIds(N, K, rng);
    const d1 = new Float64Array(N * K);
    const d2 = new Float64Array(N * K);
    const d3 = new Float64Array(N * K);
    const a = softmaxCrossEntropy(z, y, N, K, d1);
    expect(weightedSoftmaxCrossEntropy(z, y, N, K, null, d2)).toBe(a);
    expect(Array.from(d2)).toEqual(Array.from(d1));
    expect(weightedSoftmaxCrossEntropy(z, y, N, K, new Float64Array(K).fill(1), d3)).toBeCloseTo(a, 14);
    for (let i = 0; i < d1.length; i++) expect(d3[i]).toBeCloseTo(d1[i], 14);
  });

  it("matches a hand computation on 2 rows", () => {
    // rows z0 = [0, 0] (target 0), z1 = [ln 3, 0] (target 1); weights w = [1, 3]
    // ℓ0 = ln 2, ℓ1 = ln(3 + 1) − 0 = ln 4; loss = (1·ln 2 + 3·ln 4) / (1 + 3) = 7 ln 2 / 4
    const z = Float64Array.from([0, 0, Math.log(3), 0]);
    const y = Int32Array.from([0, 1]);
    const d = new Float64Array(4);
    const loss = weightedSoftmaxCrossEntropy(z, y, 2, 2, Float64Array.from([1, 3]), d);
    expect(loss).toBeCloseTo((7 * Math.LN2) / 4, 14);
    // dz0 = (1/4)([1/2, 1/2] − [1, 0]); dz1 = (3/4)([3/4, 1/4] − [0, 1])
    const want = [-1 / 8, 1 / 8, 9 / 16, -9 / 16];
    for (let i = 0; i < 4; i++) expect(d[i]).toBeCloseTo(want[i], 14);
  });

  it("gradcheck w.r.t. the logits (float64)", () => {
    const rng = Rng.seeded(2);
    const N = 6;
    const K = 4;
    const z = randomF64(N * K, rng, 2);
    const y = randomIds(N, K, rng);
    const w = Float64Array.from([0.5, 2, 1, 3]);
    const d = new Float64Array(N * K);
    weightedSoftmaxCrossEntropy(z, y, N, K, w, d);
    const checks = gradcheck(() => weightedSoftmaxCrossEntropy(z, y, N, K, w, null), [{ name: "logits", x: z, analytic: d }]);
    record(checks);
    expect(failures(checks)).toEqual([]);
  });

  it("balancedClassWeights is scikit-learn's n_samples / (n_classes · bincount)", () => {
    // labels: class 0 ×3, class 1 ×1, class 2 ×2; n = 6, K = 3 → [6/9, 6/3, 6/6]
    const w = balancedClassWeights(Int32Array.from([0, 0, 1, 2, 0, 2]), 3);
    expect(Array.from(w)).toEqual([6 / 9, 2, 1]);
  });

  it("errors", () => {
    const z = new Float64Array(4);
    expect(() => weightedSoftmaxCrossEntropy(z, Int32Array.from([0, 2]), 2, 2, null, null)).toThrow(/target 2 at row 1 is out of range: there are 2 classes/);
    expect(() => weightedSoftmaxCrossEntropy(z, Int32Array.from([0, -1]), 2, 2, Float64Array.from([1, 1]), null)).toThrow(/target -1 at row 1/);
    expect(() => weightedSoftmaxCrossEntropy(z, Int32Array.from([0, 1]), 2, 2, Float64Array.from([1]), null)).toThrow(/1 weights for 2 classes/);
    expect(() => weightedSoftmaxCrossEntropy(z, Int32Array.from([0, 0]), 2, 2, Float64Array.from([0, 1]), null)).toThrow(/sum to 0/);
    expect(() => balancedClassWeights(Int32Array.from([0, 0, 2]), 3)).toThrow(/class 1 never occurs/);
    expect(() => balancedClassWeights(Int32Array.from([0, 3]), 3)).toThrow(/label 3 at position 1 is out of range/);
  });
});

describe("classifier gradients (float64, finite differences)", () => {
  const T = 4;
  const B = 3;
  const cases: { name: string; c: Partial<ClassifierConfig>; weights?: boolean; dropout?: boolean }[] = [];
  for (const [cellName, cell] of [["lstm", LSTM], ["gru", GRU]] as const) {
    for (const bidirectional of [false, true]) {
      for (const pooling of ["last", "mean", "max"] as Pooling[]) {
        cases.push({ name: `${cellName}, ${bidirectional ? "bi" : "uni"}directional, ${pooling}`, c: { cell, bidirectional, pooling } });
      }
    }
    cases.push({ name: `${cellName}, 2 layers, bidirectional, mean`, c: { cell, bidirectional: true, pooling: "mean", numLayers: 2 } });
  }
  cases.push({ name: "gru, one-hot input, max, class weights", c: { cell: GRU, embedSize: 0, pooling: "max" }, weights: true });
  cases.push({ name: "lstm, 2 layers, bidirectional, last, dropout (fixed mask)", c: { cell: LSTM, bidirectional: true, numLayers: 2, dropout: 0.3 }, dropout: true });

  cases.forEach(({ name, c: over, weights, dropout }, i) => {
    it(name, () => {
      const c = config(over);
      const m = model64(c, 10 + i);
      const rng = Rng.seeded(100 + i);
      const batch = { tokens: randomIds(T * B, c.vocabSize, rng), T, B, labels: Int32Array.from([0, 2, 1]) };
      const classWeights = weights ? Float64Array.from([0.5, 2, 1.5]) : null;
      // dropout: the same seed every call gives the same masks, so the loss is a smooth function
      const opts = () => (dropout ? { training: true, rng: Rng.seeded(7), classWeights } : { classWeights });
      const grads = mirrorArena(m.params);
      classifierLoss(backend, m, batch, grads, opts());
      const loss = () => classifierLoss(backend, m, batch, null, opts()).loss;
      const checks = gradcheck(
        loss,
        m.params.specs.map((s) => ({ name: s.name, x: view(m.params, s.name), analytic: view(grads, s.name) })),
      );
      record(checks);
      expect(checks.map((k) => k.name)).toEqual(classifierSpecs(c).map((s) => s.name));
      expect(failures(checks)).toEqual([]);
    });
  });
});

describe("classifier consistency", () => {
  for (const [cellName, cell] of [["lstm", LSTM], ["gru", GRU]] as const) {
    for (const bidirectional of [false, true]) {
      it(`${cellName}, ${bidirectional ? "bi" : "uni"}directional: a batch of B = the mean of B runs of one; predict agrees with the loss`, () => {
        const T = 5;
        const B = 4;
        const c = config({ cell, bidirectional, pooling: bidirectional ? "max" : "last", numLayers: bidirectional ? 2 : 1 });
        const m = model64(c, 3);
        const rng = Rng.seeded(4);
        const tokens = randomIds(T * B, c.vocabSize, rng);
        const labels = Int32Array.from([1, 0, 2, 1]);
        const whole = classifierLoss(backend, m, { tokens, T, B, labels }, null);
        expect(whole.count).toBe(B);
        let sum = 0;
        for (let b = 0; b < B; b++) {
          const one = new Int32Array(T);
          for (let t = 0; t < T; t++) one[t] = tokens[t * B + b];
          sum += classifierLoss(backend, m, { tokens: one, T, B: 1, labels: labels.subarray(b, b + 1) }, null).loss;
        }
        expect(Math.abs(whole.loss - sum / B)).toBeLessThan(1e-12);

        const p = classifierPredict(backend, m, tokens, T, B);
        expect(p).toBeInstanceOf(Float64Array);
        expect(p.length).toBe(B * c.numClasses);
        let nll = 0;
        for (let b = 0; b < B; b++) {
          let s = 0;
          for (let k = 0; k < c.numClasses; k++) s += p[b * c.numClasses + k];
          expect(Math.abs(s - 1)).toBeLessThan(1e-12);
          nll -= Math.log(p[b * c.numClasses + labels[b]]);
        }
        expect(Math.abs(nll / B - whole.loss)).toBeLessThan(1e-12);
      });
    }
  }

  it("gradients add into the gradient arena; float32 runs", () => {
    const c = config({ bidirectional: true, pooling: "mean" });
    const m = createClassifier(c);
    expect(m.params.dtype).toBe("float32");
    initClassifier(m, Rng.seeded(1));
    const batch = { tokens: randomIds(8, 5, Rng.seeded(2)), T: 4, B: 2, labels: Int32Array.from([0, 1]) };
    const g = mirrorArena(m.params);
    const r = classifierLoss(backend, m, batch, g);
    expect(Number.isFinite(r.loss)).toBe(true);
    const once = Float64Array.from(g.data);
    classifierLoss(backend, m, batch, g);
    for (let i = 0; i < once.length; i++) expect(g.data[i]).toBeCloseTo(2 * once[i], 5);
  });

  it("config and batch errors", () => {
    expect(() => createClassifier(config({ numClasses: 1 }))).toThrow(/numClasses must be an integer ≥ 2/);
    expect(() => createClassifier(config({ pooling: "sum" as Pooling }))).toThrow(/unknown pooling "sum"/);
    expect(() => createClassifier(config({ embedSize: -1 }))).toThrow(/embedSize must be 0/);
    expect(() => createClassifier(config({ dropout: 1 }))).toThrow(/dropout must be in \[0, 1\)/);
    const m = createClassifier(config(), "float64");
    const tokens = new Int32Array(6);
    expect(() => classifierLoss(backend, m, { tokens, T: 3, B: 2, labels: Int32Array.from([0]) }, null)).toThrow(/1 labels for B = 2/);
    expect(() => classifierLoss(backend, m, { tokens, T: 3, B: 2, labels: Int32Array.from([0, 3]) }, null)).toThrow(/target 3 at row 1 is out of range/);
    expect(() => classifierLoss(backend, m, { tokens: Int32Array.from([0, 9, 0, 0, 0, 0]), T: 3, B: 2, labels: Int32Array.from([0, 1]) }, null)).toThrow(/token id 9/);
    expect(() => classifierLoss(backend, m, { tokens, T: 2, B: 2, labels: Int32Array.from([0, 1]) }, null)).toThrow(/expected T·B = 2·2/);
    const d = createClassifier(config({ dropout: 0.5 }), "float64");
    expect(() => classifierLoss(backend, d, { tokens, T: 3, B: 2, labels: Int32Array.from([0, 1]) }, null, { training: true })).toThrow(/needs a random generator/);
  });
});

describe("classifier learns", () => {
  it('"does the sequence contain token 3" to 100% training accuracy (Adam, float32)', () => {
    const rng = Rng.seeded(2024);
    const T = 6;
    const B = 40;
    const V = 6;
    const tokens = new Int32Array(T * B);
    const labels = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      // half the sequences get a 3 at a random place; the rest draw from the other tokens
      const has = b % 2 === 0;
      for (let t = 0; t < T; t++) {
        let id = rng.int(V - 1);
        if (id >= 3) id++; // never 3
        tokens[t * B + b] = id;
      }
      if (has) tokens[rng.int(T) * B + b] = 3;
      labels[b] = has ? 1 : 0;
    }
    const c = config({ vocabSize: V, embedSize: 4, hiddenSize: 8, numClasses: 2, pooling: "max" });
    const m = createClassifier(c);
    initClassifier(m, Rng.seeded(5));
    const g = mirrorArena(m.params);
    const opt = createOptimizer({ kind: "adam", lr: 0.03 }, m.params.data.length, m.params.dtype);
    const batch = { tokens, T, B, labels };
    const accuracy = () => {
      const p = classifierPredict(backend, m, tokens, T, B);
      let right = 0;
      for (let b = 0; b < B; b++) if ((p[b * 2 + 1] > p[b * 2] ? 1 : 0) === labels[b]) right++;
      return right / B;
    };
    let steps = 0;
    while (steps < 400) {
      g.data.fill(0);
      classifierLoss(backend, m, batch, g);
      opt.step(m.params.data, g.data);
      steps++;
      if (steps % 20 === 0 && accuracy() === 1) break;
    }
    console.log(`classifier "contains 3": training accuracy ${accuracy()} after ${steps} Adam steps`);
    expect(accuracy()).toBe(1);
    expect(classifierLoss(backend, m, batch, null).loss).toBeLessThan(0.2);
  });

  it("largest gradcheck error in this file", () => {
    // the worst per-tensor relative error of every gradcheck above
    console.log(`classifier.test.ts: worst gradcheck relative error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-6);
  });
});
