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

/** Indices of `seqs` in batches of one length each (see `groupByLength`). */
export function lengthBatches(seqs: readonly ArrayLike<number>[], batchSize: number, rng: Rng): number[][] {
  return groupByLength(seqs.map((s) => s.length), batchSize, rng);
}
