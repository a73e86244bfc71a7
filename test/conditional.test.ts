/**
 * The conditional language model (src/tasks/conditional.ts): float64 finite-difference checks of
 * every parameter, the initial-state tables included (LSTM and GRU, one and two layers, embedded
 * and one-hot inputs, dropout); with zero initial states it is exactly the language model; a batch
 * is the mean of its sequences alone; the initial-state layout; sampling is deterministic and
 * stops at the boundary; a toy set (condition 0: "aaa…", condition 1: "bbb…") is learnt, sampled
 * and classified.
 */
import { describe, expect, it } from "vitest";
import { getBackend } from "../src/backend/select.js";
import { parseCell } from "../src/cells/cell.js";
import { createLanguageModel, languageModelForward, languageModelLoss } from "../src/model/language-model.js";
import { assign, mirrorArena, view } from "../src/tensor/arena.js";
import { Rng } from "../src/tensor/random.js";
import { createOptimizer } from "../src/train/optimizers.js";
import {
  conditionalBatch,
  conditionalLogProb,
  conditionalLoss,
  conditionalPredict,
  conditionalSample,
  conditionalSpecs,
  conditionalStates,
  createConditional,
  initConditional,
  type ConditionalBatch,
  type ConditionalConfig,
  type ConditionalModel,
} from "../src/tasks/conditional.js";
import { failures, gradcheck } from "./helpers/gradcheck.js";

const js = getBackend("js");

function config(over: Partial<ConditionalConfig>): ConditionalConfig {
  return { vocabSize: 5, embedSize: 3, cell: parseCell("lstm"), hiddenSize: 3, numLayers: 1, dropout: 0, numConditions: 4, boundary: 0, ...over };
}

function model64(c: ConditionalConfig, seed: number): ConditionalModel {
  const m = createConditional(c, "float64");
  initConditional(m, Rng.seeded(seed));
  return m;
}

/** B random sequences of length m (no boundary), random conditions unless given. */
function randomBatch(c: ConditionalConfig, rng: Rng, m: number, conditions: number[]): ConditionalBatch {
  const seqs = conditions.map(() => Int32Array.from({ length: m }, () => 1 + rng.int(c.vocabSize - 1)));
  return conditionalBatch(c, seqs, conditions);
}

describe("conditional LM gradients (float64, finite differences)", () => {
  // T·B ≥ 2V: the first layer reads token ids through a projection table; T·B < 2V: an embedded
  // (T, B, E) input; embedSize 0: one-hot token input. Conditions [2, 0, 2]: row 2 gets two
  // sequences' gradients, rows 1 and 3 none.
  const cases: { name: string; c: Partial<ConditionalConfig>; m: number; training?: boolean }[] = [
    { name: "lstm, 1 layer, embedding (token input)", c: { cell: parseCell("lstm"), numLayers: 1, vocabSize: 5 }, m: 4 },
    { name: "lstm, 2 layers, embedding (embedded input), dropout", c: { cell: parseCell("lstm"), numLayers: 2, vocabSize: 8, dropout: 0.3 }, m: 2, training: true },
    { name: "gru, 1 layer, one-hot", c: { cell: parseCell("gru"), numLayers: 1, embedSize: 0 }, m: 4 },
    { name: "gru, 2 layers, embedding (embedded input)", c: { cell: parseCell("gru"), numLayers: 2, vocabSize: 8 }, m: 2 },
    { name: "lstm-peephole, 2 layers, one-hot", c: { cell: parseCell("lstm-peephole"), numLayers: 2, embedSize: 0 }, m: 3 },
    { name: "rnn, 2 layers, embedding", c: { cell: parseCell("rnn"), numLayers: 2 }, m: 3 },
  ];
  cases.forEach(({ name, c: over, m, training }, k) => {
    it(name, () => {
      const c = config(over);
      const model = model64(c, 10 + k);
      const batch = randomBatch(c, Rng.seeded(20 + k), m, [2, 0, 2]);
      const opts = () => ({ training, rng: Rng.seeded(30 + k) }); // the same dropout mask every call
      const grads = mirrorArena(model.params);
      const { count } = conditionalLoss(js, model, batch, grads, opts());
      expect(count).toBe(batch.T * batch.B);
      const checks = gradcheck(
        () => conditionalLoss(js, model, batch, null, opts()).loss,
        model.params.specs.map((s) => ({ name: s.name, x: view(model.params, s.name), analytic: view(grads, s.name) })),
      );
      const names = checks.map((r) => r.name);
      expect(names).toContain("condition.h");
      expect(names.includes("condition.c")).toBe(c.cell.kind === "lstm");
      expect(failures(checks)).toEqual([]);
      // unused conditions get exactly no gradient
      const L = c.numLayers * c.hiddenSize;
      for (const t of names.filter((n) => n.startsWith("condition."))) {
        const g = view(grads, t);
        for (const row of [1, 3]) for (let j = 0; j < L; j++) expect(g[row * L + j]).toBe(0);
      }
      console.log(`${name}: ${checks.map((r) => `${r.name} ${r.error.toExponential(1)}`).join(", ")}`);
    });
  });
});

describe("conditional LM", () => {
  it("names its tensors as the language model, plus condition.h and condition.c (C, L·H)", () => {
    const c = config({ numLayers: 2, numConditions: 3 });
    const specs = conditionalSpecs(c);
    expect(specs.map((s) => s.name)).toEqual([...createLanguageModel(c).params.specs.map((s) => s.name), "condition.h", "condition.c"]);
    expect(specs.at(-1)!.shape).toEqual([3, 6]);
    expect(conditionalSpecs(config({ cell: parseCell("gru") })).map((s) => s.name)).not.toContain("condition.c");
  });

  it("with zero initial states is exactly the language model on the same tensors", () => {
    for (const cell of ["lstm", "gru"]) {
      const c = config({ cell: parseCell(cell), numLayers: 2 });
      const model = model64(c, 1);
      view(model.params, "condition.h").fill(0);
      if (cell === "lstm") view(model.params, "condition.c").fill(0);
      const lm = createLanguageModel(c, "float64");
      for (const s of lm.params.specs) assign(lm.params, s.name, view(model.params, s.name));
      const batch = randomBatch(c, Rng.seeded(2), 4, [0, 3, 1]);
      const pass = languageModelForward(js, lm, batch.tokens, batch.T, batch.B, null);
      expect(conditionalLoss(js, model, batch, null).loss).toBe(languageModelLoss(lm, pass, batch.targets, null));
    }
  });

  it("lays out the initial states as (L, B, H) rows of the condition tables", () => {
    const c = config({ numLayers: 2, hiddenSize: 3, numConditions: 3 });
    const model = model64(c, 3);
    const conditions = Int32Array.from([2, 0, 2, 1]);
    const { h, c: c0 } = conditionalStates(model, conditions);
    const th = view(model.params, "condition.h");
    const tc = view(model.params, "condition.c");
    for (let l = 0; l < 2; l++)
      for (let b = 0; b < 4; b++)
        for (let j = 0; j < 3; j++) {
          expect(h[(l * 4 + b) * 3 + j]).toBe(th[conditions[b] * 6 + l * 3 + j]);
          expect(c0![(l * 4 + b) * 3 + j]).toBe(tc[conditions[b] * 6 + l * 3 + j]);
        }
    expect(conditionalStates(model64(config({ cell: parseCell("gru") }), 3), conditions).c).toBeNull();
  });

  it("a batch of two sequences with different conditions gives the mean of their single losses and gradients", () => {
    for (const cell of ["lstm", "gru"]) {
      const c = config({ cell: parseCell(cell), numLayers: 2 });
      const model = model64(c, 4);
      const rng = Rng.seeded(5);
      const a = Int32Array.from({ length: 5 }, () => 1 + rng.int(4));
      const b = Int32Array.from({ length: 5 }, () => 1 + rng.int(4));
      const gBoth = mirrorArena(model.params);
      const gA = mirrorArena(model.params);
      const gB = mirrorArena(model.params);
      const both = conditionalLoss(js, model, conditionalBatch(c, [a, b], [1, 3]), gBoth).loss;
      const la = conditionalLoss(js, model, conditionalBatch(c, [a], [1]), gA).loss;
      const lb = conditionalLoss(js, model, conditionalBatch(c, [b], [3]), gB).loss;
      expect(Math.abs(both - (la + lb) / 2)).toBeLessThan(1e-12);
      let diff = 0;
      for (let i = 0; i < gBoth.data.length; i++) diff = Math.max(diff, Math.abs(gBoth.data[i] - (gA.data[i] + gB.data[i]) / 2));
      expect(diff).toBeLessThan(1e-12);
    }
  });

  it("builds batches as [⏎, w…] → [w…, ⏎], time-major", () => {
    const c = config({});
    const batch = conditionalBatch(c, [Int32Array.from([1, 2, 2, 1]), Int32Array.from([3, 4, 4, 3])], [0, 1]);
    expect(batch.T).toBe(5);
    expect(Array.from(batch.tokens)).toEqual([0, 0, 1, 3, 2, 4, 2, 4, 1, 3]);
    expect(Array.from(batch.targets)).toEqual([1, 3, 2, 4, 2, 4, 1, 3, 0, 0]);
  });

  it("conditionalLogProb is −(T·mean loss) and conditionalPredict normalises over conditions", () => {
    const c = config({ numLayers: 2 });
    const model = model64(c, 6);
    const ids = Int32Array.from([1, 4, 2]);
    for (let k = 0; k < c.numConditions; k++) {
      const loss = conditionalLoss(js, model, conditionalBatch(c, [ids], [k]), null).loss;
      expect(conditionalLogProb(js, model, k, ids)).toBeCloseTo(-4 * loss, 12);
    }
    const p = conditionalPredict(js, model, ids);
    const lp = Array.from({ length: c.numConditions }, (_, k) => conditionalLogProb(js, model, k, ids));
    const z = lp.reduce((s, v) => s + Math.exp(v), 0);
    for (let k = 0; k < c.numConditions; k++) expect(p[k]).toBeCloseTo(Math.exp(lp[k]) / z, 12);
  });

  it("rejects bad configs, batches and sequences with errors that say what to do", () => {
    expect(() => createConditional(config({ numConditions: 0 }))).toThrow(/numConditions/);
    expect(() => createConditional(config({ boundary: 5 }))).toThrow(/boundary must be a token id in 0…4/);
    const c = config({});
    const model = model64(c, 7);
    expect(() => conditionalBatch(c, [Int32Array.from([1, 2]), Int32Array.from([1])], [0, 1])).toThrow(/group sequences by length/);
    expect(() => conditionalBatch(c, [Int32Array.from([1, 0])], [0])).toThrow(/boundary token/);
    expect(() => conditionalLoss(js, model, { ...randomBatch(c, Rng.seeded(1), 2, [0]), conditions: Int32Array.from([4]) }, null)).toThrow(/4 conditions/);
    expect(() => conditionalSample(js, model, 0, Rng.seeded(1), { maxLength: 5, prime: Int32Array.from([0]) })).toThrow(/boundary/);
  });
});

describe("conditional sampling", () => {
  const c = config({ numLayers: 2 });

  it("is deterministic for a seed and stops at the boundary", () => {
    const model = model64(c, 8);
    const draw = (seed: number) => {
      const rng = Rng.seeded(seed);
      return Array.from({ length: 20 }, (_, i) => Array.from(conditionalSample(js, model, i % 4, rng, { maxLength: 30 })));
    };
    const a = draw(100);
    expect(draw(100)).toEqual(a);
    expect(draw(200)).not.toEqual(a);
    for (const s of a) expect(s).not.toContain(c.boundary);
    expect(a.some((s) => s.length < 30)).toBe(true); // some stopped at a drawn boundary
  });

  it("ends at once when the boundary is certain, and runs to maxLength when it is impossible", () => {
    const model = model64(c, 9);
    view(model.params, "linear.weight").fill(0);
    const bias = view(model.params, "linear.bias");
    bias.fill(0);
    bias[c.boundary] = 1e3;
    expect(Array.from(conditionalSample(js, model, 1, Rng.seeded(1), { maxLength: 10 }))).toEqual([]);
    expect(Array.from(conditionalSample(js, model, 1, Rng.seeded(1), { maxLength: 10, prime: Int32Array.from([3, 2]) }))).toEqual([3, 2]);
    bias[c.boundary] = -1e3;
    const s = conditionalSample(js, model, 1, Rng.seeded(1), { maxLength: 10, prime: Int32Array.from([3]) });
    expect(s.length).toBe(11);
    expect(s[0]).toBe(3);
    expect(Array.from(s)).not.toContain(c.boundary);
    expect(conditionalSample(js, model, 1, Rng.seeded(1), { maxLength: 10, topK: 1, temperature: 0.5 }).length).toBe(10);
  });
});

describe("learning a toy conditional set", () => {
  it("condition 0 writes a…a, condition 1 writes b…b, and held-out sequences are classified", () => {
    // vocabulary: 0 = ⏎ (boundary), 1 = a, 2 = b
    const c: ConditionalConfig = { vocabSize: 3, embedSize: 0, cell: parseCell("lstm"), hiddenSize: 8, numLayers: 1, dropout: 0, numConditions: 2, boundary: 0 };
    const model = createConditional(c, "float64");
    initConditional(model, Rng.seeded(11));
    const rng = Rng.seeded(12);
    const example = () => {
      const k = rng.int(2);
      return { k, ids: new Int32Array(2 + rng.int(5)).fill(1 + k) }; // lengths 2…6
    };
    const train = Array.from({ length: 40 }, example);
    const batches: ConditionalBatch[] = [];
    for (let n = 2; n <= 6; n++) {
      const group = train.filter((e) => e.ids.length === n);
      if (group.length > 0) batches.push(conditionalBatch(c, group.map((e) => e.ids), group.map((e) => e.k)));
    }
    const opt = createOptimizer({ kind: "adam", lr: 0.05 }, model.params.data.length, "float64");
    const grads = mirrorArena(model.params);
    let first = 0;
    let last = 0;
    for (let epoch = 0; epoch < 400; epoch++) {
      let total = 0;
      for (const batch of batches) {
        grads.data.fill(0);
        total += conditionalLoss(js, model, batch, grads).loss;
        opt.step(model.params.data, grads.data);
      }
      if (epoch === 0) first = total / batches.length;
      last = total / batches.length;
    }
    console.log(`toy set: mean loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
    expect(last).toBeLessThan(0.5 * first);

    // The data generator, well past its first draws: a freshly seeded Rng's first uniform() is
    // 1 − 1e-13…1e-6 for small seeds, which would pick the last token (here b) of any nonzero mass.
    const sampler = rng;
    for (let k = 0; k < 2; k++) {
      for (let i = 0; i < 10; i++) {
        const s = conditionalSample(js, model, k, sampler, { maxLength: 12 });
        expect(s.length).toBeGreaterThan(0);
        expect(Array.from(s).every((t) => t === 1 + k)).toBe(true);
      }
    }
    // held out: fresh examples of the trained lengths, and longer ones never seen
    const heldOut = [...Array.from({ length: 10 }, example), { k: 0, ids: new Int32Array(8).fill(1) }, { k: 1, ids: new Int32Array(9).fill(2) }];
    for (const { k, ids } of heldOut) {
      expect(conditionalLogProb(js, model, k, ids)).toBeGreaterThan(conditionalLogProb(js, model, 1 - k, ids));
      expect(conditionalPredict(js, model, ids)[k]).toBeGreaterThan(0.5);
    }
  });
});
