/**
 * A backend's fused softmax cross-entropy (`Backend.crossEntropy`) against the specification
 * (src/layers/softmax-cross-entropy.ts): loss within 1e-5 relative, dL/dlogits within 1e-5 relative
 * (+1e-7), ignored rows, odd V, the loss without dlogits the same, an out-of-range target refused
 * by name and float64 declined. Shared by the native and wasm tests.
 */
import { expect } from "vitest";
import type { Backend } from "../../src/backend/backend.js";
import { softmaxCrossEntropy } from "../../src/layers/softmax-cross-entropy.js";
import { Rng } from "../../src/tensor/random.js";

export function checkCrossEntropy(ce: NonNullable<Backend["crossEntropy"]>, label: string): void {
  const rng = Rng.seeded(9);
  for (const [N, V] of [[1, 1], [5, 7], [6, 8], [33, 96], [130, 5], [9, 1003]]) {
    const logits = Float32Array.from({ length: N * V }, () => rng.range(-30, 30));
    const targets = Int32Array.from({ length: N }, (_, n) => (n % 4 === 3 ? -100 : rng.int(V)));
    const want = new Float32Array(N * V);
    const got = new Float32Array(N * V).fill(7);
    const lw = softmaxCrossEntropy(logits, targets, N, V, want, -100);
    const lg = ce(logits, targets, N, V, got, -100)!;
    expect(Math.abs(lg - lw), `${label}: loss, N ${N}, V ${V}`).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(lw));
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${label}: dlogits[${i}], N ${N}, V ${V}`).toBeLessThanOrEqual(1e-7 + 1e-5 * Math.abs(want[i]));
    expect(ce(logits, targets, N, V, null, -100)).toBeCloseTo(lg, 6);
  }
  expect(() => ce(new Float32Array(4), Int32Array.of(0, 2), 2, 2, null, -100)).toThrow(/target 2 at row 1 is out of range: there are 2 classes/);
  expect(ce(new Float64Array(4), Int32Array.of(0, 1), 2, 2, null, -100)).toBeNull();
  expect(ce(new Float32Array(4), Int32Array.of(0, 1), 2, 2, new Float64Array(4), -100)).toBeNull();
}
