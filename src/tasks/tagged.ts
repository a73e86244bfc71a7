/**
 * Tagged sequences for sequence tagging (many-to-many, one output per input step): a sentence
 * of T tokens and T tags, tag t belonging to token t. Browser-safe: plain data, no Node APIs.
 */

/** One example: tokens[t] is tagged tags[t] (equal lengths, T ≥ 1), and where it came from. */
export interface TaggedExample {
  readonly tokens: readonly string[];
  readonly tags: readonly string[];
  /** "file:line" of a file's example (the line it starts on), or "corpus:key" of a built-in one */
  readonly where: string;
}
