// A/B in one process: batch-1 int8 / bf16 sampling steps of I1's model (LSTM 2×512, V=96) with
// the native kernels as `quantizedStep` uses them (all layers in one call, qlstmStack) against the
// same kernels layer by layer through gemv and the cell update apart (the same bits), alternating
// 30 times. Not part of the tests.
//
//   npm run build && flock /tmp/bench.lock node bench/sampling-fused.mjs [int8|bf16]
import { createLanguageModel } from "../dist/model/language-model.js";
import { initLanguageModel } from "../dist/train/init-model.js";
import { Rng } from "../dist/tensor/random.js";
import { quantizeLanguageModel, createQuantizedState, quantizedStep, quantizedKernelsFor } from "../dist/generate/quantized.js";
import "../dist/node/native-backend.js";

const format = process.argv[2] ?? "int8";
const model = createLanguageModel({ vocabSize: 96, embedSize: 512, cell: { kind: "lstm" }, hiddenSize: 512, numLayers: 2, dropout: 0 }, "float32");
initLanguageModel(model, Rng.seeded(0));
const qm = quantizeLanguageModel(model, format);
const fused = quantizedKernelsFor("native");
if (!fused.lstmStack) throw new Error("these native kernels have no fused LSTM step (no addon, or an old build: npm run build:native)");
const { lstmLayer: _, lstmStack: __, ...apart } = fused;
const state = createQuantizedState(qm);
const times = { fused: [], apart: [] };
for (let round = 0; round < 30; round++) {
  for (const [name, kernels] of [["fused", fused], ["apart", apart]]) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) quantizedStep(qm, i % 96, state, kernels);
    times[name].push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const f = median(times.fused), a = median(times.apart);
console.log(`${format}: ${f.toFixed(2)} µs/step fused, ${a.toFixed(2)} µs/step layer by layer (medians of 30 × 1000 steps): ${(a / f).toFixed(2)}×`);
