import { describe, expect, it } from "vitest";
import { cmudictText } from "../src/node/corpus.js";
import { parseCmudict } from "../src/tasks/cmudict.js";
import { randomSplit } from "../src/tasks/split.js";
import { Rng } from "../src/tensor/random.js";

describe("CMUdict as grapheme-to-phoneme pairs", () => {
  it("keeps the first pronunciation, the stress digits, and words of letters and apostrophes only", () => {
    const text = ";;; comment\nA  AH0\nA(1)  EY1\nA.  EY1\nAARON'S  EH1 R AH0 N Z\nAARONSON  EH1 R AH0 N S AH0 N\nAARONSON(1)  AA1 R AH0 N S AH0 N\nAD-HOC  AE1 D HH AA1 K\n";
    expect(parseCmudict(text)).toEqual([
      { word: "a", phones: ["AH0"] },
      { word: "aaron's", phones: ["EH1", "R", "AH0", "N", "Z"] },
      { word: "aaronson", phones: ["EH1", "R", "AH0", "N", "S", "AH0", "N"] },
    ]);
  });

  it("names the line that does not parse", () => {
    expect(() => parseCmudict("A  AH0\nB\n", "d.txt")).toThrow(/d\.txt:2: "B" has no pronunciation/);
    expect(() => parseCmudict("A  ah0\n", "d.txt")).toThrow(/d\.txt:1: "ah0" is not an ARPAbet phoneme/);
    expect(() => parseCmudict(";;; only\n", "d.txt")).toThrow(/holds no dictionary entries/);
  });

  it("the built-in dictionary: one entry per word, and a seeded 90/5/5 word-level split", () => {
    const { text } = cmudictText();
    const entries = parseCmudict(text);
    expect(entries.length).toBeGreaterThan(120_000);
    expect(new Set(entries.map((e) => e.word)).size).toBe(entries.length);
    expect(entries.find((e) => e.word === "aaronson")!.phones.join(" ")).toBe("EH1 R AH0 N S AH0 N");
    const split = randomSplit(entries.length, 0.05, 0.05, Rng.seeded(1));
    expect(Math.abs(split.test.length - entries.length * 0.05)).toBeLessThan(1);
    const train = new Set(split.train.map((i) => entries[i].word));
    expect(split.test.some((i) => train.has(entries[i].word))).toBe(false);
  });
});
