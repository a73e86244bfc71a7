/**
 * Labelled text for sequence classification (many-to-one): examples, their label set, and the
 * check that every label a model is asked to score was seen in training.
 */

/** One example: a text, its label, and where it came from ("file:line") for error messages. */
export interface LabelledExample {
  readonly text: string;
  readonly label: string;
  readonly where: string;
}

/** The labels of `examples`, sorted (code-point order), each once: class id i is labels[i]. */
export function labelSet(examples: readonly LabelledExample[]): string[] {
  return [...new Set(examples.map((e) => e.label))].sort();
}

/**
 * Class ids of `examples` against the training labels; a label never seen in training is an
 * error naming where it is (a model cannot learn a class it never saw).
 */
export function classIds(examples: readonly LabelledExample[], labels: readonly string[], part: string): Int32Array {
  const index = new Map(labels.map((l, i) => [l, i]));
  const ids = new Int32Array(examples.length);
  examples.forEach((e, i) => {
    const id = index.get(e.label);
    if (id === undefined) {
      throw new Error(`${e.where}: label "${e.label}" appears in the ${part} split but never in training (labels: ${labels.join(", ")}); add training examples of it or drop it`);
    }
    ids[i] = id;
  });
  return ids;
}
