/**
 * Sequence-to-sequence as a task: token pairs → vocabularies → batches grouped by source length →
 * the training loop (trainer.ts) → phoneme/word error rates by greedy or beam decoding.
 * Browser-safe; reading files is the CLI's job.
 */
import type { Backend } from "../backend/backend.js";
import { Rng } from "../tensor/random.js";
import type { Arena } from "../tensor/arena.js";
import { errorRates } from "./metrics.js";
import { createSeq2Seq, seq2seqDecode, seq2seqLoss, TARGET_SPECIALS, type DecodeOptions, type Seq2SeqBatch, type Seq2SeqConfig, type Seq2SeqModel } from "./seq2seq.js";
import { groupByLength, type TaskLoop } from "./trainer.js";

/** One pair, tokenised. */
export interface TokenPair {
  readonly source: readonly string[];
  readonly target: readonly string[];
  readonly where: string;
}

export const UNK_TOKEN = "<unk>";

/** Vocabularies of a seq2seq task: sources have <unk> at 0; targets start with </s>, <s>. */
export interface Seq2SeqVocab {
  readonly source: readonly string[];
  readonly target: readonly string[];
}

/**
 * The vocabularies of the training pairs, tokens sorted; `shared` makes one list for both sides
 * (the target list, so source ids equal target ids).
 */
export function buildSeq2SeqVocab(pairs: readonly TokenPair[], shared = false): Seq2SeqVocab {
  const src = new Set<string>();
  const tgt = new Set<string>();
  for (const p of pairs) {
    for (const t of p.source) src.add(t);
    for (const t of p.target) tgt.add(t);
  }
  if (shared) {
    const all = [...TARGET_SPECIALS, UNK_TOKEN, ...[...new Set([...src, ...tgt])].filter((t) => t !== UNK_TOKEN && !(TARGET_SPECIALS as readonly string[]).includes(t)).sort()];
    return { source: all, target: all };
  }
  return { source: [UNK_TOKEN, ...[...src].filter((t) => t !== UNK_TOKEN).sort()], target: [...TARGET_SPECIALS, ...[...tgt].filter((t) => !(TARGET_SPECIALS as readonly string[]).includes(t)).sort()] };
}

/** Source ids (unknown tokens → <unk>). */
export function encodeSource(vocab: Seq2SeqVocab, tokens: readonly string[]): Int32Array {
  const index = new Map(vocab.source.map((t, i) => [t, i]));
  const unk = index.get(UNK_TOKEN) ?? 0;
  return Int32Array.from(tokens, (t) => index.get(t) ?? unk);
}

/** Target ids; a token outside the vocabulary is an error naming `where`. */
export function encodeTarget(vocab: Seq2SeqVocab, tokens: readonly string[], where: string): Int32Array {
  const index = new Map(vocab.target.map((t, i) => [t, i]));
  return Int32Array.from(tokens, (t) => {
    const id = index.get(t);
    if (id === undefined || id < 2) throw new Error(`${where}: target token "${t}" never occurs in the training targets; the model cannot produce it`);
    return id;
  });
}

/** Batches of pairs with one source length each (exact for the bidirectional encoder). */
export function seq2seqBatches(vocab: Seq2SeqVocab, pairs: readonly TokenPair[], batchSize: number, rng: Rng): Seq2SeqBatch[] {
  const groups = groupByLength(pairs.map((p) => p.source.length), batchSize, rng);
  return groups.map((idx) => {
    const Ts = pairs[idx[0]].source.length;
    const B = idx.length;
    const src = new Int32Array(Ts * B);
    idx.forEach((i, b) => {
      const ids = encodeSource(vocab, pairs[i].source);
      for (let t = 0; t < Ts; t++) src[t * B + b] = ids[t];
    });
    return { src, Ts, B, targets: idx.map((i) => encodeTarget(vocab, pairs[i].target, pairs[i].where)) };
  });
}

/** The training loop of `model` on `train`, validated on `val` (loss; PER and WER of greedy decoding on at most `valDecode` pairs). */
export function seq2seqLoop(
  backend: Backend,
  model: Seq2SeqModel,
  vocab: Seq2SeqVocab,
  train: readonly TokenPair[],
  val: readonly TokenPair[],
  o: { batchSize: number; seed: number; samplingProb: number; valDecode: number },
): TaskLoop<Seq2SeqBatch> {
  const batches = seq2seqBatches(vocab, train, o.batchSize, Rng.seeded(o.seed ^ 0x5eed));
  const valBatches = seq2seqBatches(vocab, val, 256, Rng.seeded(1));
  const valSubset = val.slice(0, o.valDecode);
  return {
    backend,
    params: model.params,
    batches,
    size: (b) => b.targets.reduce((s, t) => s + t.length + 1, 0),
    loss: (b, grads: Arena | null, rng) => seq2seqLoss(backend, model, b, grads, { training: true, rng, samplingProb: o.samplingProb }),
    validate: () => {
      let total = 0;
      let count = 0;
      for (const b of valBatches) {
        const r = seq2seqLoss(backend, model, b, null);
        total += r.loss * r.count;
        count += r.count;
      }
      const metrics: Record<string, number> = {};
      if (valSubset.length > 0) {
        const r = scoreSeq2Seq(backend, model, vocab, valSubset, { beamWidth: 1 });
        metrics.per = r.per;
        metrics.wer = r.wer;
      }
      return { loss: count > 0 ? total / count : NaN, metrics };
    },
  };
}

/** Decodes token sequences (any lengths: grouped by length internally), returning target tokens in input order. */
export function translate(backend: Backend, model: Seq2SeqModel, vocab: Seq2SeqVocab, sources: readonly (readonly string[])[], o: DecodeOptions & { batchSize?: number } = {}): { tokens: string[]; logProb: number; attention: Float64Array | null }[] {
  const out = new Array<{ tokens: string[]; logProb: number; attention: Float64Array | null }>(sources.length);
  const byLen = new Map<number, number[]>();
  sources.forEach((s, i) => {
    if (s.length === 0) throw new Error(`source ${i + 1} is empty; give at least one token`);
    const g = byLen.get(s.length);
    if (g) g.push(i);
    else byLen.set(s.length, [i]);
  });
  const bs = o.batchSize ?? 128;
  for (const [Ts, idx] of byLen) {
    for (let s = 0; s < idx.length; s += bs) {
      const part = idx.slice(s, s + bs);
      const B = part.length;
      const src = new Int32Array(Ts * B);
      part.forEach((i, b) => {
        const ids = encodeSource(vocab, sources[i]);
        for (let t = 0; t < Ts; t++) src[t * B + b] = ids[t];
      });
      const dec = seq2seqDecode(backend, model, src, Ts, B, o);
      part.forEach((i, b) => (out[i] = { tokens: Array.from(dec[b].ids, (id) => vocab.target[id]), logProb: dec[b].logProb, attention: dec[b].attention }));
    }
  }
  return out;
}

/** PER (Σ edit distance / Σ reference length) and WER (fraction of outputs not exactly right). */
export function scoreSeq2Seq(backend: Backend, model: Seq2SeqModel, vocab: Seq2SeqVocab, pairs: readonly TokenPair[], o: DecodeOptions = {}): { per: number; wer: number; count: number; outputs: string[][] } {
  const outputs = translate(backend, model, vocab, pairs.map((p) => p.source), o).map((r) => r.tokens);
  const r = errorRates(pairs.map((p) => p.target), outputs);
  return { per: r.tokenErrorRate, wer: r.sequenceErrorRate, count: r.count, outputs };
}

/** The model config for the vocabularies and the user's sizes. */
export function seq2seqConfig(vocab: Seq2SeqVocab, o: Omit<Seq2SeqConfig, "srcVocabSize" | "tgtVocabSize">): Seq2SeqConfig {
  return { ...o, srcVocabSize: vocab.source.length, tgtVocabSize: vocab.target.length };
}

export { createSeq2Seq };
