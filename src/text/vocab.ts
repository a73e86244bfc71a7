/**
 * Vocabularies and tokenisation. Text is read as Unicode code points (never bytes or UTF-16
 * units), so an emoji or a CJK character is one character token.
 *
 * - Character level (char-rnn): the vocabulary is the sorted distinct code points of the corpus.
 * - Word level (PyTorch's word_language_model): words are split on whitespace, punctuation is split
 *   off as its own tokens, every line ends with `<eos>`; words seen fewer than `minCount` times or
 *   beyond `maxVocab` become `<unk>`.
 */

/** A vocabulary: token strings by id. Plain data, JSON-safe, stored in checkpoints. */
export type Vocabulary =
  | { readonly kind: "char"; readonly tokens: readonly string[] }
  | { readonly kind: "word"; readonly tokens: readonly string[]; readonly lowercase: boolean };

export const UNK = "<unk>";
export const EOS = "<eos>";

/** Options of `buildVocabulary`. */
export interface VocabularyOptions {
  readonly level: "char" | "word";
  /** Word level: fold to lower case. Default false. */
  readonly lowercase?: boolean;
  /** Word level: words seen fewer times become <unk>. Default 1. */
  readonly minCount?: number;
  /** Word level: keep at most this many tokens (most frequent first, ties by first appearance), including <unk> and <eos>. */
  readonly maxVocab?: number;
}

/** The code points of `text`, each as a string. */
export function codePoints(text: string): string[] {
  return Array.from(text);
}

/** Sorted distinct code points of `text` (sorted by code point value). */
export function buildCharVocabulary(text: string): Vocabulary {
  const set = new Set(codePoints(text));
  const tokens = [...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  if (tokens.length === 0) throw new Error("cannot build a vocabulary from empty text: give the trainer some text");
  return { kind: "char", tokens };
}

/**
 * Word tokens of `text`: per line, runs of letters/digits (with inner apostrophes and hyphens)
 * and single punctuation marks, then `<eos>` where a newline ends the line (so a prime text
 * without a final newline continues its line).
 */
export function splitWords(text: string, lowercase: boolean): string[] {
  const out: string[] = [];
  const word = /[\p{L}\p{N}\p{M}]+(?:['’\-][\p{L}\p{N}\p{M}]+)*|[^\s\p{L}\p{N}\p{M}]/gu;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const m = (lowercase ? line.toLowerCase() : line).match(word);
    if (m) for (const w of m) out.push(w); // not push(...m): a long line would overflow the stack
    if (m && i < lines.length - 1) out.push(EOS); // only a line that a newline ends gets <eos>
  });
  return out;
}

/** A vocabulary for `text` at the given level. */
export function buildVocabulary(text: string, o: VocabularyOptions = { level: "char" }): Vocabulary {
  if (o.level === "char") return buildCharVocabulary(text);
  const lowercase = o.lowercase ?? false;
  const minCount = o.minCount ?? 1;
  const counts = new Map<string, number>();
  for (const w of splitWords(text, lowercase)) counts.set(w, (counts.get(w) ?? 0) + 1);
  if (counts.size === 0) throw new Error("cannot build a word vocabulary: the text has no words");
  const kept = [...counts].filter(([w, n]) => n >= minCount && w !== EOS).sort((a, b) => b[1] - a[1]);
  const max = o.maxVocab ?? Infinity;
  if (max < 3) throw new Error(`--max-vocab must be at least 3 (<unk>, <eos> and one word), got ${max}`);
  const tokens = [UNK, EOS, ...kept.slice(0, max - 2).map(([w]) => w)];
  return { kind: "word", tokens, lowercase };
}


/** A token → id lookup for `v`. */
export function indexOf(v: Vocabulary): Map<string, number> {
  return new Map(v.tokens.map((t, i) => [t, i]));
}

/** Token ids of `text` and how many symbols were not in the vocabulary. */
export interface Encoded {
  readonly ids: Int32Array;
  /** Symbols outside the vocabulary: skipped (char level) or mapped to <unk> (word level). */
  readonly unknown: number;
}

/**
 * Token ids of `text`. At the word level, unknown words become `<unk>`. At the character level a
 * character outside the vocabulary raises an error naming it, or is skipped with `skipUnknown`.
 */
export function encodeText(v: Vocabulary, text: string, skipUnknown = false): Encoded {
  const index = indexOf(v);
  if (v.kind === "word") {
    const words = splitWords(text, v.lowercase);
    const unk = index.get(UNK)!;
    let unknown = 0;
    const ids = Int32Array.from(words, (w) => {
      const id = index.get(w);
      if (id === undefined) unknown++;
      return id ?? unk;
    });
    return { ids, unknown };
  }
  const cps = codePoints(text);
  const ids: number[] = [];
  let unknown = 0;
  for (let i = 0; i < cps.length; i++) {
    const id = index.get(cps[i]);
    if (id !== undefined) ids.push(id);
    else if (skipUnknown) unknown++;
    else {
      const cp = cps[i].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
      throw new Error(`character ${JSON.stringify(cps[i])} (U+${cp}) at position ${i} is not in the model's vocabulary of ${v.tokens.length} symbols`);
    }
  }
  return { ids: Int32Array.from(ids), unknown };
}

/** Token ids of `text`; throws on a character outside a character vocabulary. */
export function encode(v: Vocabulary, text: string): Int32Array {
  return encodeText(v, text).ids;
}

/** The text of token ids: characters joined; words joined by spaces with `<eos>` as a newline. */
export function decode(v: Vocabulary, ids: ArrayLike<number>): string {
  if (v.kind === "char") {
    let s = "";
    for (let i = 0; i < ids.length; i++) s += v.tokens[ids[i]];
    return s;
  }
  let s = "";
  for (let i = 0; i < ids.length; i++) s += tokenText(v, ids[i], i === 0 ? null : ids[i - 1]);
  return s;
}

/** The text one token adds after `prev` (for streaming output). */
export function tokenText(v: Vocabulary, id: number, prev: number | null): string {
  const t = v.tokens[id];
  if (v.kind === "char") return t;
  if (t === EOS) return "\n";
  const start = prev === null || v.tokens[prev] === EOS;
  return start || /^[.,;:!?)\]}'’”]$/u.test(t) ? t : ` ${t}`;
}

/** Checks a vocabulary read from a file. */
export function checkVocabulary(v: unknown, source: string): Vocabulary {
  const o = v as { kind?: unknown; tokens?: unknown; lowercase?: unknown };
  if (!o || (o.kind !== "char" && o.kind !== "word") || !Array.isArray(o.tokens) || !o.tokens.every((t) => typeof t === "string")) {
    throw new Error(`${source}: the vocabulary must be { kind: "char" | "word", tokens: string[] }`);
  }
  if (new Set(o.tokens).size !== o.tokens.length) throw new Error(`${source}: the vocabulary has duplicate tokens`);
  if (o.kind === "word" && (o.tokens[0] !== UNK || o.tokens[1] !== EOS)) throw new Error(`${source}: a word vocabulary starts with ${UNK} and ${EOS}`);
  return o.kind === "char" ? { kind: "char", tokens: o.tokens } : { kind: "word", tokens: o.tokens, lowercase: o.lowercase === true };
}
