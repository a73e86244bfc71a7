import { describe, expect, it } from "vitest";
import { backendNames, getBackend } from "../src/backend/select.js";
import { gemm } from "../src/backend/js/gemm.js";
import { runReference } from "../src/conformance/reference.js";
import { Rng } from "../src/tensor/random.js";
import { loadReference, referenceFiles } from "./helpers/fixtures.js";
import "../src/node/native-backend.js"; // registers "native" when the addon is built, so it runs this suite too

describe("backends", () => {
  it("selects the fastest registered backend by default and rejects unknown names", () => {
    expect(getBackend().name).toBe(backendNames()[0]);
    expect(() => getBackend("cuda")).toThrow(/unknown backend "cuda"; available: /);
  });

  for (const name of backendNames()) {
    const backend = getBackend(name);
    it(`${name}: GEMM equals the reference loops for all transpose cases and edge sizes`, () => {
      const rng = Rng.seeded(3);
      for (const [M, N, K] of [[1, 1, 1], [5, 7, 3], [8, 12, 16], [13, 4, 9], [4, 83, 33]]) {
        for (const tA of [false, true]) {
          for (const tB of [false, true]) {
            const A = Float64Array.from({ length: M * K }, () => rng.range(-1, 1));
            const B = Float64Array.from({ length: K * N }, () => rng.range(-1, 1));
            const C0 = Float64Array.from({ length: M * N }, () => rng.range(-1, 1));
            for (const acc of [false, true]) {
              const want = C0.slice();
              const got = C0.slice();
              gemm(tA, tB, M, N, K, A, B, want, acc);
              backend.gemm(tA, tB, M, N, K, A, B, got, acc);
              for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-12);
            }
          }
        }
      }
    });
    for (const dtype of ["float64", "float32"] as const) {
      it(`${name}: passes every reference vector file in ${dtype}`, () => {
        for (const file of referenceFiles()) {
          const report = runReference(loadReference(file), dtype, backend);
          expect(report.pass, `${file}: ${report.worst.name}`).toBe(true);
        }
      });
    }
  }
});
