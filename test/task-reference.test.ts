/**
 * PyTorch reference vectors of the sequence-task layers (issue 13): global attention (dot,
 * general, additive; masked by source length), the classifier (bidirectional LSTM, last / mean /
 * max pooling, class-weighted cross-entropy), the conditional LM (learned initial state per
 * condition) and the encoder–decoder (bidirectional encoder and bridge, attention, teacher
 * forcing). Each file of test/fixtures/tasks holds PyTorch's parameters by unroll's names, the
 * inputs, and PyTorch's outputs and autograd gradients, all float64; its generator is
 * bench/reference/tasks.py (PyTorch only there — these tests read the committed JSON).
 *
 * Every element is compared as |a − b| ≤ ATOL + RTOL·|b|, float64 against float64: a correct
 * implementation differs from PyTorch by rounding only (≈ 1e-15 relative here), a wrong term by
 * ≳ 1e-4. Every parameter of our model must be in the file and every tensor of the file must be
 * compared.
 */
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { getBackend } from "../src/backend/select.js";
import { attentionBackward, attentionForward, attentionMemory, attentionSpecs, bindAttention, type AttentionConfig } from "../src/layers/attention.js";
import { languageModelForward } from "../src/model/language-model.js";
import { classifierLoss, classifierPredict, createClassifier, type ClassifierConfig } from "../src/tasks/classifier.js";
import { conditionalBatch, conditionalLoss, conditionalStates, createConditional, type ConditionalConfig } from "../src/tasks/conditional.js";
import { createSeq2Seq, decoderData, seq2seqLoss, type Seq2SeqConfig } from "../src/tasks/seq2seq.js";
import { assign, createArena, mirrorArena, view, type Arena } from "../src/tensor/arena.js";

const js = getBackend("js");
const dir = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "tasks");

/** Per-element tolerance |a − b| ≤ ATOL + RTOL·|b| (float64 vs float64). */
const RTOL = 1e-10;
const ATOL = 1e-12;

interface Tensor {
  readonly shape: number[];
  readonly data: number[];
}

interface Fixture {
  readonly case: string;
  readonly kind: "attention" | "classifier" | "conditional" | "seq2seq";
  readonly torch_version: string;
  readonly config: unknown;
  readonly notes: string;
  /** per kind: sizes, token ids, tensors; see bench/reference/tasks.py */
  readonly inputs: any;
  readonly params: Record<string, Tensor>;
  readonly expected: Record<string, Tensor>;
  readonly grads: Record<string, Tensor>;
}

interface Comparison {
  readonly name: string;
  readonly count: number;
  readonly maxAbs: number;
  /** max over elements of |a − b| / (ATOL + RTOL·|b|): ≤ 1 passes */
  readonly ratio: number;
  readonly error: string | null;
}

const files = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort();

function load(file: string): Fixture {
  return JSON.parse(readFileSync(join(dir, file), "utf8")) as Fixture;
}

const f64 = (t: Tensor) => Float64Array.from(t.data);

/** Collects the comparisons of one fixture. */
class Checker {
  readonly results: Comparison[] = [];

  compare(name: string, actual: ArrayLike<number>, ref: Tensor | undefined): void {
    if (!ref) {
      this.results.push({ name, count: 0, maxAbs: Infinity, ratio: Infinity, error: "missing from the fixture" });
      return;
    }
    const n = ref.shape.reduce((p, d) => p * d, 1);
    if (ref.data.length !== n || actual.length !== n) {
      this.results.push({ name, count: 0, maxAbs: Infinity, ratio: Infinity, error: `${actual.length} values, the fixture has ${ref.data.length} for shape (${ref.shape.join(", ")})` });
      return;
    }
    let maxAbs = 0;
    let ratio = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.abs(actual[i] - ref.data[i]);
      const r = d / (ATOL + RTOL * Math.abs(ref.data[i]));
      if (!(d <= maxAbs)) maxAbs = d; // NaN propagates
      if (!(r <= ratio)) ratio = r;
    }
    this.results.push({ name, count: n, maxAbs, ratio, error: ratio <= 1 ? null : `ratio ${ratio.toExponential(2)} (max |diff| ${maxAbs.toExponential(2)})` });
  }

  failures(): string[] {
    return this.results.filter((r) => r.error !== null).map((r) => `${r.name}: ${r.error}`);
  }

  summary(): string {
    const maxAbs = Math.max(...this.results.map((r) => r.maxAbs));
    const ratio = Math.max(...this.results.map((r) => r.ratio));
    return `max |diff| ${maxAbs.toExponential(2)}, max ratio to tolerance ${ratio.toExponential(2)} over ${this.results.length} tensors`;
  }
}

/** Sets every parameter of `arena` from the fixture; its names and shapes must be exactly ours. */
function loadParams(arena: Arena, fx: Fixture): void {
  expect(Object.keys(fx.params).sort()).toEqual(arena.specs.map((s) => s.name).sort());
  for (const s of arena.specs) {
    expect(fx.params[s.name].shape, s.name).toEqual([...s.shape]);
    assign(arena, s.name, fx.params[s.name].data);
  }
}

/** Compares every parameter gradient; the fixture's gradients must be exactly the parameters (plus `extra`). */
function compareGrads(ck: Checker, grads: Arena, fx: Fixture, extra: string[] = []): void {
  expect(Object.keys(fx.grads).sort()).toEqual([...grads.specs.map((s) => s.name), ...extra].sort());
  for (const s of grads.specs) ck.compare(`grad.${s.name}`, view(grads, s.name), fx.grads[s.name]);
}

function runAttention(fx: Fixture, ck: Checker): void {
  const c = fx.config as AttentionConfig;
  const { Tq, Ts, B } = fx.inputs;
  const srcLen = Int32Array.from(fx.inputs.srcLen as number[]);
  expect(srcLen.some((n) => n < Ts)).toBe(true); // the mask is exercised
  const arena = createArena("float64", attentionSpecs(c));
  loadParams(arena, fx);
  const p = bindAttention(c, arena);
  const q = f64(fx.inputs.q);
  const k = f64(fx.inputs.k);
  const gout = f64(fx.inputs.gout);
  const mem = attentionMemory(js, c, p, k, Ts, B, srcLen);
  const pass = attentionForward(js, c, p, mem, q, Tq);
  const gArena = mirrorArena(arena);
  const { dq, dk } = attentionBackward(js, c, p, bindAttention(c, gArena), mem, q, pass, gout);
  let L = 0;
  for (let i = 0; i < gout.length; i++) L += pass.out[i] * gout[i];
  ck.compare("out", pass.out, fx.expected.out);
  ck.compare("weights", pass.weights, fx.expected.weights);
  ck.compare("L", [L], fx.expected.L);
  ck.compare("grad.q", dq, fx.grads.q);
  ck.compare("grad.k", dk, fx.grads.k);
  compareGrads(ck, gArena, fx, ["q", "k"]);
  // padded source steps: exactly zero weight and zero dk, in both
  const H = c.hiddenSize;
  for (let s = 0; s < Ts; s++)
    for (let b = 0; b < B; b++) {
      if (s < srcLen[b]) continue;
      for (let t = 0; t < Tq; t++) expect(pass.weights[(b * Tq + t) * Ts + s]).toBe(0);
      for (let h = 0; h < H; h++) {
        expect(dk[(s * B + b) * H + h]).toBe(0);
        expect(fx.grads.k.data[(s * B + b) * H + h]).toBe(0);
      }
    }
  expect(Object.keys(fx.expected).sort()).toEqual(["L", "out", "weights"]);
}

function runClassifier(fx: Fixture, ck: Checker): void {
  const c = fx.config as ClassifierConfig;
  const { T, B } = fx.inputs;
  const model = createClassifier(c, "float64");
  loadParams(model.params, fx);
  const tokens = Int32Array.from(fx.inputs.tokens as number[]);
  const labels = Int32Array.from(fx.inputs.labels as number[]);
  const w = fx.inputs.classWeights as number[] | null;
  const grads = mirrorArena(model.params);
  const { loss, count } = classifierLoss(js, model, { tokens, T, B, labels }, grads, { classWeights: w ? Float64Array.from(w) : null });
  expect(count).toBe(B);
  ck.compare("loss", [loss], fx.expected.loss);
  ck.compare("probs", classifierPredict(js, model, tokens, T, B), fx.expected.probs);
  compareGrads(ck, grads, fx);
  expect(Object.keys(fx.expected).sort()).toEqual(["loss", "probs"]);
}

function runConditional(fx: Fixture, ck: Checker): void {
  const c = fx.config as ConditionalConfig;
  const { T, B } = fx.inputs;
  const model = createConditional(c, "float64");
  loadParams(model.params, fx);
  const batch = conditionalBatch(
    c,
    (fx.inputs.sequences as number[][]).map((s) => Int32Array.from(s)),
    fx.inputs.conditions as number[],
  );
  expect(batch.T).toBe(T);
  expect(Array.from(batch.tokens)).toEqual(fx.inputs.tokens);
  expect(Array.from(batch.targets)).toEqual(fx.inputs.targets);
  const grads = mirrorArena(model.params);
  const { loss, count } = conditionalLoss(js, model, batch, grads);
  expect(count).toBe(T * B);
  ck.compare("loss", [loss], fx.expected.loss);
  const lm = { kind: "language-model" as const, config: c, params: model.params };
  const pass = languageModelForward(js, lm, batch.tokens, T, B, conditionalStates(model, batch.conditions));
  ck.compare("logits", pass.logits, fx.expected.logits);
  compareGrads(ck, grads, fx);
  expect(Object.keys(fx.expected).sort()).toEqual(["logits", "loss"]);
}

function runSeq2Seq(fx: Fixture, ck: Checker): void {
  const c = fx.config as Seq2SeqConfig;
  const { Ts, B, Tt } = fx.inputs;
  const model = createSeq2Seq(c, "float64");
  loadParams(model.params, fx);
  const targets = (fx.inputs.targets as number[][]).map((t) => Int32Array.from(t));
  const d = decoderData(targets);
  expect(d.Tt).toBe(Tt);
  expect(Array.from(d.inputs)).toEqual(fx.inputs.decoderInputs);
  expect(Array.from(d.labels)).toEqual(fx.inputs.labels);
  const grads = mirrorArena(model.params);
  const { loss, count } = seq2seqLoss(js, model, { src: Int32Array.from(fx.inputs.src as number[]), Ts, B, targets }, grads, { samplingProb: 0 });
  expect(count).toBe(fx.inputs.count);
  ck.compare("loss", [loss], fx.expected.loss);
  compareGrads(ck, grads, fx);
  expect(Object.keys(fx.expected)).toEqual(["loss"]);
}

const RUN = { attention: runAttention, classifier: runClassifier, conditional: runConditional, seq2seq: runSeq2Seq } as const;

describe("task reference vectors (PyTorch, float64)", () => {
  it("ships every fixture, each with its PyTorch version", () => {
    const kinds = files.map((f) => load(f).kind);
    expect(files.length).toBe(16);
    for (const k of ["attention", "classifier", "conditional", "seq2seq"]) expect(kinds).toContain(k);
    for (const f of files) expect(load(f).torch_version).toMatch(/^\d+\.\d+/);
    const scores = files.map(load).filter((fx) => fx.kind === "attention").map((fx) => (fx.config as AttentionConfig).score);
    expect(scores.sort()).toEqual(["additive", "dot", "general"]);
  });

  for (const file of files) {
    it(`${file}: outputs and every gradient within |a − b| ≤ ${ATOL} + ${RTOL}·|b|`, () => {
      const fx = load(file);
      expect(fx.case).toBe(file.replace(/\.json$/, ""));
      const ck = new Checker();
      RUN[fx.kind](fx, ck);
      console.log(`${fx.case}: ${ck.summary()}`);
      expect(ck.failures()).toEqual([]);
      expect(ck.results.length).toBeGreaterThan(2);
    });
  }
});
