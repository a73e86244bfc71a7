import { describe, expect, it } from "vitest";
import { jsBackend } from "../src/backend/js/index.js";
import { parseCell } from "../src/cells/cell.js";
import { createLanguageModel } from "../src/model/language-model.js";
import { makeBatches } from "../src/text/batches.js";
import { buildCharVocabulary, encode } from "../src/text/vocab.js";
import { initLanguageModel } from "../src/train/init-model.js";
import { createOptimizer } from "../src/train/optimizers.js";
import { createStepContext, trainStep } from "../src/train/step.js";
import { evaluateChunks } from "../src/model/evaluate.js";
import { Rng } from "../src/tensor/random.js";

// 200 characters of Moby Dick's opening.
const TEXT =
  "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse, " +
  "and nothing particular to interest me on shore, I thought I would sail about a little and see the w";

describe("overfitting a tiny text", () => {
  it("has a 200-character text", () => expect(Array.from(TEXT).length).toBe(200));

  it("a 2-layer LSTM language model memorises 200 characters to a loss below 0.05 nats", () => {
    const vocab = buildCharVocabulary(TEXT);
    const ids = encode(vocab, TEXT);
    const batches = makeBatches(ids, 1, 199, 0); // the whole text as one chunk: full BPTT
    const rng = Rng.seeded(7);
    const model = createLanguageModel(
      { vocabSize: vocab.tokens.length, embedSize: 16, cell: parseCell("lstm"), hiddenSize: 64, numLayers: 2, dropout: 0 },
      "float32",
    );
    initLanguageModel(model, rng);
    const optimizer = createOptimizer({ kind: "adam", lr: 1e-2 }, model.params.data.length, "float32");
    const ctx = createStepContext(jsBackend, model, optimizer, rng, { clipNorm: 5 });
    const first = evaluateChunks(jsBackend, model, batches.train);
    let loss = Infinity;
    for (let step = 0; step < 400 && loss >= 0.05; step++) loss = trainStep(ctx, batches.train[0], null).loss;
    const final = evaluateChunks(jsBackend, model, batches.train);
    expect(first).toBeGreaterThan(3); // ≈ ln(V) at initialisation
    expect(final).toBeLessThan(0.05);
  });
});
