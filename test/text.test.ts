import { describe, expect, it } from "vitest";
import { jsBackend } from "../src/backend/js/index.js";
import { parseCell } from "../src/cells/cell.js";
import { evaluate, sample } from "../src/generate/text.js";
import { pickToken, sampleTokens } from "../src/generate/sample.js";
import { createLanguageModel, languageModelForward } from "../src/model/language-model.js";
import { makeBatches } from "../src/text/batches.js";
import { buildVocabulary, decode, encode, encodeText, splitWords } from "../src/text/vocab.js";
import { initLanguageModel } from "../src/train/init-model.js";
import { Rng } from "../src/tensor/random.js";

const MIXED = "Café — naïve façade; 東京は晴れ 🌧️→☀️ 👩‍👩‍👧 «quote» Ωmega\n";

function tinyModel(V: number, dtype: "float32" | "float64" = "float64") {
  const model = createLanguageModel({ vocabSize: V, embedSize: 6, cell: parseCell("lstm"), hiddenSize: 7, numLayers: 2, dropout: 0 }, dtype);
  initLanguageModel(model, Rng.seeded(11));
  return model;
}

describe("character vocabulary", () => {
  it("tokenises code points, not UTF-16 units or bytes, and round-trips non-ASCII text", () => {
    const v = buildVocabulary(MIXED, { level: "char" });
    const ids = encode(v, MIXED);
    expect(ids.length).toBe(Array.from(MIXED).length);
    expect(v.tokens).toContain("🌧"); // an astral-plane code point is one token
    expect(v.tokens).toContain("東");
    expect(v.tokens.every((t) => Array.from(t).length === 1)).toBe(true);
    expect(decode(v, ids)).toBe(MIXED);
  });

  it("sorts tokens by code point", () => {
    const v = buildVocabulary("cba—a", { level: "char" });
    expect(v.tokens).toEqual(["a", "b", "c", "—"]);
  });

  it("names an unknown character, or skips and counts it when asked", () => {
    const v = buildVocabulary("abc", { level: "char" });
    expect(() => encode(v, "abé")).toThrow(/character "é" \(U\+00E9\) at position 2 is not in the model's vocabulary/);
    const e = encodeText(v, "aébç", true);
    expect(Array.from(e.ids)).toEqual([0, 1]);
    expect(e.unknown).toBe(2);
  });
});

describe("word vocabulary", () => {
  it("splits words and punctuation, ends lines with <eos>, maps rare words to <unk>", () => {
    expect(splitWords("It's a whale—white!\nCall me", false)).toEqual(["It's", "a", "whale", "—", "white", "!", "<eos>", "Call", "me"]);
    expect(splitWords("Call me\n", false)).toEqual(["Call", "me", "<eos>"]); // a line ended by a newline gets <eos>
    const v = buildVocabulary("the whale the sea\nthe whale\n", { level: "word", minCount: 2 });
    expect(v.tokens).toEqual(["<unk>", "<eos>", "the", "whale"]);
    const e = encodeText(v, "the sea\n");
    expect(Array.from(e.ids)).toEqual([2, 0, 1]);
    expect(e.unknown).toBe(1);
    expect(decode(v, e.ids)).toBe("the <unk>\n");
  });

  it("lower-cases and caps the vocabulary size", () => {
    const v = buildVocabulary("The the THE a a b", { level: "word", lowercase: true, maxVocab: 4 });
    expect(v.tokens).toEqual(["<unk>", "<eos>", "the", "a"]);
  });

  it("round-trips non-ASCII words", () => {
    const text = "naïve café façade\n東京 晴れ\n";
    const v = buildVocabulary(text, { level: "word" });
    expect(decode(v, encode(v, text))).toBe(text);
  });
});

describe("batching", () => {
  it("cuts B contiguous streams into chunks with next-token targets and splits by chunk", () => {
    const ids = Int32Array.from({ length: 101 }, (_, i) => i);
    const b = makeBatches(ids, 2, 5, 0.2);
    // n = ⌊100/10⌋·10 = 100; streams [0…49], [50…99]; 10 chunks: 8 train, 2 val
    expect(b.train.length).toBe(8);
    expect(b.val.length).toBe(2);
    const c = b.train[1];
    expect(Array.from(c.x.filter((_, i) => i % 2 === 0))).toEqual([5, 6, 7, 8, 9]); // stream 0, time-major
    expect(Array.from(c.x.filter((_, i) => i % 2 === 1))).toEqual([55, 56, 57, 58, 59]);
    expect(Array.from(c.y.filter((_, i) => i % 2 === 0))).toEqual([6, 7, 8, 9, 10]);
    expect(Array.from(b.val[1].y.filter((_, i) => i % 2 === 1))).toEqual([96, 97, 98, 99, 100]);
  });

  it("follows the quality protocol's split for Moby Dick's size (581 chunks: 551 train, 30 val)", () => {
    const ids = new Int32Array(1_190_317);
    const b = makeBatches(ids, 32, 64, 0.05);
    expect([b.train.length, b.val.length, b.test.length]).toEqual([551, 30, 0]);
  });

  it("says what to do when the text is too short", () => {
    expect(() => makeBatches(new Int32Array(10), 4, 8, 0.1)).toThrow(/too few for one chunk of batch 4 × sequence length 8.*smaller --batch or --seq-len/);
  });
});

describe("sampling", () => {
  it("temperature → 0 equals argmax", () => {
    const V = 9;
    const model = tinyModel(V);
    const prime = Int32Array.from([1, 4, 2]);
    const greedy = [...sampleTokens(jsBackend, model, { length: 30, argmax: true, prime, rng: Rng.seeded(1) })];
    const cold = [...sampleTokens(jsBackend, model, { length: 30, temperature: 1e-4, prime, rng: Rng.seeded(2) })];
    expect(cold).toEqual(greedy);
    const warm = [...sampleTokens(jsBackend, model, { length: 30, temperature: 2, prime, rng: Rng.seeded(2) })];
    expect(warm).not.toEqual(greedy);
  });

  it("carries the state: each token costs one step and matches a full forward pass over the sequence", () => {
    const V = 9;
    const model = tinyModel(V);
    const prime = Int32Array.from([3, 1]);
    const out = [...sampleTokens(jsBackend, model, { length: 12, argmax: true, prime, rng: Rng.seeded(1) })];
    // Re-feeding the whole window must give the same greedy choices.
    const seq = [...prime];
    for (let i = 0; i < out.length; i++) {
      const pass = languageModelForward(jsBackend, model, Int32Array.from(seq), seq.length, 1, null);
      const z = pass.logits.subarray((seq.length - 1) * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (z[v] > z[best]) best = v;
      expect(out[i]).toBe(best);
      seq.push(best);
    }
  });

  it("top-k keeps only the k most likely tokens and top-p the nucleus", () => {
    const rng = Rng.seeded(5);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) seen.add(pickToken(Float64Array.from([0, 3, 2.9, 1, 2.5]), { topK: 2, rng }));
    expect([...seen].sort()).toEqual([1, 2]);
    const p = Float64Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
    const nucleus = new Set<number>();
    for (let i = 0; i < 300; i++) nucleus.add(pickToken(p.slice(), { topP: 0.75, rng }));
    expect([...nucleus].sort()).toEqual([0, 1]);
  });

  it("is deterministic for a seed and stops at a stop string", () => {
    const text = "abcabcabd\n";
    const vocab = buildVocabulary(text, { level: "char" });
    const lm = { model: tinyModel(vocab.tokens.length), vocab };
    const a = [...sample(lm, { length: 50, seed: 4 })].join("");
    const b = [...sample(lm, { length: 50, seed: 4 })].join("");
    expect(a).toBe(b);
    const stopped = [...sample(lm, { length: 500, seed: 4, stop: "a" })].join("");
    expect(stopped.endsWith("a")).toBe(true);
    expect(stopped.indexOf("a")).toBe(stopped.length - 1);
  });

  it("skips unknown characters of the prime instead of failing", () => {
    const vocab = buildVocabulary("abc", { level: "char" });
    const lm = { model: tinyModel(3), vocab };
    let unknown = 0;
    const out = [...sample(lm, { length: 5, prime: "aéb", onUnknown: (n) => (unknown = n) })];
    expect(out.length).toBe(5);
    expect(unknown).toBe(1);
  });
});

describe("evaluate", () => {
  it("matches a hand computation on a tiny text: mean of −log p(next) over the predicted tokens", () => {
    const text = "abcab";
    const vocab = buildVocabulary(text, { level: "char" });
    const V = vocab.tokens.length;
    const model = tinyModel(V);
    const ids = encode(vocab, text);
    // By hand: one forward pass over the whole text, then log-softmax of each position's logits.
    const pass = languageModelForward(jsBackend, model, ids, ids.length, 1, null);
    let total = 0;
    for (let t = 0; t + 1 < ids.length; t++) {
      const z = Array.from(pass.logits.subarray(t * V, (t + 1) * V));
      const lse = Math.log(z.reduce((s, v) => s + Math.exp(v), 0));
      total += lse - z[ids[t + 1]];
    }
    const want = total / (ids.length - 1);
    for (const seqLen of [1, 2, 256]) {
      const e = evaluate({ model, vocab }, text, { seqLen, backend: jsBackend });
      expect(e.tokens).toBe(4);
      expect(Math.abs(e.loss - want)).toBeLessThan(1e-12);
      expect(e.bits).toBeCloseTo(want / Math.LN2, 12);
      expect(e.perplexity).toBeCloseTo(Math.exp(want), 10);
    }
  });
});
