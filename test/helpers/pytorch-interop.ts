/**
 * The models unroll exports for PyTorch to check (test/fixtures/pytorch/unroll/*.safetensors),
 * built deterministically from fixed seeds. `export_unroll.ts` writes them; the test rebuilds them
 * and checks that the committed files still hold exactly these weights, so PyTorch's recorded
 * outputs on those files apply to what unroll exports today.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { recurrentLayer, type RecurrentLayer } from "../../src/api/recurrent-layer.js";
import { tensor, type Tensor } from "../../src/api/tensor.js";
import { parseCell } from "../../src/cells/cell.js";
import { exportEmbedding, exportLanguageModel, exportLinear, exportRecurrentLayer } from "../../src/io/pytorch.js";
import { createLanguageModel, type LanguageModelConfig } from "../../src/model/language-model.js";
import type { TrainedModel } from "../../src/model/trained.js";
import type { DType } from "../../src/tensor/dtype.js";
import { Rng } from "../../src/tensor/random.js";
import { buildVocabulary, type Vocabulary } from "../../src/text/vocab.js";
import { initLanguageModel } from "../../src/train/init-model.js";

export const pytorchDir = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "pytorch");

function lm(cell: string, vocab: Vocabulary, embedSize: number, hiddenSize: number, numLayers: number, dtype: DType, seed: number): TrainedModel {
  const config: LanguageModelConfig = { vocabSize: vocab.tokens.length, embedSize, cell: parseCell(cell), hiddenSize, numLayers, dropout: 0.1 };
  const model = createLanguageModel(config, dtype);
  initLanguageModel(model, Rng.seeded(seed), { scheme: "pytorch", forgetBias: cell === "lstm" ? 1 : 0 });
  return { model, vocab };
}

/** Language models: an LSTM with an embedding, a one-hot GRU, a float64 ReLU RNN over words. */
export function unrollLanguageModels(): Record<string, TrainedModel> {
  return {
    lm_lstm: lm("lstm", buildVocabulary("héllo, wörld — 🙂 unroll\n"), 4, 6, 2, "float32", 11),
    lm_gru_onehot: lm("gru", buildVocabulary("abcdefg"), 0, 5, 1, "float32", 12),
    lm_rnn_relu_word: lm("rnn-relu", buildVocabulary("the cat sat on the mat .\nthe dog sat", { level: "word" }), 3, 4, 2, "float64", 13),
  };
}

/** Bare recurrent layers: bidirectional 2-layer LSTM, bidirectional float64 GRU, 2-layer tanh RNN. */
export function unrollLayers(): Record<string, RecurrentLayer> {
  return {
    layer_lstm_bidir2: recurrentLayer({ cell: "lstm", inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 21, backend: "reference" }),
    layer_gru_bidir_f64: recurrentLayer({ cell: "gru", inputSize: 2, hiddenSize: 3, bidirectional: true, dtype: "float64", seed: 22, backend: "reference" }),
    layer_rnn2: recurrentLayer({ cell: "rnn", inputSize: 3, hiddenSize: 4, numLayers: 2, seed: 23, backend: "reference" }),
  };
}

function randomTensor(shape: number[], rng: Rng): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

/** An nn.Embedding(7, 3) table. */
export function unrollEmbedding(): Tensor {
  return randomTensor([7, 3], Rng.seeded(31));
}

/** An nn.Linear(3, 4): weight (4, 3), bias (4). */
export function unrollLinear(): { weight: Tensor; bias: Tensor } {
  const rng = Rng.seeded(32);
  return { weight: randomTensor([4, 3], rng), bias: randomTensor([4], rng) };
}

/** Every exported file by name (without ".safetensors"). */
export function unrollExports(): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [name, m] of Object.entries(unrollLanguageModels())) out[name] = exportLanguageModel(m);
  for (const [name, l] of Object.entries(unrollLayers())) out[name] = exportRecurrentLayer(l);
  out.embedding = exportEmbedding(unrollEmbedding());
  const { weight, bias } = unrollLinear();
  out.linear = exportLinear(weight, bias);
  return out;
}
