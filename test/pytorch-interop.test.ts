/**
 * PyTorch interoperability through safetensors, against the real other side: files PyTorch 1.13
 * wrote load here and compute what PyTorch computed; files unroll wrote loaded into PyTorch
 * modules (strict load_state_dict) and PyTorch's outputs on them were recorded. Provenance and
 * regeneration: test/fixtures/pytorch/README.md.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { forward, recurrentLayer } from "../src/api/recurrent-layer.js";
import { tensor } from "../src/api/tensor.js";
import { getBackend } from "../src/backend/select.js";
import { parseCell } from "../src/cells/cell.js";
import { exportCommand, importCommand, inspectCommand } from "../src/cli/interop.js";
import {
  exportEmbedding,
  exportLanguageModel,
  exportLinear,
  exportRecurrentLayer,
  importEmbedding,
  importLanguageModel,
  importLinear,
  importRecurrentLayer,
  type PyTorchCellName,
} from "../src/io/pytorch.js";
import { readSafetensors, writeSafetensors, type Safetensors, type WritableTensor } from "../src/io/safetensors.js";
import { encodeCheckpoint } from "../src/model/checkpoint-codec.js";
import { createLanguageModel, languageModelForward } from "../src/model/language-model.js";
import type { TrainedModel } from "../src/model/trained.js";
import { readCheckpointFile } from "../src/node/checkpoint-file.js";
import { view } from "../src/tensor/arena.js";
import type { DType, FloatArray } from "../src/tensor/dtype.js";
import { Rng } from "../src/tensor/random.js";
import { buildCharVocabulary } from "../src/text/vocab.js";
import { initLanguageModel } from "../src/train/init-model.js";
import { pytorchDir, unrollEmbedding, unrollExports, unrollLanguageModels, unrollLayers, unrollLinear } from "./helpers/pytorch-interop.js";

// ---------------------------------------------------------------------------------------------
// Fixtures and comparison

interface JsonTensor {
  shape: number[];
  dtype: "float32" | "float64" | "int64";
  data: (number | string)[];
}
interface Case {
  file: string;
  kind: "layer" | "lm" | "embedding" | "linear";
  cell?: PyTorchCellName;
  dtype: DType;
  sha256?: string;
  inputs: Record<string, JsonTensor>;
  outputs: Record<string, JsonTensor>;
}
interface TorchDoc {
  cases: Record<string, Case>;
  dtypes: { file: string; metadata: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }> };
}

const torchDoc = JSON.parse(readFileSync(join(pytorchDir, "torch_outputs.json"), "utf8")) as TorchDoc;
const unrollDoc = JSON.parse(readFileSync(join(pytorchDir, "unroll_outputs.json"), "utf8")) as { cases: Record<string, Case> };
const fixture = (file: string) => readFileSync(join(pytorchDir, file));

function floats(t: JsonTensor, dtype: DType): FloatArray {
  const values = t.data.map(Number);
  return dtype === "float64" ? Float64Array.from(values) : Float32Array.from(values);
}

/** Batch-first (B, T) ids as unroll's time-major (T·B). */
function timeMajorIds(t: JsonTensor): { ids: Int32Array; B: number; T: number } {
  const [B, T] = t.shape;
  const ids = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let s = 0; s < T; s++) ids[s * B + b] = Number(t.data[b * T + s]);
  return { ids, B, T };
}

/** (T, B, F) time-major → (B, T, F). */
function batchFirst(a: FloatArray, T: number, B: number, F: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let s = 0; s < T; s++) for (let b = 0; b < B; b++) for (let f = 0; f < F; f++) out[(b * T + s) * F + f] = a[(s * B + b) * F + f];
  return out;
}

/** The tolerances of the brief: float32 |a−b| ≤ 1e-5 + 1e-4·|b|; float64 as the reference vectors. */
const TOL: Record<DType, { atol: number; rtol: number }> = { float32: { atol: 1e-5, rtol: 1e-4 }, float64: { atol: 1e-12, rtol: 1e-9 } };

/** Worst error seen per comparison, printed at the end (the numbers quoted in reviews). */
const worst = new Map<string, { abs: number; ratio: number }>();

function expectClose(what: string, actual: ArrayLike<number>, expected: JsonTensor, dtype: DType): void {
  expect(actual.length, `${what}: element count`).toBe(expected.data.length);
  const { atol, rtol } = TOL[dtype];
  let abs = 0;
  let ratio = 0;
  for (let i = 0; i < actual.length; i++) {
    const b = Number(expected.data[i]);
    const d = Math.abs(actual[i] - b);
    abs = Math.max(abs, d);
    ratio = Math.max(ratio, d / (atol + rtol * Math.abs(b)));
    if (!(d <= atol + rtol * Math.abs(b))) expect.fail(`${what}[${i}]: unroll ${actual[i]}, PyTorch ${b} (|a−b| = ${d})`);
  }
  worst.set(what, { abs, ratio });
}

afterAll(() => {
  if (worst.size === 0) return;
  const lines = [...worst].map(([k, v]) => `  ${k.padEnd(44)} max |a−b| ${v.abs.toExponential(2)}  (${(100 * v.ratio).toFixed(1)}% of tolerance)`);
  console.log(`unroll vs PyTorch:\n${lines.join("\n")}`);
});

/** Runs a case's module in unroll and compares every recorded output. */
function checkCase(name: string, c: Case, bytes: Uint8Array, dir: string): void {
  const tag = `${dir} ${name}`;
  if (c.kind === "layer") {
    const layer = importRecurrentLayer(bytes, c.cell!, { source: c.file, dtype: c.dtype });
    const x = c.inputs.x;
    const opt = (k: string) => (c.inputs[k] ? tensor(floats(c.inputs[k], c.dtype), c.inputs[k].shape) : undefined);
    const out = forward(layer, tensor(floats(x, c.dtype), x.shape), { batchFirst: true, h0: opt("h0"), c0: opt("c0") });
    expectClose(`${tag} y`, out.y.data, c.outputs.y, c.dtype);
    expectClose(`${tag} h_n`, out.hN.data, c.outputs.h_n, c.dtype);
    if (c.outputs.c_n) expectClose(`${tag} c_n`, out.cN!.data, c.outputs.c_n, c.dtype);
    else expect(out.cN).toBeNull();
  } else if (c.kind === "lm") {
    const lm = importLanguageModel(bytes, c.file, { dtype: c.dtype });
    const { ids, B, T } = timeMajorIds(c.inputs.tokens);
    const pass = languageModelForward(getBackend(), lm.model, ids, T, B, null);
    expectClose(`${tag} logits`, batchFirst(pass.logits, T, B, lm.model.config.vocabSize), c.outputs.logits, c.dtype);
    expectClose(`${tag} h_n`, pass.state.h, c.outputs.h_n, c.dtype);
    if (c.outputs.c_n) expectClose(`${tag} c_n`, pass.state.c!, c.outputs.c_n, c.dtype);
  } else if (c.kind === "embedding") {
    const W = importEmbedding(bytes, { source: c.file });
    const E = W.shape[1];
    const ids = c.inputs.ids.data.map(Number);
    const y = new Float32Array(ids.length * E);
    ids.forEach((id, n) => y.set(W.data.subarray(id * E, (id + 1) * E), n * E));
    expectClose(`${tag} y`, y, c.outputs.y, c.dtype);
  } else {
    const { weight, bias } = importLinear(bytes, { source: c.file });
    const [O, I] = weight.shape;
    const x = floats(c.inputs.x, "float32");
    const N = x.length / I;
    const y = new Float64Array(N * O);
    for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) {
      let s = bias!.data[o];
      for (let i = 0; i < I; i++) s += weight.data[o * I + i] * x[n * I + i];
      y[n * O + o] = s;
    }
    expectClose(`${tag} y`, y, c.outputs.y, c.dtype);
  }
}

/** The same parameters, bit for bit, under the same names. */
function expectSameArena(a: { specs: readonly { name: string }[]; data: FloatArray }, b: { specs: readonly { name: string }[]; data: FloatArray }): void {
  expect(a.specs).toEqual(b.specs);
  expect(a.data.constructor).toBe(b.data.constructor);
  expect(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength))).toBe(true);
}

function plainTensors(f: Safetensors): Record<string, { dtype: string; shape: readonly number[]; data: unknown[] }> {
  const out: Record<string, { dtype: string; shape: readonly number[]; data: unknown[] }> = {};
  for (const [k, t] of Object.entries(f.tensors)) out[k] = { dtype: t.dtype, shape: t.shape, data: Array.from(t.data as ArrayLike<unknown>) };
  return out;
}

// ---------------------------------------------------------------------------------------------

describe("PyTorch → unroll: files PyTorch wrote load here and compute what PyTorch computed", () => {
  for (const [name, c] of Object.entries(torchDoc.cases)) {
    it(`${name} (${c.kind}${c.cell ? `, ${c.cell}` : ""})`, () => checkCase(name, c, fixture(c.file), "torch→unroll"));
  }

  it("the char LM's embedding and linear layers load on their own as nn.Embedding and nn.Linear", () => {
    const bytes = fixture("torch/char_lm.safetensors");
    const lm = importLanguageModel(bytes, "char_lm");
    const W = importEmbedding(bytes, { prefix: "embedding." });
    expect(W.shape).toEqual([13, 5]);
    expect(W.data).toEqual(view(lm.model.params, "embedding.weight"));
    const lin = importLinear(bytes, { prefix: "linear." });
    expect(lin.weight.shape).toEqual([13, 8]);
    expect(lin.weight.data).toEqual(view(lm.model.params, "linear.weight"));
    expect(lin.bias!.data).toEqual(view(lm.model.params, "linear.bias"));
    const lstm = importRecurrentLayer(bytes, "lstm", { prefix: "lstm." });
    expect(lstm.config).toMatchObject({ inputSize: 5, hiddenSize: 8, numLayers: 2, bidirectional: false });
    expect(lm.vocab.tokens).toContain("🙂");
  });

  it("reads every dtype as PyTorch converts it (F16 and BF16 widened, I64 exact), an empty tensor, a scalar and the metadata", () => {
    const f = readSafetensors(fixture(torchDoc.dtypes.file), "dtypes");
    expect({ ...f.metadata }).toEqual(torchDoc.dtypes.metadata);
    expect(Object.keys(f.tensors).sort()).toEqual(Object.keys(torchDoc.dtypes.tensors).sort());
    for (const [name, want] of Object.entries(torchDoc.dtypes.tensors)) {
      const t = f.tensors[name];
      expect(t.dtype, name).toBe(want.dtype);
      expect(t.shape, name).toEqual(want.shape);
      const got = Array.from(t.data as ArrayLike<number | bigint>, (v) => (typeof v === "bigint" ? v.toString() : Number.isNaN(v) ? "nan" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : v));
      expect(got, name).toEqual(want.values);
    }
    expect(f.tensors.f16.data).toBeInstanceOf(Float32Array);
    expect(f.tensors.bf16.data).toBeInstanceOf(Float32Array);
    expect(f.tensors.i64.data).toBeInstanceOf(BigInt64Array);
    expect(Object.is(f.tensors.f16.data[1], -0)).toBe(true);
  });
});

describe("unroll → PyTorch: PyTorch loaded unroll's exports (strict) and its outputs match unroll's", () => {
  const fresh = unrollExports();

  it("the committed files hold exactly what unroll exports today, and are the files PyTorch ran", () => {
    expect(Object.keys(fresh).sort()).toEqual(Object.keys(unrollDoc.cases).sort());
    for (const [name, bytes] of Object.entries(fresh)) {
      const c = unrollDoc.cases[name];
      const committed = fixture(c.file);
      expect(createHash("sha256").update(committed).digest("hex"), `${c.file} changed since PyTorch ran it; regenerate (README.md)`).toBe(c.sha256);
      const a = readSafetensors(bytes, name);
      const b = readSafetensors(committed, c.file);
      expect({ ...a.metadata }, `${name}: metadata`).toEqual({ ...b.metadata });
      expect(plainTensors(a), `${name}: unroll's export differs from the committed file; regenerate it and PyTorch's outputs (README.md)`).toEqual(plainTensors(b));
    }
  });

  for (const [name, c] of Object.entries(unrollDoc.cases)) {
    it(`${name} (${c.kind}${c.cell ? `, ${c.cell}` : ""}, ${c.dtype})`, () => checkCase(name, c, fixture(c.file), "unroll→torch"));
  }

  it("the in-memory models give the same outputs as their files", () => {
    const models = unrollLanguageModels();
    for (const [name, lm] of Object.entries(models)) {
      const c = unrollDoc.cases[name];
      const { ids, B, T } = timeMajorIds(c.inputs.tokens);
      const direct = languageModelForward(getBackend(), lm.model, ids, T, B, null);
      const loaded = languageModelForward(getBackend(), importLanguageModel(fresh[name], name).model, ids, T, B, null);
      expect(loaded.logits).toEqual(direct.logits);
    }
  });
});

// ---------------------------------------------------------------------------------------------

function smallLm(cell: string, embedSize: number, dtype: DType = "float32", seed = 5): TrainedModel {
  const vocab = buildCharVocabulary("to be or not to be");
  const model = createLanguageModel({ vocabSize: vocab.tokens.length, embedSize, cell: parseCell(cell), hiddenSize: 3, numLayers: 2, dropout: 0.2 }, dtype);
  initLanguageModel(model, Rng.seeded(seed));
  return { model, vocab };
}

describe("round trips: export → import gives identical weights and outputs", () => {
  it.each([
    ["lstm", 4, "float32"],
    ["gru", 0, "float32"],
    ["rnn", 2, "float64"],
    ["rnn-relu", 0, "float64"],
  ] as const)("language model %s, embedding %d, %s", (cell, E, dtype) => {
    const lm = smallLm(cell, E, dtype);
    const back = importLanguageModel(exportLanguageModel(lm), "round trip");
    expect(back.model.config).toEqual(lm.model.config);
    expect(back.vocab).toEqual(lm.vocab);
    expectSameArena(back.model.params, lm.model.params);
    const ids = Int32Array.from([0, 3, 5, 1, 2, 4]);
    const a = languageModelForward(getBackend(), lm.model, ids, 3, 2, null);
    const b = languageModelForward(getBackend(), back.model, ids, 3, 2, null);
    expect(b.logits).toEqual(a.logits);
  });

  it("a word vocabulary keeps its lowercase flag", () => {
    const lm = unrollLanguageModels().lm_rnn_relu_word;
    expect(importLanguageModel(exportLanguageModel(lm)).vocab).toEqual(lm.vocab);
  });

  it.each(["lstm", "gru", "rnn", "rnn-relu"] as const)("recurrent layer %s, 2 layers, bidirectional", (cell) => {
    for (const dtype of ["float32", "float64"] as const) {
      const layer = recurrentLayer({ cell, inputSize: 3, hiddenSize: 2, numLayers: 2, bidirectional: true, dropout: 0.3, dtype, seed: 9 });
      const back = importRecurrentLayer(exportRecurrentLayer(layer), cell);
      expect(back.config).toEqual(layer.config);
      expect(back.dtype).toBe(dtype);
      expectSameArena(back.params, layer.params);
      const x = tensor(dtype === "float64" ? new Float64Array(2 * 4 * 3).fill(0.3) : new Float32Array(2 * 4 * 3).fill(0.3), [4, 2, 3]);
      expect(forward(back, x).y.data).toEqual(forward(layer, x).y.data);
    }
  });

  it("nn.Embedding and nn.Linear (with and without bias)", () => {
    const W = unrollEmbedding();
    expect(importEmbedding(exportEmbedding(W))).toEqual(W);
    const { weight, bias } = unrollLinear();
    expect(importLinear(exportLinear(weight, bias))).toEqual({ weight, bias });
    expect(importLinear(exportLinear(weight))).toEqual({ weight, bias: null });
  });

  it("a file PyTorch wrote survives import → export → import unchanged", () => {
    const lm = importLanguageModel(fixture("torch/char_lm.safetensors"), "char_lm");
    const again = importLanguageModel(exportLanguageModel(lm), "again");
    expectSameArena(again.model.params, lm.model.params);
    expect(again.vocab).toEqual(lm.vocab);
  });

  it("a state dict without unroll's metadata loads given the vocabulary (and, for nn.RNN, the cell)", () => {
    const withMeta = readSafetensors(fixture("torch/char_lm.safetensors"));
    const bare = writeSafetensors(withMeta.tensors as Record<string, WritableTensor>);
    expect(() => importLanguageModel(bare, "bare.safetensors")).toThrow(/^bare.safetensors: no vocabulary: the file has no unroll metadata .* saved straight from PyTorch; pass the vocabulary \(unroll import --vocab FILE.json\)/);
    const vocab = JSON.parse(withMeta.metadata.vocab);
    const lm = importLanguageModel(bare, "bare", { vocab });
    expectSameArena(lm.model.params, importLanguageModel(fixture("torch/char_lm.safetensors")).model.params);
    expect(lm.model.config.dropout).toBe(0);

    const rnn = smallLm("rnn-relu", 2);
    const rnnBare = writeSafetensors(readSafetensors(exportLanguageModel(rnn)).tensors as Record<string, WritableTensor>);
    expect(() => importLanguageModel(rnnBare, "r", { vocab: rnn.vocab })).toThrow(/an nn.RNN does not record its nonlinearity .*"rnn" \(tanh\) or "rnn-relu"/);
    expectSameArena(importLanguageModel(rnnBare, "r", { vocab: rnn.vocab, cell: "rnn-relu" }).model.params, rnn.model.params);
  });
});

// ---------------------------------------------------------------------------------------------

/** A file whose tensors are edited before writing (metadata kept unless replaced). */
function edited(bytes: Uint8Array, edit: (t: Record<string, WritableTensor>, m: Record<string, string>) => void): Uint8Array {
  const f = readSafetensors(bytes);
  const t = { ...(f.tensors as Record<string, WritableTensor>) };
  const m = { ...f.metadata };
  edit(t, m);
  return writeSafetensors(t, m);
}

describe("refusals and malformed models, each with a clear error", () => {
  it.each([
    ["lstm-peephole", /PyTorch has no module for the "lstm-peephole" cell \(nn.LSTM has no peephole connections\).*train with --cell lstm, gru, rnn, rnn-relu/],
    ["lstm-coupled", /"lstm-coupled" cell \(nn.LSTM always has its own input gate\)/],
    ["lstm-peephole-coupled", /"lstm-peephole-coupled" cell/],
    ["gru-cho", /"gru-cho" cell \(nn.GRU applies the reset gate after the recurrent product/],
    ["rnn-sigmoid", /"rnn-sigmoid" cell \(nn.RNN's nonlinearity is tanh or relu\)/],
    ["lstm-hard", /"lstm-hard" cell \(its gates are the hard sigmoid; nn.LSTM's are the logistic sigmoid\)/],
    ["gru-hard", /"gru-hard" cell \(its gates are the hard sigmoid; nn.GRU's are the logistic sigmoid\)/],
  ])("exporting a %s refuses: PyTorch has no such module", (cell, msg) => {
    expect(() => exportLanguageModel(smallLm(cell, 2))).toThrow(msg);
    expect(() => exportRecurrentLayer(recurrentLayer({ cell, inputSize: 2, hiddenSize: 2 }))).toThrow(/^exportRecurrentLayer: PyTorch has no module/);
  });

  it("export refuses non-finite weights and a vocabulary of the wrong size", () => {
    const lm = smallLm("lstm", 2);
    lm.model.params.data[7] = NaN;
    expect(() => exportLanguageModel(lm)).toThrow(/tensor "embedding.weight" holds NaN at flat index 7; training diverged/);
    const other = smallLm("lstm", 2);
    expect(() => exportLanguageModel({ ...other, vocab: buildCharVocabulary("ab") })).toThrow(/the vocabulary has 2 tokens but the model 7/);
  });

  const good = () => exportLanguageModel(smallLm("lstm", 2));
  it.each<[string, (t: Record<string, WritableTensor>, m: Record<string, string>) => void, RegExp]>([
    ["a missing tensor", (t) => delete t["lstm.bias_hh_l1"], /^f: state dict does not match the model: missing tensors: lstm.bias_hh_l1/],
    ["an unexpected tensor", (t) => (t["decoder.weight"] = { shape: [1], data: new Float32Array(1) }), /unexpected tensors: decoder.weight/],
    ["a misshapen tensor", (t) => (t["lstm.weight_hh_l1"] = { shape: [12, 2], data: new Float32Array(24) }), /has shape \(12, 2\)/],
    ["an integer tensor", (t) => (t["linear.bias"] = { shape: [7], data: new Int32Array(7) }), /tensor "linear.bias" has dtype I32, but weights are floating point/],
    ["a NaN", (t) => (t["linear.bias"] = { shape: [7], data: new Float32Array(7).fill(NaN) }), /tensor "linear.bias" holds a non-finite value \(NaN\)/],
    ["a value beyond float32", (t) => (t["linear.bias"] = { shape: [7], data: Float64Array.from({ length: 7 }, (_, i) => (i === 2 ? 1e300 : 0)) }), /^f: tensor "linear.bias" has a value beyond the float32 range/],
    ["a reverse direction", (t) => (t["lstm.weight_ih_l0_reverse"] = t["lstm.weight_ih_l0"]), /lstm.weight_ih_l0_reverse is present, but a language model's recurrent stack runs forward only/],
    ["two recurrent modules", (t) => (t["gru.weight_ih_l0"] = t["lstm.weight_ih_l0"]), /holds 2 recurrent modules \(lstm.\*, gru.\*\)/],
    ["no recurrent module", (t) => { for (const k of Object.keys(t)) if (k.startsWith("lstm.")) delete t[k]; }, /no recurrent module: a language model has tensors lstm.weight_ih_l0, gru.weight_ih_l0 or rnn.weight_ih_l0, and this file holds embedding.weight, linear.bias, linear.weight/],
    ["a vocabulary that does not fit", (_, m) => (m.vocab = JSON.stringify({ kind: "char", tokens: ["a", "b"] })), /embedding.weight has shape \(7, 2\) but the vocabulary has 2 tokens/],
    ["no vocabulary", (_, m) => delete m.vocab, /^f: no vocabulary: the metadata has no "vocab"; pass the vocabulary/],
    ["a bad vocabulary", (_, m) => (m.vocab = JSON.stringify({ kind: "char", tokens: ["a", "a"] })), /the vocabulary has duplicate tokens/],
    ["vocabulary JSON that is not JSON", (_, m) => (m.vocab = "{tokens"), /metadata "vocab" is not valid JSON/],
    ["a config that disagrees", (_, m) => (m.config = m.config.replace('"hidden_size":3', '"hidden_size":4')), /the metadata "config" says hidden_size 4 but the tensors and vocabulary give 3; the file is inconsistent/],
    ["a config naming a variant", (_, m) => (m.config = m.config.replace('"cell":"lstm"', '"cell":"lstm-peephole"')), /the metadata "config" names the cell "lstm-peephole" \(nn.LSTM has no peephole connections\)/],
    ["a config of the wrong module", (_, m) => (m.config = m.config.replace('"cell":"lstm"', '"cell":"gru"')), /the cell is "gru" but the tensors are those of an nn.LSTM/],
    ["a config that is not an object", (_, m) => (m.config = "[1]"), /metadata "config" must be a JSON object/],
    ["a bad dropout", (_, m) => (m.config = m.config.replace('"dropout":0.2', '"dropout":2')), /dropout 2; it must be a number in \[0, 1\)/],
    ["a newer version", (_, m) => (m.version = "7"), /written by a newer unroll \(unroll-lm version 7; this one reads version 1\); update unroll/],
    ["a garbled version", (_, m) => (m.version = "one"), /metadata "version" must be "1"/],
  ])("importLanguageModel names %s", (_, edit, msg) => {
    expect(() => importLanguageModel(edited(good(), edit), "f")).toThrow(msg);
  });

  it("one-hot input of the wrong width, and a layer file given as a language model", () => {
    const noEmbedding = edited(exportLanguageModel(smallLm("gru", 2)), (t) => delete t["embedding.weight"]);
    expect(() => importLanguageModel(noEmbedding, "f")).toThrow(/there is no embedding.weight, so the input is one-hot over the 7 tokens, but gru.weight_ih_l0 takes inputs of size 2; is embedding.weight missing\?/);
    const layer = exportRecurrentLayer(recurrentLayer({ cell: "lstm", inputSize: 2, hiddenSize: 2 }));
    expect(() => importLanguageModel(layer, "f")).toThrow(/this file holds a bare recurrent layer \(exportRecurrentLayer\), not a language model; load it with importRecurrentLayer/);
  });

  it("importRecurrentLayer: the wrong cell, a language model without a prefix, stray tensors", () => {
    const rnn = exportRecurrentLayer(recurrentLayer({ cell: "rnn-relu", inputSize: 2, hiddenSize: 2 }));
    expect(() => importRecurrentLayer(rnn, "rnn", { source: "r" })).toThrow(/^r: the file's metadata says its cell is "rnn-relu", but "rnn" was asked for; pass "rnn-relu"/);
    const gru = fixture("torch/gru2.safetensors");
    expect(() => importRecurrentLayer(gru, "lstm", { source: "g" })).toThrow(/^g: "weight_hh_l0" has shape \(15, 5\), but a LSTM with hidden size 5 needs \(20, 5\); is this the right cell type\?/);
    expect(() => importRecurrentLayer(gru, "lstm-peephole" as PyTorchCellName)).toThrow(/names the cell "lstm-peephole" \(nn.LSTM has no peephole connections\)/);
    expect(() => importRecurrentLayer(fixture("torch/char_lm.safetensors"), "lstm")).toThrow(/this file holds a language model; take its recurrent layer with the prefix "lstm."/);
    const stray = edited(gru, (t) => (t.extra = { shape: [1], data: new Float32Array(1) }));
    expect(() => importRecurrentLayer(stray, "gru")).toThrow(/unexpected tensors: extra/);
    expect(() => importEmbedding(fixture("torch/char_lm.safetensors"), { source: "c" })).toThrow(/^c: no tensor "weight" \(the nn.Embedding's\); the file holds .* — pass the prefix/);
    expect(() => importLinear(fixture("torch/dtypes.safetensors"), { source: "d" })).toThrow(/^d: tensor "\w+" has dtype (BOOL|I64|I32|I16|I8|U8), but weights are floating point/);
  });
});

// ---------------------------------------------------------------------------------------------

const enc = new TextEncoder();

/** A file with this header text, buffer, and (unless given) the header's true length. */
function file(header: string, buffer: Uint8Array = new Uint8Array(0), length?: number): Uint8Array {
  const h = enc.encode(header);
  const out = new Uint8Array(8 + h.length + buffer.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? h.length), true);
  out.set(h, 8);
  out.set(buffer, 8 + h.length);
  return out;
}

const f32 = (...xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
const entry = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });

describe("readSafetensors: each malformed file gets its own clear error", () => {
  const read = (b: Uint8Array) => () => readSafetensors(b, "x.safetensors");

  it.each<[string, Uint8Array, RegExp]>([
    ["an empty file", new Uint8Array(0), /^x.safetensors: the file is empty; the file is truncated/],
    ["a file shorter than 8 bytes", new Uint8Array(5), /holds 5 bytes, too few for the 8-byte header length/],
    ["a header length past the end", file("{}", new Uint8Array(0), 50), /the header length field says 50 bytes, but the file holds only 2 after it; the file is truncated/],
    ["a header over 100 MB", file("{}", new Uint8Array(0), 100_000_001), /says 100000001 bytes, more than the 100 MB the format allows/],
    ["a header length of 2^64 − 1", (() => { const b = file("{}"); b.fill(0xff, 0, 8); return b; })(), /more than the 100 MB the format allows \(bytes 0…7: ff ff ff ff ff ff ff ff\)/],
    ["a zero header length", file("", new Uint8Array(4)), /the header length field is 0/],
    ["a header not starting with {", file(' {"a":1}'), /the header does not start with "\{" \(it starts with bytes 20 7b 22 61 22 3a 31 7d\)/],
    ["a JSON array", file("[1]"), /does not start with "\{"/],
    ["invalid UTF-8", file("{\"\xff\"}").map((x, i) => (i === 10 ? 0xff : x)), /the header is not valid UTF-8/],
    ["invalid JSON", file('{"a": }'), /the header is not valid JSON \(/],
    ["trailing garbage after the JSON", file('{} x'), /the header is not valid JSON/],
    ["a duplicate tensor", file(JSON.stringify({ a: entry("F32", [1], 0, 4) }).replace("}}", '},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'), f32(1)), /tensor "a" appears twice in the header/],
    ["a duplicate key in an entry", file('{"w":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}', f32(1)), /key "dtype" appears twice in the header entry of "w"/],
    ["duplicate metadata", file('{"__metadata__":{"k":"1","k":"2"}}'), /key "k" appears twice in the header entry of "__metadata__"/],
    ["non-string metadata", file('{"__metadata__":{"epochs":3}}'), /metadata "epochs" must be a string \(the format allows only string values\), got 3/],
    ["metadata that is not an object", file('{"__metadata__":["a"]}'), /"__metadata__" must be an object of strings, got \["a"\]/],
    ["an entry that is not an object", file('{"w":[1,2]}'), /tensor "w" must be described by \{dtype, shape, data_offsets\}, got \[1,2\]/],
    ["an unknown dtype", file(JSON.stringify({ w: entry("F33", [1], 0, 4) }), f32(1)), /tensor "w" has unknown dtype "F33" \(the format defines F64, F32/],
    ["a dtype named like a prototype property", file(JSON.stringify({ w: entry("toString", [1], 0, 4) }), f32(1)), /unknown dtype "toString"/],
    ["a dtype unroll does not read", file(JSON.stringify({ w: entry("U16", [2], 0, 4) }), f32(1)), /tensor "w" has dtype U16, which unroll does not read .*; convert it before saving, e.g. tensor.float\(\) in PyTorch/],
    ["a negative dimension", file(JSON.stringify({ w: entry("F32", [-1], 0, 4) }), f32(1)), /tensor "w" has shape \[-1\]; a shape is an array of integers ≥ 0/],
    ["a fractional dimension", file(JSON.stringify({ w: entry("F32", [1.5], 0, 4) }), f32(1)), /has shape \[1.5\]/],
    ["a missing shape", file('{"w":{"dtype":"F32","data_offsets":[0,4]}}', f32(1)), /has shape nothing \(missing\)/],
    ["three offsets", file('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', f32(1)), /data_offsets \[0,4,8\]; they are \[begin, end\]/],
    ["begin after end", file(JSON.stringify({ w: entry("F32", [0], 4, 0) }), f32(1)), /data_offsets \[4, 0\]: begin after end/],
    ["offsets out of bounds", file(JSON.stringify({ w: entry("F32", [2], 0, 8) }), f32(1)), /tensor "w" \(bytes 0…8\) lies outside the buffer of 4 bytes/],
    ["a shape that disagrees with the bytes", file(JSON.stringify({ w: entry("F32", [2, 3], 0, 8) }), f32(1, 2)), /tensor "w" has shape \(2, 3\) of F32, 6 values of 4 bytes = 24 bytes, but its data_offsets span 8/],
    ["overlapping tensors", file(JSON.stringify({ a: entry("F32", [2], 0, 8), b: entry("F32", [2], 4, 12) }), f32(1, 2, 3)), /tensor "b" \(bytes 4…12\) overlaps tensor "a" \(bytes 0…8\)/],
    ["a gap between tensors", file(JSON.stringify({ a: entry("F32", [1], 0, 4), b: entry("F32", [1], 8, 12) }), f32(1, 2, 3)), /bytes 4…8 of the buffer belong to no tensor \(the next, "b", starts at 8\)/],
    ["a gap at the start", file(JSON.stringify({ a: entry("F32", [1], 4, 8) }), f32(1, 2)), /bytes 0…4 of the buffer belong to no tensor/],
    ["bytes after the last tensor", file(JSON.stringify({ a: entry("F32", [1], 0, 4) }), f32(1, 2)), /the buffer holds 8 bytes but the tensors cover only 4; 4 bytes at its end belong to no tensor/],
    ["a boolean that is neither 0 nor 1", file(JSON.stringify({ b: entry("BOOL", [2], 0, 2) }), Uint8Array.of(1, 2)), /BOOL tensor "b" holds byte 2 at flat index 1; booleans are 0 or 1/],
  ])("%s", (_, bytes, msg) => {
    expect(read(bytes)).toThrow(msg);
  });

  it("reads valid edge cases: no tensors, padding, an empty tensor anywhere, a scalar, any name", () => {
    expect(readSafetensors(file("{}        ")).tensors).toEqual({});
    const f = readSafetensors(file(JSON.stringify({ __proto__x: entry("F32", [], 0, 4), e: entry("F64", [0, 5], 4, 4), "": entry("F32", [1], 4, 8) }), f32(7, 8)));
    expect(f.tensors.__proto__x.data).toEqual(Float32Array.of(7));
    expect(f.tensors.e.shape).toEqual([0, 5]);
    expect(f.tensors[""].data).toEqual(Float32Array.of(8));
    const proto = readSafetensors(file('{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"constructor":{"dtype":"I8","shape":[0],"data_offsets":[4,4]}}', f32(3)));
    expect(Object.keys(proto.tensors).sort()).toEqual(["__proto__", "constructor"]);
    expect(proto.tensors["__proto__"].data).toEqual(Float32Array.of(3));
  });

  it("copies tensors out of a Buffer that shares its memory (Node's pooled Buffers)", () => {
    const bytes = writeSafetensors({ w: { shape: [3], data: Float32Array.of(1, 2, 3) } });
    const pool = Buffer.alloc(bytes.length + 13, 0xab);
    pool.set(bytes, 5);
    const r = readSafetensors(pool.subarray(5, 5 + bytes.length));
    expect(r.tensors.w.data).toEqual(Float32Array.of(1, 2, 3));
    pool.fill(0);
    expect(r.tensors.w.data).toEqual(Float32Array.of(1, 2, 3));
  });
});

describe("writeSafetensors", () => {
  it("writes sorted keys, a space-padded 8-byte-aligned header, each tensor aligned to its element size", () => {
    const bytes = writeSafetensors(
      { b: { shape: [3], data: Float32Array.of(1, 2, 3) }, a: { shape: [1], data: Float64Array.of(4) }, "é": { shape: [2], data: BigInt64Array.of(-1n, 2n ** 62n) }, c: { shape: [3], data: Uint8Array.of(1, 2, 3) } },
      { z: "1", a: "ü" },
    );
    const N = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + N) % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + N));
    expect(header.trimEnd()).toBe(
      '{"__metadata__":{"a":"ü","z":"1"},"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[24,36]},' +
        '"c":{"dtype":"U8","shape":[3],"data_offsets":[36,39]},"é":{"dtype":"I64","shape":[2],"data_offsets":[8,24]}}',
    );
    expect(header.slice(header.trimEnd().length)).toMatch(/^ *$/);
    const r = readSafetensors(bytes);
    expect(r.tensors["é"].data).toEqual(BigInt64Array.of(-1n, 2n ** 62n));
    expect(r.tensors.b.data).toEqual(Float32Array.of(1, 2, 3));
    expect({ ...r.metadata }).toEqual({ a: "ü", z: "1" });
  });

  it.each<[string, () => Uint8Array, RegExp]>([
    ["a reserved name", () => writeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } }), /"__metadata__" is reserved/],
    ["a bad shape", () => writeSafetensors({ w: { shape: [-2], data: new Float32Array(1) } }), /tensor "w" has shape \[-2\]/],
    ["a size mismatch", () => writeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } }), /tensor "w" has shape \(2, 2\) of 4 values but holds 3/],
    ["an unsupported array", () => writeSafetensors({ w: { shape: [1], data: [1] as unknown as Float32Array } }), /tensor "w" must be \{shape, data\} with data a Float64Array/],
    ["non-string metadata", () => writeSafetensors({}, { n: 3 as unknown as string }), /metadata "n" must be a string, got 3 \(JSON.stringify it first\)/],
  ])("refuses %s", (_, f, msg) => {
    expect(f).toThrow(msg);
  });
});

// ---------------------------------------------------------------------------------------------

describe("fuzz: mutated and truncated files always return or throw an Error naming the source", () => {
  /** A seeded mutation of `good`: bytes flipped (mostly in the header), truncated, lengthened, digits changed, header length rewritten. */
  function mutate(good: Uint8Array, rng: Rng): Uint8Array {
    const N = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
    const b = Uint8Array.from(good);
    switch (rng.int(7)) {
      case 0: {
        for (let k = 1 + rng.int(4); k > 0; k--) b[rng.uniform() < 0.8 ? 8 + rng.int(N) : rng.int(b.length)] = rng.int(256);
        return b;
      }
      case 1:
        return b.slice(0, rng.int(b.length));
      case 2: {
        const out = new Uint8Array(b.length + 1 + rng.int(16));
        out.set(b);
        for (let i = b.length; i < out.length; i++) out[i] = rng.int(256);
        return out;
      }
      case 3: {
        // a digit of the header (a shape, an offset, a number in the metadata) becomes another
        const digits = [];
        for (let i = 8; i < 8 + N; i++) if (b[i] >= 0x30 && b[i] <= 0x39) digits.push(i);
        b[digits[rng.int(digits.length)]] = 0x30 + rng.int(10);
        return b;
      }
      case 4: {
        const dv = new DataView(b.buffer);
        const choices = [N - 1, N + 1, N + 8, 0, 2 ** 32 + N, rng.int(b.length + 16)];
        dv.setBigUint64(0, BigInt(choices[rng.int(choices.length)]), true);
        return b;
      }
      case 5: {
        // a structural character of the header: quotes, braces, brackets, commas, colons
        const marks = [];
        for (let i = 8; i < 8 + N; i++) if ('"{}[],:'.includes(String.fromCharCode(b[i]))) marks.push(i);
        b[marks[rng.int(marks.length)]] = '"{}[],: x'.charCodeAt(rng.int(9));
        return b;
      }
      default: {
        const i = 8 + rng.int(N);
        const j = 8 + rng.int(N);
        [b[i], b[j]] = [b[j], b[i]];
        return b;
      }
    }
  }

  function fuzz(name: string, good: Uint8Array, call: (b: Uint8Array) => unknown, seed: number, runs: number) {
    const rng = Rng.seeded(seed);
    const outcomes = new Map<string, number>();
    const started = Date.now();
    for (let r = 0; r < runs; r++) {
      const bytes = mutate(good, rng);
      let outcome = "returned";
      try {
        call(bytes);
      } catch (e) {
        if (!(e instanceof Error)) expect.fail(`run ${r}: threw a non-Error: ${String(e)}`);
        if (!e.message.startsWith("fuzz.safetensors: ")) expect.fail(`run ${r}: an error that does not name the file: ${e.message}`);
        outcome = e.message.slice(18, 50);
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    const ms = Date.now() - started;
    expect(ms, `${name}: ${runs} runs took ${ms} ms`).toBeLessThan(10_000);
    expect(outcomes.size, `${name}: too few distinct outcomes: ${[...outcomes.keys()].join(" | ")}`).toBeGreaterThan(10);
    expect(outcomes.get("returned") ?? 0, `${name}: no mutation was harmless`).toBeGreaterThan(0);
  }

  it("readSafetensors", () => {
    fuzz("readSafetensors", readFileSync(join(pytorchDir, "torch", "dtypes.safetensors")), (b) => readSafetensors(b, "fuzz.safetensors"), 1, 3000);
  });

  it("importLanguageModel, on unroll's export and on PyTorch's file", () => {
    fuzz("unroll's export", unrollExports().lm_lstm, (b) => importLanguageModel(b, "fuzz.safetensors"), 2, 1500);
    fuzz("PyTorch's file", fixture("torch/char_lm.safetensors"), (b) => importLanguageModel(b, "fuzz.safetensors"), 3, 1500);
  });

  it("importRecurrentLayer", () => {
    fuzz("importRecurrentLayer", fixture("torch/lstm_bidir2.safetensors"), (b) => importRecurrentLayer(b, "lstm", { source: "fuzz.safetensors", backend: "reference" }), 4, 1000);
  });
});

// ---------------------------------------------------------------------------------------------

describe("unroll export / import / inspect", () => {
  async function run(cmd: () => import("commander").Command, ...args: string[]): Promise<string> {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      await cmd().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} }).parseAsync(args, { from: "user" });
      return log.mock.calls.map((c) => c.join(" ")).join("\n");
    } finally {
      log.mockRestore();
    }
  }

  function checkpoint(dir: string, cell = "lstm", training = true): string {
    const lm = smallLm(cell, 2);
    const path = join(dir, `${cell}.ckpt`);
    writeFileSync(
      path,
      encodeCheckpoint({
        model: lm.model.config,
        dtype: "float32",
        vocab: lm.vocab,
        tensors: new Map([["params", lm.model.params.data]]),
        training: training
          ? {
              options: {},
              progress: { step: 120, epoch: 2, position: 3, bestValLoss: 1.23456, elapsedMs: 95_000 },
              rng: [1, 2, 3, 4],
              optimizer: { kind: "adam", t: 120 },
              schedule: null,
              carry: false,
            }
          : null,
      }),
    );
    return path;
  }

  it("export → import → the same model; inspect describes both files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-interop-"));
    const ckpt = checkpoint(dir);
    const st = join(dir, "model.safetensors");
    expect(await run(exportCommand, ckpt, st)).toMatch(/^wrote .*model.safetensors: safetensors \(PyTorch state dict\), lstm, 2 layers × 3 hidden, embedding 2, char vocabulary of 7 tokens; 222 parameters \(float32\), \d+(\.\d)? (bytes|KiB)$/);
    const back = join(dir, "back.ckpt");
    expect(await run(importCommand, st, "--out", back)).toMatch(/^wrote .*back.ckpt: lstm, 2 layers × 3 hidden, embedding 2, char vocabulary of 7 tokens; 222 parameters \(float32\), no training state$/);
    const ck = readCheckpointFile(back);
    expect(ck.training).toBeNull();
    expect(ck.tensors.get("params")).toEqual(readCheckpointFile(ckpt).tensors.get("params"));

    const a = await run(inspectCommand, ckpt);
    expect(a).toContain("lstm.ckpt: unroll checkpoint,");
    expect(a).toMatch(/model +lstm, 2 layers × 3 hidden, embedding 2, dropout 0.2/);
    expect(a).toMatch(/parameters +222 \(float32\)/);
    expect(a).toMatch(/training +step 120, epoch 2, best validation loss 1.2346 nats\/token, 1m35s of training, optimizer adam/);
    expect(await run(inspectCommand, back)).toMatch(/training +none \(weights only/);
    const s = await run(inspectCommand, st);
    expect(s).toMatch(/model.safetensors: safetensors, 11 tensors, 222 values/);
    expect(s).toMatch(/format +unroll-lm/);
    expect(s).toMatch(/lstm.weight_hh_l1 +F32 +\(12, 3\)/);
    expect(s).toMatch(/an unroll language model: lstm, 2 layers × 3 hidden, embedding 2, char vocabulary of 7 tokens/);
    const j = JSON.parse(await run(inspectCommand, st, "--json"));
    expect(j.kind).toBe("safetensors");
    expect(j.tensors.find((t: { name: string }) => t.name === "linear.bias")).toEqual({ name: "linear.bias", dtype: "F32", shape: [7] });
    const jc = JSON.parse(await run(inspectCommand, ckpt, "--json"));
    expect(jc).toMatchObject({ kind: "checkpoint", parameters: 222, model: { cell: "lstm" }, training: { step: 120 } });

    const onnx = join(dir, "model.onnx");
    expect(await run(exportCommand, ckpt, onnx, "--format", "onnx")).toMatch(/^wrote .*model.onnx: ONNX \(scoring and step-by-step generation\), lstm, 2 layers/);
    const o = await run(inspectCommand, onnx);
    expect(o).toMatch(/model.onnx: \d+(\.\d)? (bytes|KiB)\n  ONNX model: IR version \d+, opset ai.onnx 17/);
    expect(o).toMatch(/nodes: .*LSTM ×2/);
    expect(JSON.parse(await run(inspectCommand, onnx, "--json"))).toMatchObject({ kind: "onnx" });
  });

  it("imports PyTorch's file, and with --vocab and --cell one without metadata", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-interop-"));
    const out = join(dir, "lm.ckpt");
    await run(importCommand, join(pytorchDir, "torch", "char_lm.safetensors"), "--out", out);
    expect(readCheckpointFile(out).vocab.tokens).toContain("🙂");
    const rnn = smallLm("rnn-relu", 0);
    const bare = join(dir, "bare.safetensors");
    writeFileSync(bare, writeSafetensors(readSafetensors(exportLanguageModel(rnn)).tensors as Record<string, WritableTensor>));
    const vocab = join(dir, "vocab.json");
    writeFileSync(vocab, JSON.stringify(rnn.vocab));
    await expect(run(importCommand, bare, "--out", out, "--cell", "rnn-relu")).rejects.toThrow(/no vocabulary/);
    await expect(run(importCommand, bare, "--out", out, "--vocab", vocab)).rejects.toThrow(/pass the cell, "rnn" \(tanh\) or "rnn-relu" \(unroll import --cell\)/);
    await run(importCommand, bare, "--out", out, "--vocab", vocab, "--cell", "rnn-relu");
    expect(readCheckpointFile(out).model.cell).toEqual({ kind: "rnn", nonlinearity: "relu" });
    await expect(run(importCommand, bare, "--out", out, "--cell", "gru-cho")).rejects.toThrow(/Allowed choices are lstm, gru, rnn, rnn-relu/);
  });

  it("refuses a variant with PyTorch's reason, and says what an unknown file looks like", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-interop-"));
    const ckpt = checkpoint(dir, "gru-cho", false);
    await expect(run(exportCommand, ckpt, join(dir, "x.safetensors"))).rejects.toThrow(/gru-cho.ckpt: cannot export as safetensors: PyTorch has no module for the "gru-cho" cell/);
    await expect(run(exportCommand, ckpt, join(dir, "x.onnx"), "--format", "keras")).rejects.toThrow(/Allowed choices are safetensors, onnx/);
    const zip = join(dir, "model.pt");
    writeFileSync(zip, Uint8Array.of(0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0));
    await expect(run(inspectCommand, zip)).rejects.toThrow(/model.pt: not an unroll checkpoint \(it looks like a zip archive, such as a PyTorch .pt\/.pth file.*\); unroll inspect reads unroll checkpoints, safetensors and ONNX files/);
    const cut = join(dir, "cut.safetensors");
    writeFileSync(cut, fixture("torch/gru2.safetensors").subarray(0, 100));
    await expect(run(inspectCommand, cut)).rejects.toThrow(/cut.safetensors: the header length field says \d+ bytes, but the file holds only 92 after it/);
    await expect(run(inspectCommand, join(dir, "nope"))).rejects.toThrow(/no such file: .*nope; check the path/);
  });
});
