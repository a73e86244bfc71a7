/**
 * Seeded splits of labelled examples into training, validation and test sets. The stratified
 * split keeps every class's share the same in each part (as scikit-learn's
 * `train_test_split(..., stratify=y)`): each class's examples are shuffled with the run's
 * generator and cut at the same fractions, so a class of n examples puts round(n·test) of them in
 * the test set and round(n·val) in validation. The order within each part is the original order.
 */
import type { Rng } from "../tensor/random.js";

/** Indices of the three parts, each in ascending order. */
export interface Split {
  readonly train: readonly number[];
  readonly val: readonly number[];
  readonly test: readonly number[];
}

function checkFractions(valFrac: number, testFrac: number): void {
  if (!(valFrac >= 0 && testFrac >= 0 && valFrac + testFrac < 1)) {
    throw new Error(`validation and test fractions must be ≥ 0 with a sum below 1, got ${valFrac} and ${testFrac}`);
  }
}

/** Fisher–Yates shuffle of `xs` in place with `rng`. */
function shuffle(xs: number[], rng: Rng): number[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/**
 * A stratified split of examples whose classes are `classes[i]`: for each class (in order of
 * first appearance), its indices shuffled, the first round(n·testFrac) to test, the next
 * round(n·valFrac) to validation, the rest to training.
 */
export function stratifiedSplit(classes: ArrayLike<number | string>, valFrac: number, testFrac: number, rng: Rng): Split {
  checkFractions(valFrac, testFrac);
  const byClass = new Map<number | string, number[]>();
  for (let i = 0; i < classes.length; i++) {
    const list = byClass.get(classes[i]);
    if (list) list.push(i);
    else byClass.set(classes[i], [i]);
  }
  const train: number[] = [];
  const val: number[] = [];
  const test: number[] = [];
  for (const members of byClass.values()) {
    const order = shuffle(members.slice(), rng);
    const nTest = Math.round(order.length * testFrac);
    const nVal = Math.round(order.length * valFrac);
    test.push(...order.slice(0, nTest));
    val.push(...order.slice(nTest, nTest + nVal));
    train.push(...order.slice(nTest + nVal));
  }
  const up = (a: number, b: number) => a - b;
  return { train: train.sort(up), val: val.sort(up), test: test.sort(up) };
}

/** A plain seeded split of n examples: shuffled, then cut at the fractions (round(n·f) each). */
export function randomSplit(n: number, valFrac: number, testFrac: number, rng: Rng): Split {
  checkFractions(valFrac, testFrac);
  const order = shuffle(Array.from({ length: n }, (_, i) => i), rng);
  const nTest = Math.round(n * testFrac);
  const nVal = Math.round(n * valFrac);
  const up = (a: number, b: number) => a - b;
  return {
    test: order.slice(0, nTest).sort(up),
    val: order.slice(nTest, nTest + nVal).sort(up),
    train: order.slice(nTest + nVal).sort(up),
  };
}
