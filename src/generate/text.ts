/**
 * Text in, text out: sampling and evaluation of a trained model on strings, with the vocabulary
 * applied and unknown symbols handled (skipped characters, or <unk> words) rather than crashing.
 */
import type { Backend } from "../backend/backend.js";
import { getBackend } from "../backend/select.js";
import type { TrainedModel } from "../model/trained.js";
import { makeBatches, type Chunk } from "../text/batches.js";
import { encodeText, tokenText } from "../text/vocab.js";
import { Rng } from "../tensor/random.js";
import { evaluateChunks } from "../model/evaluate.js";
import { sampleTokens } from "./sample.js";
import { yieldToEventLoop } from "../util/yield.js";
import type { QuantizedLanguageModel, WeightFormat } from "./quantized.js";

/** Options of `sample`. */
export interface TextSampleOptions {
  /** Tokens to generate (default 1000). */
  readonly length?: number;
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly argmax?: boolean;
  /** Text fed first; its unknown characters are skipped (see `onUnknown`). */
  readonly prime?: string;
  /** Stop after the generated text contains this string. */
  readonly stop?: string;
  readonly seed?: number;
  readonly backend?: string | Backend;
  /** "int8" or "bf16": sample with compact weight matrices (generate/quantized.ts), or a `quantizeLanguageModel` result made already. Default "float32". */
  readonly weights?: WeightFormat | QuantizedLanguageModel;
  /** Told how many symbols of `prime` were not in the vocabulary. */
  readonly onUnknown?: (count: number) => void;
}

/** Generates text token by token; each yielded string is the text one token adds. */
export function* sample(lm: TrainedModel, o: TextSampleOptions = {}): Generator<string, void, undefined> {
  const backend = typeof o.backend === "object" ? o.backend : getBackend(o.backend);
  const prime = o.prime ? encodeText(lm.vocab, o.prime, true) : null;
  if (prime && prime.unknown > 0) o.onUnknown?.(prime.unknown);
  const rng = Rng.seeded(o.seed ?? 1);
  let prev: number | null = prime && prime.ids.length > 0 ? prime.ids[prime.ids.length - 1] : null;
  let text = "";
  for (const id of sampleTokens(backend, lm.model, {
    length: o.length ?? 1000,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    argmax: o.argmax,
    prime: prime?.ids,
    rng,
    weights: o.weights,
  })) {
    const piece = tokenText(lm.vocab, id, prev);
    prev = id;
    yield piece;
    if (o.stop) {
      text += piece;
      if (text.includes(o.stop)) return;
      if (text.length > 4 * o.stop.length) text = text.slice(-2 * o.stop.length);
    }
  }
}

/**
 * `sample` as an async generator that yields to the event loop at least every `yieldEveryMs`
 * (default 16, a frame), so a page or worker stays responsive while it streams characters. Same
 * tokens as `sample` with the same options.
 */
export async function* sampleStream(
  lm: TrainedModel,
  o: TextSampleOptions & { readonly yieldEveryMs?: number; readonly signal?: { readonly aborted: boolean } } = {},
): AsyncGenerator<string, void, undefined> {
  const every = o.yieldEveryMs ?? 16;
  let last = Date.now();
  for (const piece of sample(lm, o)) {
    if (o.signal?.aborted) return;
    yield piece;
    if (Date.now() - last >= every) {
      await yieldToEventLoop();
      last = Date.now();
    }
  }
}

/** Cross-entropy of a model on a text. */
export interface Evaluation {
  /** Mean cross-entropy, nats per predicted token. */
  readonly loss: number;
  /** The same in bits (per character or per word). */
  readonly bits: number;
  /** e^loss. */
  readonly perplexity: number;
  /** Predicted tokens. */
  readonly tokens: number;
  /** Symbols not in the vocabulary: skipped (characters) or scored as <unk> (words). */
  readonly unknown: number;
}

/** Summary figures of a mean loss over `tokens`. */
export function evaluation(loss: number, tokens: number, unknown: number): Evaluation {
  return { loss, bits: loss / Math.LN2, perplexity: Math.exp(loss), tokens, unknown };
}

/**
 * Mean cross-entropy of `text` under the model: every token predicted from all before it (one
 * stream, state carried across chunks of `seqLen`).
 */
export function evaluate(lm: TrainedModel, text: string, o: { seqLen?: number; backend?: string | Backend } = {}): Evaluation {
  const backend = typeof o.backend === "object" ? o.backend : getBackend(o.backend);
  const { ids, unknown } = encodeText(lm.vocab, text, true);
  if (ids.length < 2) throw new Error(`the text has ${ids.length} known token(s); evaluation needs at least 2`);
  const S = o.seqLen ?? 256;
  const chunks: Chunk[] = [];
  for (let s = 0; s + 1 < ids.length; s += S) {
    const n = Math.min(S, ids.length - 1 - s);
    chunks.push({ x: ids.slice(s, s + n), y: ids.slice(s + 1, s + n + 1), S: n, B: 1 });
  }
  const loss = evaluateChunks(backend, lm.model, chunks);
  return evaluation(loss, ids.length - 1, unknown);
}

/** Mean cross-entropy over the held-out split of a training corpus (the trainer's batching). */
export function evaluateSplit(
  lm: TrainedModel,
  text: string,
  split: "val" | "test",
  o: { batch: number; seqLen: number; valFrac: number; testFrac: number; backend?: string | Backend },
): Evaluation {
  const backend = typeof o.backend === "object" ? o.backend : getBackend(o.backend);
  const { ids } = encodeText(lm.vocab, text, true);
  const b = makeBatches(ids, o.batch, o.seqLen, o.valFrac, o.testFrac);
  const chunks = split === "val" ? b.val : b.test;
  if (chunks.length === 0) throw new Error(`the run has no ${split} split (its ${split === "val" ? "--val-frac" : "--test-frac"} left no chunks); evaluate a file with --data instead`);
  // Out-of-vocabulary symbols are counted over the whole text, not the split: not reported here.
  return evaluation(evaluateChunks(backend, lm.model, chunks), chunks.length * o.batch * o.seqLen, 0);
}
