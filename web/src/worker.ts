/**
 * The web lab's worker: trains and holds the char-LM (`serveTraining` from unroll/browser) and
 * answers the panels' questions about it with the live model: streamed samples, PyTorch-named
 * weights, and (inspect.ts) activations.
 */
import { serveTraining, type WorkerContext } from "../../src/browser/index.js";
import { autoWeightFormat, exportLanguageModel, sampleStream, type TrainedModel, type WeightFormat } from "../../src/index.js";
import { inspectHandlers } from "./inspect-handlers.js";

export interface SampleRequest {
  readonly id: number;
  readonly prime: string;
  readonly length: number;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly seed: number;
  /** "auto": int8 where the backend has its own int8 products and the model can be quantized, else float32 (bf16 works, but the wasm backend multiplies it in TypeScript) */
  readonly weights: WeightFormat | "auto";
}

/** Pieces of a sample as they come: { sample: id, text }. */
export interface SamplePiece {
  readonly sample: number;
  readonly text: string;
}

let sampling = { aborted: false };

function liveModel(ctx: WorkerContext): TrainedModel {
  const lm = ctx.model();
  if (!lm) throw new Error("there is no model yet: train one or load a checkpoint");
  return lm;
}

serveTraining({
  handlers: {
    async sample(payload, ctx) {
      const r = payload as SampleRequest;
      const lm = liveModel(ctx);
      const backend = await ctx.backend();
      // the weights as they are now, compacted once for this sample
      const weights: WeightFormat = r.weights !== "auto" ? r.weights : autoWeightFormat(backend.name, lm.model);
      sampling.aborted = true;
      const signal = (sampling = { aborted: false });
      let unknown = 0;
      let buffered = "";
      let last = performance.now();
      const t0 = last;
      let tokens = 0;
      for await (const piece of sampleStream(lm, {
        prime: r.prime,
        length: r.length,
        temperature: r.temperature,
        topK: r.topK > 0 ? r.topK : undefined,
        topP: r.topP < 1 ? r.topP : undefined,
        seed: r.seed,
        backend,
        weights,
        signal,
        yieldEveryMs: 30,
        onUnknown: (n) => (unknown = n),
      })) {
        buffered += piece;
        tokens++;
        const now = performance.now();
        if (now - last > 30) {
          ctx.post({ sample: r.id, text: buffered } satisfies SamplePiece);
          buffered = "";
          last = now;
        }
      }
      if (buffered) ctx.post({ sample: r.id, text: buffered } satisfies SamplePiece);
      const ms = performance.now() - t0;
      return { tokens, ms, unknown, stopped: signal.aborted, weights };
    },
    stopSample() {
      sampling.aborted = true;
      return null;
    },
    weights(_payload, ctx) {
      return exportLanguageModel(liveModel(ctx));
    },
    ...inspectHandlers,
  },
});
