/**
 * Padded batches (`lengths`): a right-padded batch of sequences of different lengths through a
 * stacked bidirectional layer gives, at every valid step, the outputs, final states and gradients
 * of each sequence run alone at its own length — on every backend.
 */
import { describe, expect, it } from "vitest";
import { backendNames, getBackend } from "../src/backend/select.js";
import { parseCell } from "../src/cells/index.js";
import { bindRecurrent, recurrentBackward, recurrentForward, recurrentSpecs, reverseWithinLengths, type RecurrentConfig } from "../src/sequence/recurrent.js";
import { createArena, mirrorArena } from "../src/tensor/arena.js";
import { allocate, type DType } from "../src/tensor/dtype.js";
import { Rng } from "../src/tensor/random.js";
import { classifierLoss, createClassifier, initClassifier, type ClassifierConfig } from "../src/tasks/classifier.js";
import { createTagger, initTagger, taggerLoss, type TaggerConfig } from "../src/tasks/tagger.js";
import { fillUniform } from "./helpers/gradcheck.js";
import "../src/node/native-backend.js";

const I = 3;
const H = 4;
const LENGTHS = [5, 2, 4, 1];
const T = 5;
const B = LENGTHS.length;

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function check(backendName: string, cellName: string, bidirectional: boolean, dtype: DType, tol: number): void {
  const backend = getBackend(backendName);
  const rng = Rng.seeded(11);
  const config: RecurrentConfig = { cell: parseCell(cellName), inputSize: I, hiddenSize: H, numLayers: 2, bidirectional, dropout: 0 };
  const D = bidirectional ? 2 : 1;
  const params = createArena(dtype, recurrentSpecs(config));
  fillUniform(params.data, rng);
  const r = bindRecurrent(config, params);
  const lengths = Int32Array.from(LENGTHS);
  // (T, B, I) right-padded input; padding holds values, which must not matter
  const x = allocate(dtype, T * B * I);
  fillUniform(x, rng);
  const wy = allocate(dtype, T * B * D * H); // the loss Σ wy · y over valid steps
  fillUniform(wy, rng);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) if (t >= lengths[b]) wy.fill(0, (t * B + b) * D * H, (t * B + b + 1) * D * H);

  const grads = mirrorArena(params);
  const pass = recurrentForward(backend, r, dtype, x, T, B, null, null, { lengths });
  const { dx } = recurrentBackward(backend, r, bindRecurrent(config, grads), dtype, pass, wy, null, null, true);

  const sumGrads = new Float64Array(grads.data.length);
  const hc = config.cell.kind === "lstm";
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    const xb = allocate(dtype, n * I);
    const wb = allocate(dtype, n * D * H);
    for (let t = 0; t < n; t++) {
      xb.set(x.subarray((t * B + b) * I, (t * B + b + 1) * I), t * I);
      wb.set(wy.subarray((t * B + b) * D * H, (t * B + b + 1) * D * H), t * D * H);
    }
    const g1 = mirrorArena(params);
    const alone = recurrentForward(backend, r, dtype, xb, n, 1, null, null, {});
    const { dx: dx1 } = recurrentBackward(backend, r, bindRecurrent(config, g1), dtype, alone, wb, null, null, true);
    for (let i = 0; i < g1.data.length; i++) sumGrads[i] += g1.data[i];
    for (let t = 0; t < n; t++) {
      expect(maxDiff(pass.y.subarray((t * B + b) * D * H, (t * B + b + 1) * D * H), alone.y.subarray(t * D * H, (t + 1) * D * H))).toBeLessThan(tol);
      expect(maxDiff(dx.subarray((t * B + b) * I, (t * B + b + 1) * I), dx1.subarray(t * I, (t + 1) * I))).toBeLessThan(tol);
    }
    for (let t = n; t < T; t++) expect(maxDiff(dx.subarray((t * B + b) * I, (t * B + b + 1) * I), new Float64Array(I))).toBe(0);
    for (let i = 0; i < 2 * D; i++) {
      expect(maxDiff(pass.hN.subarray((i * B + b) * H, (i * B + b + 1) * H), alone.hN.subarray(i * H, (i + 1) * H))).toBeLessThan(tol);
      if (hc) expect(maxDiff(pass.cN.subarray((i * B + b) * H, (i * B + b + 1) * H), alone.cN.subarray(i * H, (i + 1) * H))).toBeLessThan(tol);
    }
  }
  const scale = Math.max(1, ...Array.from(sumGrads, Math.abs));
  expect(maxDiff(grads.data, sumGrads) / scale).toBeLessThan(tol);
}

describe("padded batches through stacked recurrent layers", () => {
  it("reverseWithinLengths reverses each sequence's valid steps and is its own inverse", () => {
    const x = Float64Array.from({ length: 3 * 2 }, (_, i) => i); // (T=3, B=2, F=1): x[t, b] = 2t + b
    const out = reverseWithinLengths(x, 3, 2, 1, Int32Array.from([3, 2]), new Float64Array(6));
    expect(Array.from(out)).toEqual([4, 3, 2, 1, 0, 5]);
    expect(Array.from(reverseWithinLengths(out, 3, 2, 1, Int32Array.from([3, 2]), new Float64Array(6)))).toEqual(Array.from(x));
  });

  for (const name of backendNames()) {
    for (const cell of ["lstm", "gru", "rnn-tanh"]) {
      for (const bidirectional of [true, false]) {
        it(`${name}, ${cell}${bidirectional ? ", bidirectional" : ""}: equals each sequence alone (float64${name === "js" || name === "reference" ? "" : " and float32"})`, () => {
          check(name, cell, bidirectional, "float64", 1e-12);
          if (name !== "js" && name !== "reference") check(name, cell, bidirectional, "float32", 2e-5);
        });
      }
    }
  }

  it("refuses lengths out of range, token input to a bidirectional padded stack, and final-state gradients", () => {
    const backend = getBackend("js");
    const config: RecurrentConfig = { cell: parseCell("lstm"), inputSize: I, hiddenSize: H, numLayers: 1, bidirectional: true, dropout: 0 };
    const params = createArena("float64", recurrentSpecs(config));
    const r = bindRecurrent(config, params);
    const x = new Float64Array(2 * 2 * I);
    expect(() => recurrentForward(backend, r, "float64", x, 2, 2, null, null, { lengths: Int32Array.from([2, 3]) })).toThrow(/lengths\[1\] = 3 is not in 1…T = 2/);
    expect(() => recurrentForward(backend, r, "float64", x, 2, 2, null, null, { lengths: Int32Array.from([2]) })).toThrow(/B = 2 sequence lengths/);
    const pass = recurrentForward(backend, r, "float64", x, 2, 2, null, null, { lengths: Int32Array.from([2, 1]) });
    expect(() => recurrentBackward(backend, r, bindRecurrent(config, mirrorArena(params)), "float64", pass, null, new Float64Array(2 * 2 * H), null)).toThrow(/final states of a padded batch/);
  });
});

describe("padded batches in the classifier and the tagger", () => {
  // sequences of lengths 5, 2, 4, 1 (token ids), right-padded with an arbitrary id
  const seqs = [[1, 2, 3, 4, 5], [2, 6], [6, 5, 4, 1], [3]];
  const padded = () => {
    const tokens = new Int32Array(T * B).fill(1);
    seqs.forEach((s, b) => s.forEach((id, t) => (tokens[t * B + b] = id)));
    return tokens;
  };
  const lengths = Int32Array.from(seqs.map((s) => s.length));

  for (const pooling of ["last", "mean", "max"] as const) {
    it(`classifier (bidirectional GRU, ${pooling} pooling): loss and gradients equal the mean over each sequence alone`, () => {
      const config: ClassifierConfig = { vocabSize: 7, embedSize: 3, cell: parseCell("gru"), hiddenSize: 4, numLayers: 2, bidirectional: true, dropout: 0, pooling, numClasses: 3 };
      const model = createClassifier(config, "float64");
      initClassifier(model, Rng.seeded(4));
      const labels = Int32Array.from([0, 2, 1, 2]);
      const grads = mirrorArena(model.params);
      const { loss } = classifierLoss(getBackend("js"), model, { tokens: padded(), T, B, labels, lengths }, grads);
      let want = 0;
      const wantGrads = new Float64Array(grads.data.length);
      seqs.forEach((s, b) => {
        const g = mirrorArena(model.params);
        want += classifierLoss(getBackend("js"), model, { tokens: Int32Array.from(s), T: s.length, B: 1, labels: labels.subarray(b, b + 1) }, g).loss / B;
        for (let i = 0; i < g.data.length; i++) wantGrads[i] += g.data[i] / B;
      });
      expect(Math.abs(loss - want)).toBeLessThan(1e-12);
      expect(maxDiff(grads.data, wantGrads)).toBeLessThan(1e-12);
      // and without lengths the padding is read: a different loss
      expect(Math.abs(classifierLoss(getBackend("js"), model, { tokens: padded(), T, B, labels }, null).loss - want)).toBeGreaterThan(1e-6);
    });
  }

  it("tagger (bidirectional LSTM): loss and gradients equal the token-weighted mean over each sequence alone", () => {
    const config: TaggerConfig = { vocabSize: 7, embedSize: 3, cell: parseCell("lstm"), hiddenSize: 4, numLayers: 2, bidirectional: true, dropout: 0, numTags: 3 };
    const model = createTagger(config, "float64");
    initTagger(model, Rng.seeded(5));
    const tagsOf = seqs.map((s) => s.map((id) => id % 3));
    const tags = new Int32Array(T * B).fill(7); // out of range at padded positions: must be ignored
    tagsOf.forEach((s, b) => s.forEach((tag, t) => (tags[t * B + b] = tag)));
    const grads = mirrorArena(model.params);
    const r = taggerLoss(getBackend("js"), model, { tokens: padded(), T, B, tags, lengths }, grads);
    const total = seqs.reduce((a, s) => a + s.length, 0);
    expect(r.count).toBe(total);
    let want = 0;
    const wantGrads = new Float64Array(grads.data.length);
    seqs.forEach((s, b) => {
      const g = mirrorArena(model.params);
      const w = s.length / total;
      want += w * taggerLoss(getBackend("js"), model, { tokens: Int32Array.from(s), T: s.length, B: 1, tags: Int32Array.from(tagsOf[b]) }, g).loss;
      for (let i = 0; i < g.data.length; i++) wantGrads[i] += w * g.data[i];
    });
    expect(Math.abs(r.loss - want)).toBeLessThan(1e-12);
    expect(maxDiff(grads.data, wantGrads)).toBeLessThan(1e-12);
  });
});
