/**
 * The encoder–decoder (src/tasks/seq2seq.ts): float64 finite-difference checks of every parameter
 * for each attention and cell, one and two encoder directions; a batch equals its sequences
 * alone; greedy decoding equals beam width 1 and the teacher-forced argmax where they must; beam
 * search never finds a worse output than greedy under its own score; a tiny copy task is learnt.
 */
import { describe, expect, it } from "vitest";
import { getBackend } from "../src/backend/select.js";
import { parseCell } from "../src/cells/cell.js";
import { mirrorArena } from "../src/tensor/arena.js";
import { Rng } from "../src/tensor/random.js";
import { createOptimizer } from "../src/train/optimizers.js";
import { clipGradNorm } from "../src/train/clip.js";
import {
  BOS_ID,
  createSeq2Seq,
  decoderData,
  EOS_ID,
  initSeq2Seq,
  seq2seqDecode,
  seq2seqLoss,
  type Seq2SeqAttention,
  type Seq2SeqBatch,
  type Seq2SeqConfig,
} from "../src/tasks/seq2seq.js";
import { buildSeq2SeqVocab, seq2seqBatches, scoreSeq2Seq, type TokenPair } from "../src/tasks/seq2seq-task.js";
import { failures, gradcheck } from "./helpers/gradcheck.js";

const js = getBackend("js");

function config(over: Partial<Seq2SeqConfig>): Seq2SeqConfig {
  return {
    srcVocabSize: 5,
    tgtVocabSize: 6,
    embedSize: 3,
    cell: parseCell("lstm"),
    hiddenSize: 4,
    numLayers: 1,
    bidirectional: true,
    dropout: 0,
    attention: "general",
    attentionSize: 3,
    ...over,
  };
}

function batch(rng: Rng, Ts: number, B: number, c: Seq2SeqConfig, lengths: number[]): Seq2SeqBatch {
  const src = Int32Array.from({ length: Ts * B }, () => rng.int(c.srcVocabSize));
  const targets = lengths.map((n) => Int32Array.from({ length: n }, () => 2 + rng.int(c.tgtVocabSize - 2)));
  return { src, Ts, B, targets };
}

describe("decoder data", () => {
  it("starts inputs with <s>, ends targets with </s>, pads with −100", () => {
    const { inputs, labels, Tt } = decoderData([Int32Array.from([4, 5]), Int32Array.from([3])]);
    expect(Tt).toBe(3);
    expect(Array.from(inputs)).toEqual([BOS_ID, BOS_ID, 4, 3, 5, EOS_ID]);
    expect(Array.from(labels)).toEqual([4, 3, 5, EOS_ID, EOS_ID, -100]);
  });
});

describe("seq2seq gradients (float64, finite differences)", () => {
  const cases: { name: string; over: Partial<Seq2SeqConfig> }[] = [];
  for (const attention of ["none", "dot", "general", "additive"] as Seq2SeqAttention[]) cases.push({ name: `lstm, bidirectional, ${attention}`, over: { attention } });
  cases.push({ name: "gru, unidirectional, additive", over: { cell: parseCell("gru"), bidirectional: false, attention: "additive" } });
  cases.push({ name: "lstm, 2 layers, bidirectional, dot", over: { numLayers: 2, attention: "dot" } });
  cases.push({ name: "rnn tanh, one-hot, general", over: { cell: parseCell("rnn-tanh"), embedSize: 0 } });
  for (const { name, over } of cases) {
    it(name, () => {
      const c = config(over);
      const model = createSeq2Seq(c, "float64");
      const rng = Rng.seeded(name.length * 7 + 1);
      initSeq2Seq(model, rng);
      // larger weights than the init's, so every path (the query side of the scores too) matters
      for (let i = 0; i < model.params.data.length; i++) model.params.data[i] *= 2.5;
      const b = batch(rng, 3, 2, c, [2, 3]);
      const grads = mirrorArena(model.params);
      seq2seqLoss(js, model, b, grads);
      const loss = () => seq2seqLoss(js, model, b, null).loss;
      const checks = gradcheck(
        loss,
        model.params.specs.map((s) => {
          const off = model.params.offsets.get(s.name)!;
          const n = s.shape.reduce((a, x) => a * x, 1);
          return { name: s.name, x: model.params.data.subarray(off, off + n), analytic: grads.data.subarray(off, off + n) };
        }),
      );
      expect(failures(checks)).toEqual([]);
    });
  }
});

describe("seq2seq batches", () => {
  it("a batch's loss is the token-weighted mean of its sequences alone", () => {
    const c = config({});
    const model = createSeq2Seq(c, "float64");
    const rng = Rng.seeded(3);
    initSeq2Seq(model, rng);
    const b = batch(rng, 4, 3, c, [1, 4, 2]);
    const whole = seq2seqLoss(js, model, b, null);
    let total = 0;
    let count = 0;
    for (let i = 0; i < 3; i++) {
      const src = Int32Array.from({ length: 4 }, (_, t) => b.src[t * 3 + i]);
      const r = seq2seqLoss(js, model, { src, Ts: 4, B: 1, targets: [b.targets[i]] }, null);
      total += r.loss * r.count;
      count += r.count;
    }
    expect(whole.count).toBe(count);
    expect(Math.abs(whole.loss - total / count)).toBeLessThan(1e-12);
  });

  it("rejects ids out of range with a message that says which", () => {
    const c = config({});
    const model = createSeq2Seq(c);
    expect(() => seq2seqLoss(js, model, { src: Int32Array.from([9]), Ts: 1, B: 1, targets: [Int32Array.from([2])] }, null)).toThrow(/source id 9 out of range/);
    expect(() => seq2seqLoss(js, model, { src: Int32Array.from([1]), Ts: 1, B: 1, targets: [Int32Array.from([1])] }, null)).toThrow(/target id 1 out of range/);
    expect(() => createSeq2Seq(config({ hiddenSize: 5 }))).toThrow(/even/);
  });
});

describe("decoding", () => {
  for (const attention of ["none", "additive"] as Seq2SeqAttention[]) {
    it(`${attention}: greedy output is the argmax chain, its log-probability the teacher-forced one; beam ≥ greedy`, () => {
      const c = config({ attention, hiddenSize: 6, tgtVocabSize: 5 });
      const model = createSeq2Seq(c, "float64");
      const rng = Rng.seeded(11);
      initSeq2Seq(model, rng);
      const Ts = 3;
      const B = 4;
      const src = Int32Array.from({ length: Ts * B }, () => rng.int(c.srcVocabSize));
      const greedy = seq2seqDecode(js, model, src, Ts, B, { beamWidth: 1, maxLength: 6 });
      const beam = seq2seqDecode(js, model, src, Ts, B, { beamWidth: 4, lengthPenalty: 0, maxLength: 6 });
      for (let b = 0; b < B; b++) {
        const one = Int32Array.from({ length: Ts }, (_, t) => src[t * B + b]);
        const g = greedy[b];
        const ended = g.ids.length < 6;
        if (ended) {
          // −log P of (ids, </s>) under teacher forcing equals the decoder's sum of log-probabilities
          const r = seq2seqLoss(js, model, { src: one, Ts, B: 1, targets: [g.ids] }, null);
          expect(Math.abs(-r.loss * r.count - g.logProb)).toBeLessThan(1e-9);
        }
        if (ended && beam[b].ids.length < 6) expect(beam[b].logProb).toBeGreaterThanOrEqual(g.logProb - 1e-12);
        if (attention !== "none" && g.attention) {
          const rows = g.ids.length + (ended ? 1 : 0); // one row per decoding step taken
          expect(g.attention.length).toBe(rows * Ts);
          for (let i = 0; i < rows; i++) {
            let s = 0;
            for (let t = 0; t < Ts; t++) s += g.attention[i * Ts + t];
            expect(Math.abs(s - 1)).toBeLessThan(1e-12);
          }
        }
      }
    });
  }
});

describe("learning", () => {
  it("reverses short sequences with attention (exact match on most training pairs)", () => {
    const rng = Rng.seeded(5);
    const letters = ["a", "b", "c", "d"];
    const pairs: TokenPair[] = [];
    for (let i = 0; i < 120; i++) {
      const n = 2 + rng.int(3);
      const s = Array.from({ length: n }, () => letters[rng.int(4)]);
      pairs.push({ source: s, target: [...s].reverse().map((x) => x.toUpperCase()), where: `pair ${i}` });
    }
    const vocab = buildSeq2SeqVocab(pairs);
    const c = config({ srcVocabSize: vocab.source.length, tgtVocabSize: vocab.target.length, embedSize: 8, hiddenSize: 24, attention: "general" });
    const model = createSeq2Seq(c, "float32");
    initSeq2Seq(model, Rng.seeded(1));
    const batches = seq2seqBatches(vocab, pairs, 16, Rng.seeded(2));
    const opt = createOptimizer({ kind: "adam", lr: 0.01 }, model.params.data.length, "float32");
    const grads = mirrorArena(model.params);
    for (let epoch = 0; epoch < 40; epoch++) {
      for (const b of batches) {
        grads.data.fill(0);
        seq2seqLoss(js, model, b, grads, { training: true, rng });
        clipGradNorm(grads.data, 5);
        opt.step(model.params.data, grads.data);
      }
    }
    const greedy = scoreSeq2Seq(js, model, vocab, pairs, { beamWidth: 1 });
    const beam = scoreSeq2Seq(js, model, vocab, pairs, { beamWidth: 3 });
    expect(greedy.wer).toBeLessThan(0.1);
    expect(beam.wer).toBeLessThan(0.1);
  });
});
