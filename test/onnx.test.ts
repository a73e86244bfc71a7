/**
 * ONNX export, checked by an independent engine: every exported graph runs in ONNX Runtime (CPU,
 * `onnxruntime-node`) and agrees with unroll's own float32 forward pass (the JS backend) within
 *
 *   |ort − unroll| ≤ 1e-6 + 1e-5·|unroll|
 *
 * for every cell variant (rnn tanh/sigmoid/relu, lstm, lstm-peephole, lstm-coupled,
 * lstm-peephole-coupled, gru, gru-cho), one and two layers, one and two directions, and the
 * language model (embedding and one-hot input): scoring a whole sequence, and generating step by
 * step with hn/cn fed back as h0/c0, against unroll's T = 1 forward with the state carried.
 * The largest error seen, relative to the allowance, is printed at the end.
 */
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { afterAll, describe, expect, it } from "vitest";
import { forward, recurrentLayer } from "../src/api/recurrent-layer.js";
import { tensor } from "../src/api/tensor.js";
import { jsBackend } from "../src/backend/js/index.js";
import { parseCell } from "../src/cells/cell.js";
import { describeOnnx, exportOnnx, exportRecurrentOnnx } from "../src/io/onnx.js";
import { softmaxRows } from "../src/layers/softmax-cross-entropy.js";
import { createLanguageModel, languageModelForward, type LanguageModelConfig, type RecurrentState } from "../src/model/language-model.js";
import type { TrainedModel } from "../src/model/trained.js";
import { Rng } from "../src/tensor/random.js";
import { buildCharVocabulary } from "../src/text/vocab.js";
import { initLanguageModel } from "../src/train/init-model.js";

// Dimensions: T steps, B batch, I input features, H hidden, L layers, D directions, V vocabulary.
const T = 7;
const B = 3;
const I = 5;
const H = 6;

// The -hard cells (hard-sigmoid gates, as imported from Keras / TF.js) export with HardSigmoid activations.
const CELLS = ["rnn-tanh", "rnn-sigmoid", "rnn-relu", "lstm", "lstm-peephole", "lstm-coupled", "lstm-peephole-coupled", "gru", "gru-cho", "lstm-hard", "lstm-peephole-coupled-hard", "gru-hard", "gru-cho-hard"] as const;

const ABS = 1e-6;
const REL = 1e-5;

/** Worst |a − b| / (ABS + REL·|b|) seen, and the worst absolute and relative differences. */
const worst = { ratio: 0, abs: 0, rel: 0, where: "" };

function expectClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let bad = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    const ratio = d / (ABS + REL * Math.abs(want[i]));
    if (ratio > worst.ratio) Object.assign(worst, { ratio, where: what });
    worst.abs = Math.max(worst.abs, d);
    if (Math.abs(want[i]) > 1e-3) worst.rel = Math.max(worst.rel, d / Math.abs(want[i]));
    if (!(ratio <= 1) && bad < 0) bad = i;
  }
  if (bad >= 0) expect.fail(`${what}[${bad}]: onnxruntime ${got[bad]} vs unroll ${want[bad]}`);
}

afterAll(() => {
  console.log(
    `ONNX Runtime vs unroll (float32): worst |Δ|/(${ABS} + ${REL}·|x|) = ${worst.ratio.toFixed(3)} at ${worst.where}; ` +
      `max |Δ| = ${worst.abs.toExponential(2)}, max relative (|x| > 1e-3) = ${worst.rel.toExponential(2)}`,
  );
});

function uniform(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.range(-scale, scale);
  return a;
}

function f32(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("float32", data, dims);
}

function int64(ids: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(Array.from(ids, (v) => BigInt(v))), dims);
}

function data(r: ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
  const t = r[name];
  expect(t, `output ${name}`).toBeDefined();
  return t.data as Float32Array;
}

describe("exportRecurrentOnnx in ONNX Runtime", () => {
  const shapes = [
    { L: 1, bidirectional: false },
    { L: 2, bidirectional: true },
  ];
  for (const cell of CELLS) {
    for (const { L, bidirectional } of shapes) {
      it(`${cell}, ${L} layer(s)${bidirectional ? ", bidirectional" : ""}`, async () => {
        const layer = recurrentLayer({ cell, inputSize: I, hiddenSize: H, numLayers: L, bidirectional, seed: 11, backend: "js" });
        const D = bidirectional ? 2 : 1;
        const rng = Rng.seeded(5);
        const x = uniform(T * B * I, rng, 2);
        const h0 = uniform(L * D * B * H, rng);
        const c0 = uniform(L * D * B * H, rng);
        const hasC = cell.startsWith("lstm");
        const want = forward(layer, tensor(x, [T, B, I]), { h0: tensor(h0, [L * D, B, H]), ...(hasC ? { c0: tensor(c0, [L * D, B, H]) } : {}) });

        const session = await ort.InferenceSession.create(exportRecurrentOnnx(layer));
        expect([...session.inputNames]).toEqual(hasC ? ["x", "h0", "c0"] : ["x", "h0"]);
        expect([...session.outputNames]).toEqual(hasC ? ["y", "hn", "cn"] : ["y", "hn"]);
        const feeds: Record<string, ort.Tensor> = { x: f32(x, [T, B, I]), h0: f32(h0, [L * D, B, H]) };
        if (hasC) feeds.c0 = f32(c0, [L * D, B, H]);
        const got = await session.run(feeds);
        expect(got.y.dims).toEqual([T, B, D * H]);
        expectClose(`${cell} L${L} D${D} y`, data(got, "y"), want.y.data);
        expectClose(`${cell} L${L} D${D} hn`, data(got, "hn"), want.hN.data);
        if (hasC) expectClose(`${cell} L${L} D${D} cn`, data(got, "cn"), want.cN!.data);
      });
    }
  }

  it("an LSTM of 2 unidirectional layers, and 1 bidirectional layer", async () => {
    for (const [L, bidirectional] of [[2, false], [1, true]] as const) {
      const layer = recurrentLayer({ cell: "lstm", inputSize: I, hiddenSize: H, numLayers: L, bidirectional, seed: 3, backend: "js" });
      const D = bidirectional ? 2 : 1;
      const rng = Rng.seeded(8);
      const x = uniform(T * B * I, rng, 2);
      const h0 = uniform(L * D * B * H, rng);
      const c0 = uniform(L * D * B * H, rng);
      const want = forward(layer, tensor(x, [T, B, I]), { h0: tensor(h0, [L * D, B, H]), c0: tensor(c0, [L * D, B, H]) });
      const session = await ort.InferenceSession.create(exportRecurrentOnnx(layer));
      const got = await session.run({ x: f32(x, [T, B, I]), h0: f32(h0, [L * D, B, H]), c0: f32(c0, [L * D, B, H]) });
      expectClose(`lstm L${L} D${D} y`, data(got, "y"), want.y.data);
      expectClose(`lstm L${L} D${D} hn`, data(got, "hn"), want.hN.data);
      expectClose(`lstm L${L} D${D} cn`, data(got, "cn"), want.cN!.data);
    }
  });
});

// ---------------------------------------------------------------------------------------------

const TEXT = "the quick brown fox";

function languageModel(cell: string, embedSize: number, numLayers: number, seed: number): TrainedModel {
  const vocab = buildCharVocabulary(TEXT);
  const config: LanguageModelConfig = { vocabSize: vocab.tokens.length, embedSize, cell: parseCell(cell), hiddenSize: H, numLayers, dropout: 0.25 };
  const model = createLanguageModel(config, "float32");
  initLanguageModel(model, Rng.seeded(seed), { scheme: "pytorch", forgetBias: 1 });
  return { model, vocab };
}

function tokenIds(n: number, V: number, rng: Rng): Int32Array {
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = rng.int(V);
  return ids;
}

describe("exportOnnx (language model) in ONNX Runtime", () => {
  const cases = [
    { cell: "lstm", embedSize: 4, L: 2 },
    { cell: "lstm-peephole-coupled", embedSize: 4, L: 2 },
    { cell: "gru", embedSize: 0, L: 2 },
    { cell: "gru-cho", embedSize: 4, L: 1 },
    { cell: "rnn-relu", embedSize: 0, L: 1 },
    { cell: "rnn-tanh", embedSize: 4, L: 2 },
  ];
  for (const { cell, embedSize, L } of cases) {
    const label = `${cell}, ${embedSize > 0 ? `embedding ${embedSize}` : "one-hot"}, ${L} layer(s)`;

    it(`scores a whole sequence: ${label}`, async () => {
      const lm = languageModel(cell, embedSize, L, 21);
      const V = lm.model.config.vocabSize;
      const hasC = cell.startsWith("lstm");
      const rng = Rng.seeded(4);
      const tokens = tokenIds(T * B, V, rng);
      const state: RecurrentState = { h: uniform(L * B * H, rng), c: hasC ? uniform(L * B * H, rng) : null };
      const want = languageModelForward(jsBackend, lm.model, tokens, T, B, state);
      const probs = Float32Array.from(want.logits);
      softmaxRows(probs, T * B, V);

      const session = await ort.InferenceSession.create(exportOnnx(lm, { probs: true }));
      const feeds: Record<string, ort.Tensor> = { tokens: int64(tokens, [T, B]), h0: f32(state.h as Float32Array, [L, B, H]) };
      if (hasC) feeds.c0 = f32(state.c as Float32Array, [L, B, H]);
      const got = await session.run(feeds);
      expect(got.logits.dims).toEqual([T, B, V]);
      expectClose(`LM ${label} logits`, data(got, "logits"), want.logits);
      expectClose(`LM ${label} probs`, data(got, "probs"), probs);
      expectClose(`LM ${label} hn`, data(got, "hn"), want.state.h);
      if (hasC) expectClose(`LM ${label} cn`, data(got, "cn"), want.state.c!);
    });

    it(`generates step by step with the state carried: ${label}`, async () => {
      const lm = languageModel(cell, embedSize, L, 22);
      const V = lm.model.config.vocabSize;
      const hasC = cell.startsWith("lstm");
      const Bg = 2;
      const rng = Rng.seeded(6);
      const session = await ort.InferenceSession.create(exportOnnx(lm));
      let state: RecurrentState = { h: new Float32Array(L * Bg * H), c: hasC ? new Float32Array(L * Bg * H) : null };
      let h = f32(new Float32Array(L * Bg * H), [L, Bg, H]);
      let c = f32(new Float32Array(L * Bg * H), [L, Bg, H]);
      let ids = tokenIds(Bg, V, rng);
      for (let step = 0; step < 8; step++) {
        const want = languageModelForward(jsBackend, lm.model, ids, 1, Bg, state);
        const got = await session.run({ tokens: int64(ids, [1, Bg]), h0: h, ...(hasC ? { c0: c } : {}) });
        expectClose(`LM ${label} step ${step} logits`, data(got, "logits"), want.logits);
        expectClose(`LM ${label} step ${step} hn`, data(got, "hn"), want.state.h);
        // carry each side's own state, as a generator would
        state = want.state;
        h = got.hn as ort.Tensor;
        if (hasC) c = got.cn as ort.Tensor;
        // the next input: the argmax of unroll's logits (the same for both)
        ids = Int32Array.from({ length: Bg }, (_, b) => {
          const row = want.logits.subarray(b * V, (b + 1) * V);
          return row.indexOf(Math.max(...row));
        });
      }
    });
  }

  it("writes other opsets (13, 22) that run the same", async () => {
    const lm = languageModel("lstm-peephole", 4, 2, 9);
    const V = lm.model.config.vocabSize;
    const rng = Rng.seeded(2);
    const tokens = tokenIds(T * B, V, rng);
    const want = languageModelForward(jsBackend, lm.model, tokens, T, B, null);
    for (const opset of [13, 22]) {
      const session = await ort.InferenceSession.create(exportOnnx(lm, { opset }));
      const zeros = f32(new Float32Array(2 * B * H), [2, B, H]);
      const got = await session.run({ tokens: int64(tokens, [T, B]), h0: zeros, c0: zeros });
      expectClose(`LM opset ${opset} logits`, data(got, "logits"), want.logits);
    }
    expect(() => exportOnnx(lm, { opset: 12 })).toThrow(/opset 12 is not supported; choose an opset from 13 to 22/);
  });

  it("rejects a vocabulary that does not fit the model", () => {
    const lm = languageModel("gru", 4, 1, 1);
    expect(() => exportOnnx({ model: lm.model, vocab: buildCharVocabulary("abc") })).toThrow(/vocabulary has 3 tokens but the model/);
  });
});

describe("describeOnnx and metadata", () => {
  it("summarizes inputs, outputs, nodes, opset and metadata", () => {
    const lm = languageModel("lstm", 4, 2, 1);
    const text = describeOnnx(exportOnnx(lm, { probs: true }));
    expect(text).toMatch(/IR version 8, opset ai\.onnx 17, producer unroll/);
    expect(text).toContain("tokens: int64 (seq, batch)");
    expect(text).toContain(`h0: float (2, batch, ${H})`);
    expect(text).toContain(`logits: float (seq, batch, ${lm.model.config.vocabSize})`);
    expect(text).toContain("probs: float");
    expect(text).toMatch(/LSTM ×2/);
    expect(text).toMatch(/direction=forward/);
    expect(text).toMatch(/unroll\.format: language-model/);
    expect(() => describeOnnx(new Uint8Array([1, 2, 3, 4, 5]))).toThrow(/not an ONNX model|no graph/);
  });

  it("carries the vocabulary and config as metadata_props", () => {
    const lm = languageModel("gru-cho", 0, 1, 1);
    const m = onnxProto.onnx.ModelProto.decode(exportOnnx(lm));
    const meta = Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key, p.value]));
    expect(JSON.parse(meta["unroll.vocabulary"]!)).toEqual(lm.vocab);
    expect(JSON.parse(meta["unroll.config"]!)).toEqual(lm.model.config);
    expect(meta["unroll.cell"]).toBe("gru-cho");
    expect(m.producerName).toBe("unroll");
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    expect(m.producerVersion).toBe(pkg.version); // the package's version, not a constant of its own
  });

  it("describes a bidirectional recurrent layer", () => {
    const layer = recurrentLayer({ cell: "rnn-relu", inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true });
    const text = describeOnnx(exportRecurrentOnnx(layer));
    expect(text).toContain(`y: float (seq, batch, ${2 * H})`);
    expect(text).toMatch(/direction=bidirectional/);
    expect(text).toMatch(/activations=\[Relu, Relu\]/);
  });
});
