/**
 * A workspace (src/tensor/workspace.ts) only changes where buffers come from: training steps and
 * scoring passes that reuse buffers give exactly the results of freshly allocated ones, on every
 * backend, including steps whose shapes change and a carried state that outlives its step.
 */
import { describe, expect, it } from "vitest";
import type { Backend } from "../src/backend/backend.js";
import { jsBackend } from "../src/backend/js/index.js";
import { wasmBackend, wasmUsable } from "../src/backend/wasm/index.js";
import { parseCell } from "../src/cells/index.js";
import { createLanguageModel, languageModelForward, languageModelLoss, type RecurrentState } from "../src/model/language-model.js";
import { nativeBackend } from "../src/node/native-backend.js";
import { allocate } from "../src/tensor/dtype.js";
import { Rng } from "../src/tensor/random.js";
import { Workspace } from "../src/tensor/workspace.js";
import { initLanguageModel } from "../src/train/init-model.js";
import { createOptimizer } from "../src/train/optimizers.js";
import { createStepContext, trainStep } from "../src/train/step.js";
import { evaluateChunks } from "../src/model/evaluate.js";
import { pickToken, sampleTokens } from "../src/generate/sample.js";

const backends: Backend[] = [jsBackend, ...(wasmUsable() ? [wasmBackend] : []), ...(nativeBackend ? [nativeBackend] : [])];

function setup(backend: Backend, cell: string, embedSize: number) {
  const rng = Rng.seeded(3);
  const V = 11;
  const model = createLanguageModel({ vocabSize: V, embedSize, cell: parseCell(cell), hiddenSize: 8, numLayers: 2, dropout: 0.25 }, "float32");
  initLanguageModel(model, rng);
  const optimizer = createOptimizer({ kind: "adam", lr: 1e-2 }, model.params.data.length, "float32");
  const ctx = createStepContext(backend, model, optimizer, Rng.seeded(4), { clipNorm: 1 });
  const chunk = (S: number, B: number) => ({
    x: Int32Array.from({ length: S * B }, () => rng.int(V)),
    y: Int32Array.from({ length: S * B }, () => rng.int(V)),
    S,
    B,
  });
  // T·B from 6 (below 2V: embedded rows) to 28 (token table); the shapes change between steps
  const chunks = [chunk(7, 4), chunk(7, 4), chunk(3, 2), chunk(7, 4), chunk(5, 4)];
  return { model, ctx, chunks };
}

describe("a workspace changes nothing but where buffers come from", () => {
  for (const backend of backends) {
    for (const [cell, embedSize] of [["lstm", 5], ["gru", 0], ["gru-cho", 5], ["lstm-peephole-coupled", 0], ["rnn-relu", 5]] as const) {
      it(`${backend.name}: 2-layer ${cell} with dropout, ${embedSize ? "embedding" : "one-hot"}: five training steps and an evaluation, bit for bit`, () => {
        const a = setup(backend, cell, embedSize);
        const b = setup(backend, cell, embedSize);
        const fresh = { ...b.ctx, workspace: { reset() {}, take: allocate } as unknown as Workspace };
        let sa: RecurrentState | null = null;
        let sb: RecurrentState | null = null;
        for (let i = 0; i < a.chunks.length; i++) {
          const ra = trainStep(a.ctx, a.chunks[i], i === 2 ? null : sa);
          const rb = trainStep(fresh, b.chunks[i], i === 2 ? null : sb);
          expect(ra.loss).toBe(rb.loss);
          expect(ra.gradNorm).toBe(rb.gradNorm);
          expect(ra.state.h).toEqual(rb.state.h);
          sa = ra.state;
          sb = rb.state;
        }
        expect(a.model.params.data).toEqual(b.model.params.data);
        expect(evaluateChunks(backend, a.model, a.chunks)).toBe(evaluateChunks(backend, b.model, b.chunks));
        // and training moved the weights, so the comparison could fail
        expect(a.model.params.data).not.toEqual(setup(backend, cell, embedSize).model.params.data);
      });
    }

    it(`${backend.name}: a scoring pass from a reused workspace equals a fresh one; buffers are reused`, () => {
      const { model, chunks } = setup(backend, "lstm", 5);
      const ws = new Workspace();
      const run = (w: Workspace | undefined) => {
        w?.reset();
        const pass = languageModelForward(backend, model, chunks[0].x, chunks[0].S, chunks[0].B, null, { workspace: w });
        return { pass, loss: languageModelLoss(model, pass, chunks[0].y, null) };
      };
      const first = run(ws);
      const logits = first.pass.logits;
      const h = first.pass.state.h;
      const copy = Float32Array.from(logits);
      const again = run(ws);
      expect(again.pass.logits).toBe(logits); // the same buffer, refilled
      expect(again.pass.state.h).not.toBe(h); // the carried state is never reused
      expect(again.pass.logits).toEqual(copy);
      expect(again.loss).toBe(run(undefined).loss);
    });
  }
});

describe("sampling with reused buffers", () => {
  for (const backend of backends) {
    it(`${backend.name}: sampleTokens equals a plain token-by-token loop of fresh passes`, () => {
      const { model } = setup(backend, "gru", 5);
      const prime = Int32Array.from([1, 4, 2]);
      const got = [...sampleTokens(backend, model, { length: 40, prime, temperature: 0.9, rng: Rng.seeded(8) })];
      const rng = Rng.seeded(8);
      let pass = languageModelForward(backend, model, prime, prime.length, 1, null);
      let z = pass.logits.subarray((prime.length - 1) * 11);
      const want: number[] = [];
      for (let n = 0; n < 40; n++) {
        want.push(pickToken(z, { temperature: 0.9, rng }));
        pass = languageModelForward(backend, model, Int32Array.of(want[n]), 1, 1, pass.state);
        z = pass.logits;
      }
      expect(got).toEqual(want);
      expect(new Set(got).size).toBeGreaterThan(2); // a real sample, not one repeated token
    });
  }
});
