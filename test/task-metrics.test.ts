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

  it("bad input", () => {
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
  });
});
