/**
 * The built-in tagging dataset "cmudict-stress": lexical stress of each phoneme of a word.
 *
 * CMUdict writes a vowel with its stress digit (AH0, AW1, ER2: 0 no stress, 1 primary, 2
 * secondary) and a consonant without one. Here the digit becomes the tag and the bare phoneme the
 * token, so a model reads the phonemes of a word and predicts where its stress falls:
 *
 *   ABOUT   AH0 B AW1 T   →   tokens  AH  B  AW  T
 *                              tags    0   -  1   -
 *
 * Consonants get the tag "-" (they carry no stress), so there are four tags. The vowels are the
 * 15 that CMUdict's own phone list (phones.txt) marks "vowel"; a vowel without a digit, or a
 * consonant with one, is an error naming the word (the dictionary never has either). Words come as
 * parseCmudict gives them: first pronunciation only, letters and apostrophes only. Browser-safe.
 */
import type { Pronunciation } from "./cmudict.js";
import type { TaggedExample } from "./tagged.js";

/** The 15 ARPAbet vowels of CMUdict (phones.txt), the phonemes that carry a stress digit. */
export const ARPABET_VOWELS: ReadonlySet<string> = new Set(["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"]);

/** The tags of "cmudict-stress": "-" a consonant; "0", "1", "2" a vowel's stress (none, primary, secondary). */
export const STRESS_TAGS = ["-", "0", "1", "2"] as const;

/**
 * Each word's phonemes without their stress digits as tokens, and the digits ("-" for a
 * consonant) as tags, in the order of `pairs`; `where` is `${source}:${word}`.
 */
export function stressTagging(pairs: readonly Pronunciation[], source = "cmudict"): TaggedExample[] {
  return pairs.map(({ word, phones }) => {
    const tokens: string[] = [];
    const tags: string[] = [];
    for (const phone of phones) {
      const m = /^([A-Z]+)([012]?)$/.exec(phone);
      if (m === null) throw new Error(`${source}:${word}: "${phone}" is not an ARPAbet phoneme (such as AH0, K, NG)`);
      const [, bare, digit] = m;
      const vowel = ARPABET_VOWELS.has(bare);
      if (vowel && digit === "") throw new Error(`${source}:${word}: the vowel "${bare}" has no stress digit; CMUdict writes vowels as ${bare}0, ${bare}1 or ${bare}2`);
      if (!vowel && digit !== "") throw new Error(`${source}:${word}: "${phone}" carries a stress digit but "${bare}" is not a vowel (${[...ARPABET_VOWELS].join(" ")})`);
      tokens.push(bare);
      tags.push(vowel ? digit : "-");
    }
    return { tokens, tags, where: `${source}:${word}` };
  });
}
