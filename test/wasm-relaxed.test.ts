/**
 * The wasm modules built with relaxed SIMD (a fused multiply-add in the GEMM kernel), which the
 * backend picks wherever the engine has relaxed SIMD: on Node 20 this file switches it on first
 * (`enableRelaxedSimd`, as the CLI does). The same checks as test/wasm.test.ts — GEMM against the
 * reference loops, every fused recurrence against the cells' step code, 2 threads against 1 bit for
 * bit — and a short training run that repeats bit for bit and stays within float32 rounding of the
 * plain SIMD128 module's.
 */
import { describe, expect, it } from "vitest";
import type { Backend } from "../src/backend/backend.js";
import { enableRelaxedSimd } from "../src/node/relaxed-simd.js";
import { wasmBackend, wasmRelaxedSimd, wasmThreads } from "../src/backend/wasm/index.js";
import { enableWasmThreads } from "../src/node/wasm-threads.js";
import { moduleBytes } from "../src/backend/wasm/kernels.js";
import { CELL_NAMES } from "../src/cells/index.js";
import { createTraining, type TrainOptions } from "../src/train/train.js";
import { checkGemm, checkRecurrence, checkTwoThreads, wasmBackendOf } from "./helpers/wasm-checks.js";

const relaxed = enableRelaxedSimd();

describe.skipIf(!relaxed)("wasm backend, relaxed-SIMD modules", () => {
  it("is what the backend picks where the engine has relaxed SIMD", () => {
    expect(wasmRelaxedSimd()).toBe(true);
  });

  it("float32 GEMM equals the reference loops (all transposes, ragged edges, K > one block)", () => {
    checkGemm(wasmBackend);
  });

  // The -hard cells are declined (supports() false: their gates are not the kernels' sigmoid); test/backend.test.ts checks that.
  for (const name of CELL_NAMES.filter((n) => !n.endsWith("-hard"))) {
    for (const reverse of [false, true]) {
      it(`${name}${reverse ? ", reverse" : ""}: the fused recurrence equals the cell's step code`, () => {
        checkRecurrence(wasmBackend, name, reverse);
      });
    }
  }

  it("a short training run repeats bit for bit, and stays within rounding of the plain module's", async () => {
    const base: TrainOptions = {
      text: "It is not down in any map; true places never are. ".repeat(6),
      cell: "lstm", layers: 2, hidden: 14, embed: 5, seqLen: 8, batch: 3, lr: 5e-3, seed: 3, maxSteps: 6,
    };
    const [relaxedModule, plainModule] = [wasmBackendOf(moduleBytes(true)), wasmBackendOf(moduleBytes(false))];
    const weights = async (backend: Backend) => {
      const t = createTraining({ ...base, backend });
      for await (const e of t.run()) void e;
      return Float32Array.from(t.model.params.data);
    };
    const a = await weights(relaxedModule);
    expect(await weights(relaxedModule)).toEqual(a);
    const plain = await weights(plainModule);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - plain[i]) / (1e-6 + 1e-3 * Math.abs(plain[i])));
    expect(worst).toBeLessThanOrEqual(1);
  });

  // Last: it switches this process's wasm backend to 2 threads (the threaded relaxed module).
  it("2 threads give bit for bit the results of 1 thread (GEMM, optimizers, cross-entropy, fused forward and backward)", async () => {
    await checkTwoThreads(wasmBackend, enableWasmThreads, wasmThreads);
  });
});
