import { describe, expect, it } from "vitest";
import { classReport, editDistance, errorRates, formatConfusion, majorityBaseline } from "../src/tasks/metrics.js";

describe("classification report", () => {
  // gold 0 0 0 1 1 2, pred 0 0 1 1 2 2:
  //   class 0: tp 2, predicted 2, support 3 → P 1, R 2/3, F1 0.8
  //   class 1: tp 1, predicted 2, support 2 → P 1/2, R 1/2, F1 1/2
  //   class 2: tp 1, predicted 2, support 1 → P 1/2, R 1, F1 2/3
  const r = classReport([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], ["a", "b", "c"]);

  it("accuracy, per-class precision/recall/F1 and their macro average, by hand", () => {
    expect(r.accuracy).toBeCloseTo(4 / 6, 15);
    expect(r.perClass.map((c) => [c.precision, c.recall, c.support])).toEqual([[1, 2 / 3, 3], [0.5, 0.5, 2], [0.5, 1, 1]]);
    expect(r.perClass[0].f1).toBeCloseTo(0.8, 15);
    expect(r.perClass[2].f1).toBeCloseTo(2 / 3, 15);
    expect(r.macroF1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 15);
    expect(r.confusion).toEqual([[2, 1, 0], [0, 1, 1], [0, 0, 1]]);
    expect(formatConfusion(r).split("\n")).toEqual(["gold \\ predicted  a  b  c", "a                 2  1  0", "b                 0  1  1", "c                 0  0  1"]);
  });

  it("a class never predicted scores 0; a class absent from both is left out of the macro average", () => {
    const m = majorityBaseline([1, 1, 0], [0, 1, 1, 1], ["x", "y", "z"]);
    expect(m.accuracy).toBe(0.75);
    expect(m.perClass[0]).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(m.macroF1).toBeCloseTo((0 + (2 * 0.75) / 1.75) / 2, 15);
  });

  it("a class never predicted (3 classes), by hand", () => {
    // gold 0 1 2 2, pred 0 0 2 2:
    //   class 0: tp 1, predicted 2, support 1 → P 1/2, R 1, F1 2/3
    //   class 1: tp 0, predicted 0, support 1 → P 0 (zero_division=0), R 0, F1 0
    //   class 2: tp 2, predicted 2, support 2 → P 1, R 1, F1 1
    const n = classReport([0, 1, 2, 2], [0, 0, 2, 2], ["a", "b", "c"]);
    expect(n.perClass.map((c) => [c.precision, c.recall, c.support])).toEqual([[0.5, 1, 1], [0, 0, 1], [1, 1, 2]]);
    expect(n.perClass.map((c) => c.f1)).toEqual([2 / 3, 0, 1]);
    expect(n.macroF1).toBeCloseTo((2 / 3 + 0 + 1) / 3, 15);
    expect(n.accuracy).toBe(0.75);
    expect(n.count).toBe(4);
  });

  it("agrees with an independent count of tp/fp/fn on random data (F1 = 2tp / (2tp + fp + fn))", () => {
    let seed = 12345;
    const next = (k: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 16) % k;
    };
    for (let trial = 0; trial < 20; trial++) {
      const K = 2 + next(4);
      const n = 1 + next(60);
      const gold = Array.from({ length: n }, () => next(K));
      const pred = Array.from({ length: n }, () => (next(3) === 0 ? gold[0] : next(K)));
      const labels = Array.from({ length: K }, (_, k) => `c${k}`);
      const r = classReport(gold, pred, labels);
      let f1Sum = 0;
      let present = 0;
      for (let k = 0; k < K; k++) {
        const idx = gold.map((_, i) => i);
        const tp = idx.filter((i) => gold[i] === k && pred[i] === k).length;
        const fp = idx.filter((i) => gold[i] !== k && pred[i] === k).length;
        const fn = idx.filter((i) => gold[i] === k && pred[i] !== k).length;
        const f1 = tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
        expect(r.perClass[k].precision).toBeCloseTo(tp + fp === 0 ? 0 : tp / (tp + fp), 12);
        expect(r.perClass[k].recall).toBeCloseTo(tp + fn === 0 ? 0 : tp / (tp + fn), 12);
        expect(r.perClass[k].f1).toBeCloseTo(f1, 12);
        expect(r.perClass[k].support).toBe(tp + fn);
        if (tp + fp + fn > 0) {
          f1Sum += f1;
          present++;
        }
      }
      expect(r.macroF1).toBeCloseTo(f1Sum / present, 12);
      expect(r.accuracy).toBeCloseTo(gold.filter((g, i) => g === pred[i]).length / n, 12);
      expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(n);
    }
  });

  it("bad input", () => {
    expect(() => classReport([0], [1.5], ["a", "b"])).toThrow(/pred\[0\] = 1.5 is not a class id/);
    expect(() => classReport([-1], [0], ["a", "b"])).toThrow(/gold\[0\] = -1 is not a class id/);
    expect(() => classReport([0], [0], [])).toThrow(/no labels/);
    expect(() => majorityBaseline([], [0], ["a"])).toThrow(/no training examples/);
    expect(() => majorityBaseline([3], [0], ["a"])).toThrow(/trainGold\[0\] = 3/);
    expect(() => classReport([], [], ["a"])).toThrow(/nothing to score/);
    expect(() => classReport([0], [0, 1], ["a", "b"])).toThrow(/1 gold ids but 2 predictions/);
    expect(() => classReport([0], [2], ["a", "b"])).toThrow(/pred\[0\] = 2 is not a class id in 0…1/);
  });
});

describe("edit distance and error rates", () => {
  it("Levenshtein classics", () => {
    expect(editDistance([..."kitten"], [..."sitting"])).toBe(3);
    expect(editDistance([], ["a", "b"])).toBe(2);
    expect(editDistance(["a", "b", "c"], [])).toBe(3);
    expect(editDistance([..."flaw"], [..."lawn"])).toBe(editDistance([..."lawn"], [..."flaw"]));
    expect(editDistance(["AH0", "B"], ["AH1", "B"])).toBe(1);
  });

  it("phoneme and word error rates", () => {
    const refs = [["K", "AE1", "T"], ["D", "AO1", "G"]];
    const e = errorRates(refs, [["K", "AE1", "T"], ["D", "AO1"]]);
    expect(e).toEqual({ tokenErrorRate: 1 / 6, sequenceErrorRate: 0.5, count: 2 });
    expect(() => errorRates(refs, [])).toThrow(/2 references but 0 outputs/);
    expect(() => errorRates([], [])).toThrow(/nothing to score/);
    expect(() => errorRates([[]], [["X"]])).toThrow(/every reference is empty/);
  });
});
