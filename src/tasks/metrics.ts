/**
 * Scores of the task shapes. Classification: accuracy, per-class precision/recall/F1, their macro
 * average and the confusion matrix (as scikit-learn's `classification_report` with
 * `zero_division=0`: a class never predicted has precision 0, a class with no examples recall 0).
 * Sequence output (seq2seq): the token error rate Σ edit distance / Σ reference length — the
 * phoneme error rate (PER) of grapheme-to-phoneme — and the sequence error rate, the share of
 * outputs not exactly right — the word error rate (WER) of grapheme-to-phoneme.
 */

/** A classification report over K classes. */
export interface ClassReport {
  readonly accuracy: number;
  /**
   * Mean F1 over the classes that occur among the gold or predicted ids (scikit-learn's macro
   * average over the labels present); a class absent from both is left out rather than counted as 0.
   */
  readonly macroF1: number;
  readonly perClass: readonly { readonly label: string; readonly precision: number; readonly recall: number; readonly f1: number; readonly support: number }[];
  /** confusion[gold][predicted] */
  readonly confusion: readonly (readonly number[])[];
  readonly count: number;
}

function checkIds(ids: ArrayLike<number>, K: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    if (!Number.isInteger(ids[i]) || ids[i] < 0 || ids[i] >= K) throw new Error(`${what}[${i}] = ${ids[i]} is not a class id in 0…${K - 1}`);
  }
}

/**
 * The report of predictions `pred` against `gold` (integer class ids into `labels`). As scikit-learn
 * with `zero_division=0`: precision of a class never predicted is 0, recall of a class with no
 * support is 0, and F1 is 0 where precision + recall is 0. Throws on unequal lengths, no examples,
 * no labels, or an id that is not an integer in 0…K−1.
 */
export function classReport(gold: ArrayLike<number>, pred: ArrayLike<number>, labels: readonly string[]): ClassReport {
  const K = labels.length;
  if (K === 0) throw new Error("classReport: no labels");
  if (gold.length !== pred.length) throw new Error(`classReport: ${gold.length} gold ids but ${pred.length} predictions`);
  if (gold.length === 0) throw new Error("classReport: nothing to score (no examples)");
  checkIds(gold, K, "gold");
  checkIds(pred, K, "pred");
  const confusion = labels.map(() => new Array<number>(K).fill(0));
  let right = 0;
  for (let i = 0; i < gold.length; i++) {
    confusion[gold[i]][pred[i]]++;
    if (gold[i] === pred[i]) right++;
  }
  const perClass = labels.map((label, k) => {
    const tp = confusion[k][k];
    const support = confusion[k].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[k], 0);
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support, predicted };
  });
  const present = perClass.filter((c) => c.support > 0 || c.predicted > 0);
  return {
    accuracy: right / gold.length,
    macroF1: present.reduce((a, c) => a + c.f1, 0) / present.length,
    perClass: perClass.map(({ label, precision, recall, f1, support }) => ({ label, precision, recall, f1, support })),
    confusion,
    count: gold.length,
  };
}

/**
 * The report on `testGold` of always predicting the most frequent class of `trainGold` (the majority
 * baseline; ties: the lower id). Throws on an empty `trainGold` and as `classReport` does.
 */
export function majorityBaseline(trainGold: ArrayLike<number>, testGold: ArrayLike<number>, labels: readonly string[]): ClassReport {
  if (trainGold.length === 0) throw new Error("majorityBaseline: no training examples to take the majority class from");
  checkIds(trainGold, labels.length, "trainGold");
  const counts = new Array<number>(labels.length).fill(0);
  for (let i = 0; i < trainGold.length; i++) counts[trainGold[i]]++;
  const majority = counts.indexOf(Math.max(...counts));
  return classReport(testGold, new Int32Array(testGold.length).fill(majority), labels);
}

/** The confusion matrix as aligned text: a row per gold label, a column per predicted label. */
export function formatConfusion(r: ClassReport): string {
  const labels = r.perClass.map((c) => c.label);
  const first = Math.max("gold \\ predicted".length, ...labels.map((l) => l.length));
  const width = Math.max(...labels.map((l) => l.length), ...r.confusion.flat().map((n) => String(n).length));
  const row = (head: string, cells: readonly string[]) => [head.padEnd(first), ...cells.map((c) => c.padStart(width))].join("  ");
  return [row("gold \\ predicted", labels), ...r.confusion.map((cells, k) => row(labels[k], cells.map(String)))].join("\n");
}

/** Levenshtein distance between two token sequences (insertions, deletions, substitutions cost 1). */
export function editDistance<T>(a: readonly T[], b: readonly T[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/**
 * Token error rate Σ edit distance / Σ reference length (the phoneme error rate) and sequence error
 * rate, the fraction of `hyps` not exactly equal to their reference (the word error rate of
 * grapheme-to-phoneme). Throws on unequal counts, no references, or all references empty.
 */
export function errorRates(refs: readonly (readonly string[])[], hyps: readonly (readonly string[])[]): { readonly tokenErrorRate: number; readonly sequenceErrorRate: number; readonly count: number } {
  if (refs.length !== hyps.length) throw new Error(`errorRates: ${refs.length} references but ${hyps.length} outputs`);
  if (refs.length === 0) throw new Error("errorRates: nothing to score (no references)");
  let edits = 0;
  let length = 0;
  let wrong = 0;
  for (let i = 0; i < refs.length; i++) {
    const d = editDistance(refs[i], hyps[i]);
    edits += d;
    length += refs[i].length;
    if (d > 0) wrong++;
  }
  if (length === 0) throw new Error("errorRates: every reference is empty");
  return { tokenErrorRate: edits / length, sequenceErrorRate: wrong / refs.length, count: refs.length };
}
