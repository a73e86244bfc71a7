import { describe, expect, it } from "vitest";
import { backward, forward, loadLayerWeights, recurrentLayer } from "../src/api/recurrent-layer.js";
import { tensor } from "../src/api/tensor.js";
import { checkTokenIds } from "../src/layers/embedding.js";
import { softmaxCrossEntropy } from "../src/layers/softmax-cross-entropy.js";
import { inferRecurrentConfig, loadStateDict, recurrentFromStateDict, type StateDict } from "../src/api/state-dict.js";
import { parseCell } from "../src/cells/cell.js";
import { parseReference } from "../src/conformance/reference.js";
import { createArena } from "../src/tensor/arena.js";
import { createTraining } from "../src/train/train.js";

const layer = () => recurrentLayer({ cell: "lstm", inputSize: 3, hiddenSize: 4, numLayers: 2, dtype: "float64" });
const x = (T: number, B: number, I: number) => tensor(new Float64Array(T * B * I).fill(0.1), [T, B, I]);

function stateDictOf(l: ReturnType<typeof layer>): Record<string, { shape: number[]; data: number[] }> {
  const d: Record<string, { shape: number[]; data: number[] }> = {};
  for (const s of l.params.specs) {
    const off = l.params.offsets.get(s.name)!;
    const n = s.shape.reduce((a, b) => a * b, 1);
    d[s.name] = { shape: [...s.shape], data: Array.from(l.params.data.subarray(off, off + n)) };
  }
  return d;
}

describe("bad input gets an error that names the problem and what to do", () => {
  it("wrong input shape", () => {
    expect(() => forward(layer(), x(5, 2, 4))).toThrow(/x has shape \(5, 2, 4\), expected \(·, ·, 3\); x is \(T, B, inputSize\) \(pass batchFirst: true/);
    expect(() => forward(layer(), tensor(new Float64Array(6), [6]))).toThrow(/x has shape \(6\)/);
  });

  it("wrong initial-state shape, and a cell state for a cell without one", () => {
    const h0 = tensor(new Float64Array(1 * 2 * 4), [1, 2, 4]);
    expect(() => forward(layer(), x(5, 2, 3), { h0 })).toThrow(/h0 has shape \(1, 2, 4\), expected \(2, 2, 4\); initial states are \(numLayers·directions, B, hiddenSize\)/);
    const gru = recurrentLayer({ cell: "gru", inputSize: 3, hiddenSize: 4, dtype: "float64" });
    expect(() => forward(gru, x(5, 2, 3), { c0: tensor(new Float64Array(8), [1, 2, 4]) })).toThrow(/c0 was given but a GRU has no cell state/);
  });

  it("NaN or infinity in the inputs", () => {
    const bad = x(2, 1, 3);
    bad.data[4] = NaN;
    expect(() => forward(layer(), bad)).toThrow(/x holds NaN at flat index 4; inputs must be finite/);
    const l = layer();
    const out = forward(l, x(2, 1, 3));
    const dy = tensor(new Float64Array(8).fill(Infinity), [2, 1, 4]);
    expect(() => backward(l, out, { dy })).toThrow(/dy holds Infinity/);
  });

  it("mismatched dtype", () => {
    expect(() => forward(layer(), tensor(new Float32Array(15), [5, 1, 3]))).toThrow(/x is Float32Array but the layer is float64; convert one of them/);
  });

  it("token ids out of range, and targets out of range", () => {
    expect(() => checkTokenIds(Int32Array.from([0, 3, 11]), 11)).toThrow(/token id 11 at position 2 is out of range: the vocabulary has 11 entries \(ids 0…10\)/);
    expect(() => checkTokenIds([0, -1], 11)).toThrow(/token id -1 at position 1/);
    expect(() => checkTokenIds([0.5], 11)).toThrow(/token id 0.5/);
    expect(() => softmaxCrossEntropy(new Float64Array(6), Int32Array.from([0, 5]), 2, 3, null)).toThrow(/target 5 at row 1 is out of range: there are 3 classes/);
  });

  it("missing, misnamed, misshapen and non-finite tensors in an imported state dict", () => {
    const l = layer();
    const good = stateDictOf(l);
    const { weight_hh_l1: _, ...missing } = good;
    expect(() => loadLayerWeights(l, missing)).toThrow(/missing tensors: weight_hh_l1.*Check the module type, layer count/);
    const prefixed: StateDict = Object.fromEntries(Object.entries(good).map(([k, v]) => [`rnn.${k}`, v]));
    expect(() => loadLayerWeights(l, prefixed)).toThrow(/Perhaps a name prefix differs: "rnn.weight_ih_l0" looks like "weight_ih_l0"/);
    expect(() => loadLayerWeights(l, { ...good, extra_thing: { shape: [1], data: [0] } })).toThrow(/unexpected tensors: extra_thing/);
    expect(() => loadLayerWeights(l, { ...good, weight_ih_l0: { shape: [16, 5], data: new Array(80).fill(0) } })).toThrow(
      /tensor "weight_ih_l0" has shape \(16, 5\) but the model expects \(16, 3\)/,
    );
    expect(() => loadLayerWeights(l, { ...good, bias_ih_l0: { shape: [16], data: new Array(15).fill(0) } })).toThrow(/declares shape \(16\) \(16 values\) but holds 15 values/);
    const nan = { ...good, bias_hh_l1: { shape: [16], data: [...new Array(15).fill(0), NaN] } };
    expect(() => loadLayerWeights(l, nan)).toThrow(/bias_hh_l1" holds a non-finite value \(NaN\) at flat index 15/);
    // a GRU's tensors offered as an LSTM
    const gru = recurrentLayer({ cell: "gru", inputSize: 3, hiddenSize: 4, dtype: "float64" });
    expect(() => inferRecurrentConfig(stateDictOf(gru), parseCell("lstm"))).toThrow(/needs \(16, 4\); is this the right cell type\?/);
    expect(() => recurrentFromStateDict({}, parseCell("lstm"), "float64", "lstm.")).toThrow(/no tensor "lstm.weight_ih_l0".*pass the right prefix/);
  });

  it("a state dict round-trips into a fresh layer with the same outputs", () => {
    const a = layer();
    const b = recurrentLayer({ cell: "lstm", inputSize: 3, hiddenSize: 4, numLayers: 2, dtype: "float64", seed: 9 });
    const input = x(4, 2, 3);
    expect(Array.from(forward(b, input).y.data)).not.toEqual(Array.from(forward(a, input).y.data));
    loadLayerWeights(b, stateDictOf(a));
    expect(Array.from(forward(b, input).y.data)).toEqual(Array.from(forward(a, input).y.data));
  });

  it("invalid configurations", () => {
    expect(() => recurrentLayer({ cell: "lstm", inputSize: 0, hiddenSize: 4 })).toThrow(/inputSize must be a positive integer, got 0/);
    expect(() => recurrentLayer({ cell: "lstm", inputSize: 3, hiddenSize: 4, dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
    expect(() => recurrentLayer({ cell: "transformer", inputSize: 3, hiddenSize: 4 })).toThrow(/unknown cell "transformer"; choose one of: lstm, lstm-peephole/);
    expect(() => createArena("float32", [{ name: "a", shape: [1] }, { name: "a", shape: [2] }])).toThrow(/duplicate tensor name "a"/);
  });

  it("malformed reference files", () => {
    expect(() => parseReference({ module: "Transformer" }, "x.json")).toThrow(/x.json: "module" must be "RNN", "LSTM" or "GRU"/);
    expect(() => parseReference({ module: "LSTM", config: { input_size: 2, hidden_size: 0, num_layers: 1, batch_size: 1, seq_len: 1 }, tensors: {} }, "y.json")).toThrow(
      /config.hidden_size must be a positive integer/,
    );
    const cfg = { input_size: 2, hidden_size: 2, num_layers: 1, batch_size: 1, seq_len: 1 };
    expect(() => parseReference({ module: "GRU", config: cfg, tensors: { x: { shape: [1, 1, 2], data: [1] } } }, "z.json")).toThrow(/tensor "x" has shape \(1, 1, 2\) but 1 values/);
  });

  it("training options", () => {
    expect(() => createTraining({ text: "abc", seqLen: 8, batch: 4 })).toThrow(/too few for one chunk.*use a smaller --batch or --seq-len/);
    expect(() => createTraining({ text: "abcdef".repeat(100), lr: -1 })).toThrow(/lr must be > 0/);
    expect(() => createTraining({ text: "abcdef".repeat(100), cell: "lstmm" })).toThrow(/unknown cell "lstmm"/);
    expect(() => createTraining({ text: "abcdef".repeat(100), schedule: "cosine" })).toThrow(/cosine schedule anneals over --max-steps: set it/);
  });
});
