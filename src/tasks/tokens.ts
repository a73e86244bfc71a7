/**
 * Token vocabularies and length-grouped batches of the classification, tagging and conditional
 * tasks. Browser-safe.
 */
import type { Rng } from "../tensor/random.js";
import { groupByLength } from "./trainer.js";

export const UNK = "<unk>";

/** Tokens of a text: code points, or words split at white space (optionally lower-cased). */
export function tokenizeText(text: string, level: "char" | "word", lowercase = false): string[] {
  const t = lowercase ? text.toLowerCase() : text;
  return level === "char" ? Array.from(t) : t.split(/\s+/).filter((w) => w.length > 0);
}

/**
 * A vocabulary of the training sequences: <unk> at 0, then the tokens seen at least `minCount`
 * times, most frequent first (ties in code-point order), at most `maxSize` in all.
 */
export function buildTokenVocab(sequences: readonly (readonly string[])[], o: { minCount?: number; maxSize?: number } = {}): string[] {
  const counts = new Map<string, number>();
  for (const s of sequences) for (const t of s) counts.set(t, (counts.get(t) ?? 0) + 1);
  counts.delete(UNK);
  const kept = [...counts].filter(([, n]) => n >= (o.minCount ?? 1)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const max = o.maxSize ?? Infinity;
  return [UNK, ...kept.slice(0, Math.max(0, max - 1)).map(([t]) => t)];
}

/** Ids of `tokens` (unknown ones → <unk>, id 0). */
export function encodeTokens(vocab: readonly string[], tokens: readonly string[], index?: Map<string, number>): Int32Array {
  const ix = index ?? new Map(vocab.map((t, i) => [t, i]));
  return Int32Array.from(tokens, (t) => ix.get(t) ?? 0);
}

/** Time-major (T·B) ids of B sequences of one length T. */
export function timeMajor(seqs: readonly ArrayLike<number>[]): { ids: Int32Array; T: number; B: number } {
  const B = seqs.length;
  const T = seqs[0].length;
  const ids = new Int32Array(T * B);
  seqs.forEach((s, b) => {
    if (s.length !== T) throw new Error(`timeMajor: sequence ${b} has ${s.length} tokens, the batch ${T}`);
    for (let t = 0; t < T; t++) ids[t * B + b] = s[t];
  });
  return { ids, T, B };
}

/**
 * Time-major (T·B) ids of B sequences of any lengths, right-padded with `pad` to the longest, T,
 * and each sequence's length (for `lengths` of the classifier and tagger batches).
 */
export function padTimeMajor(seqs: readonly ArrayLike<number>[], pad = 0): { ids: Int32Array; T: number; B: number; lengths: Int32Array } {
  const B = seqs.length;
  if (B === 0) throw new Error("padTimeMajor: no sequences");
  const lengths = Int32Array.from(seqs, (s) => s.length);
  const T = Math.max(...lengths);
  if (Math.min(...lengths) < 1) throw new Error("padTimeMajor: a sequence is empty");
  const ids = new Int32Array(T * B).fill(pad);
  seqs.forEach((s, b) => {
    for (let t = 0; t < s.length; t++) ids[t * B + b] = s[t];
  });
  return { ids, T, B, lengths };
}

/**
 * Indices of `seqs` in batches of at most `batchSize` of similar length, for padded batches: the
 * indices shuffled by `rng`, then sorted by length (stably, so equal lengths stay shuffled) and
 * cut into batches; a batch pads only up to its own longest sequence.
 */
export function paddedBatches(seqs: readonly ArrayLike<number>[], batchSize: number, rng: Rng): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  const idx = seqs.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  idx.sort((a, b) => seqs[a].length - seqs[b].length);
  const out: number[][] = [];
  for (let s = 0; s < idx.length; s += batchSize) out.push(idx.slice(s, s + batchSize));
  return out;
}

/** Indices of `seqs` in batches of one length each (see `groupByLength`). */
export function lengthBatches(seqs: readonly ArrayLike<number>[], batchSize: number, rng: Rng): number[][] {
  return groupByLength(seqs.map((s) => s.length), batchSize, rng);
}
