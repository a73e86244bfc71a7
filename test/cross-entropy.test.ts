import { describe, expect, it } from "vitest";
import { backendNames, getBackend } from "../src/backend/select.js";
import { softmaxCrossEntropy } from "../src/layers/softmax-cross-entropy.js";
import "../src/node/native-backend.js";

describe("softmax cross-entropy when every row is ignored", () => {
  it("the specification: loss 0 and a zero gradient (PyTorch: NaN), not NaN", () => {
    const logits = Float64Array.from([1, 2, 3, -1, 0, 4]);
    const dlogits = new Float64Array(6).fill(7);
    expect(softmaxCrossEntropy(logits, Int32Array.from([-100, -100]), 2, 3, dlogits)).toBe(0);
    expect(Array.from(dlogits)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(softmaxCrossEntropy(logits, Int32Array.from([5, 5]), 2, 3, null, 5)).toBe(0);
  });

  // the backends with a fused kernel (the others run the specification, checked above)
  for (const name of backendNames().filter((n) => getBackend(n).crossEntropy !== undefined)) {
    it(`${name}: the fused kernel agrees (float32)`, () => {
      const ce = getBackend(name).crossEntropy!;
      const logits = Float32Array.from([1, 2, 3, -1, 0, 4]);
      const dlogits = new Float32Array(6).fill(7);
      const loss = ce(logits, Int32Array.from([-100, -100]), 2, 3, dlogits, -100);
      expect(loss).toBe(0);
      expect(Array.from(dlogits)).toEqual([0, 0, 0, 0, 0, 0]);
    });
  }
});
