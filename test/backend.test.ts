import { describe, expect, it } from "vitest";
import { backendNames, getBackend } from "../src/backend/select.js";
import { gemm } from "../src/backend/js/gemm.js";
import { referenceBackend } from "../src/backend/js/index.js";
import { CELL_NAMES, cellName, parseCell } from "../src/cells/cell.js";
import { runReference } from "../src/conformance/reference.js";
import { bindRecurrent, recurrentBackward, recurrentForward, recurrentSpecs, type RecurrentConfig } from "../src/sequence/recurrent.js";
import { createArena, mirrorArena } from "../src/tensor/arena.js";
import { allocate, type DType } from "../src/tensor/dtype.js";
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

describe("backends: hard-sigmoid gates (the -hard cells, Keras / TF.js imports)", () => {
  // The wasm and native fused kernels compute the logistic sigmoid: they must decline these cells,
  // so that `unroll` runs the cells' own step code (the reference's) on every backend.
  const HARD = ["lstm-hard", "lstm-peephole-coupled-hard", "lstm-coupled-hard", "gru-hard", "gru-cho-hard"];
  /** Forward and backward of a 2-layer bidirectional stack: every output and gradient, concatenated. */
  function run(backendName: string, name: string, dtype: DType): Float64Array {
    const backend = backendName === "reference" ? referenceBackend : getBackend(backendName);
    const [T, B, I, H] = [5, 3, 4, 6];
    const config: RecurrentConfig = { cell: parseCell(name), inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, dropout: 0 };
    const params = createArena(dtype, recurrentSpecs(config));
    const rng = Rng.seeded(17);
    for (let i = 0; i < params.data.length; i++) params.data[i] = rng.range(-1.5, 1.5); // large enough that gates clip
    const grads = mirrorArena(params);
    const r = bindRecurrent(config, params);
    const g = bindRecurrent(config, grads);
    const fill = (n: number, scale = 1) => {
      const a = allocate(dtype, n);
      for (let i = 0; i < n; i++) a[i] = rng.range(-scale, scale);
      return a;
    };
    const S = 2 * 2 * B * H;
    const x = fill(T * B * I, 2);
    const h0 = fill(S);
    const c0 = r.cell.hasC ? fill(S) : null;
    const pass = recurrentForward(backend, r, dtype, x, T, B, h0, c0);
    const { dx, dh0, dc0 } = recurrentBackward(backend, r, g, dtype, pass, fill(T * B * 2 * H), fill(S), r.cell.hasC ? fill(S) : null);
    return Float64Array.from([...pass.y, ...pass.hN, ...pass.cN, ...dx, ...dh0, ...(dc0 ?? []), ...grads.data]);
  }

  it("are named with a -hard suffix: parseCell and cellName round-trip every name; gate \"sigmoid\" is the plain cell", () => {
    for (const name of CELL_NAMES) expect(cellName(parseCell(name))).toBe(name === "rnn-tanh" ? "rnn" : name); // rnn-tanh is an alias
    expect(parseCell("gru-cho-hard")).toStrictEqual({ kind: "gru", resetAfter: false, gate: "hard-sigmoid" });
    expect(parseCell("lstm-peephole-coupled-hard")).toStrictEqual({ kind: "lstm", peephole: true, coupled: true, gate: "hard-sigmoid" });
    expect(cellName({ kind: "lstm", peephole: false, coupled: false, gate: "sigmoid" })).toBe("lstm");
    expect(() => parseCell("rnn-hard")).toThrow(/unknown cell "rnn-hard"/);
    expect(() => parseCell("lstm-hard-hard")).toThrow(/unknown cell "lstm-hard-hard"/);
  });

  for (const backendName of backendNames()) {
    const backend = getBackend(backendName);
    it(`${backendName}: fused recurrence declines them (and still takes the sigmoid cells it took)`, () => {
      for (const name of HARD) {
        expect(backend.recurrence?.supports(parseCell(name), "float32") ?? false).toBe(false);
        expect(backend.recurrence?.supports(parseCell(name), "float64") ?? false).toBe(false);
        const sigmoid = parseCell(name.replace(/-hard$/, ""));
        expect(backend.recurrence?.supports(sigmoid, "float32") ?? false).toBe(backend.recurrence !== undefined);
      }
    });
    for (const dtype of ["float64", "float32"] as const) {
      it(`${backendName}: forward and backward equal the reference backend's, ${dtype}`, () => {
        for (const name of HARD) {
          const want = run("reference", name, dtype);
          const got = run(backendName, name, dtype);
          const sigmoid = run("reference", name.replace(/-hard$/, ""), dtype);
          let worst = 0;
          let apart = 0;
          for (let i = 0; i < want.length; i++) {
            worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
            apart = Math.max(apart, Math.abs(sigmoid[i] - want[i]));
          }
          expect(worst, name).toBeLessThan(dtype === "float64" ? 1e-12 : 1e-5);
          expect(apart, `${name} differs from its sigmoid cell`).toBeGreaterThan(1e-2);
        }
      });
    }
  }
});
