/**
 * The wasm backend reproduces the specification (STYLE.md principles 1 and 11), with the modules
 * this engine picks and, where those are the relaxed-SIMD ones, the plain SIMD128 module too
 * (test/wasm-relaxed.test.ts switches relaxed SIMD on where it is behind a flag and checks those):
 * - its float32 GEMM equals the reference loops for all transpose cases, ragged edges and K past
 *   one cache block;
 * - its fused whole-sequence recurrence writes what the cells' own step code writes — states,
 *   caches, dxp, every parameter gradient, dL/dh0, dL/dc0 — for every cell variant, both
 *   directions, odd sizes, within 1e-5 + 1e-4·|expected| (test/helpers/wasm-checks.ts);
 * - its fused softmax cross-entropy agrees with the specification within float32 rounding;
 * - training with it is deterministic;
 * - 2 threads (a worker on shared memory) give bit for bit the results of 1 thread;
 * - the committed module was built from the committed sources (npm run build:wasm).
 * (test/backend.test.ts runs the shared conformance suite on it too: it iterates over every
 * registered backend.)
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import type { Backend } from "../src/backend/backend.js";
import { backendNames, getBackend } from "../src/backend/select.js";
import { initWasmBackend, wasmBackend, wasmRelaxedSimd, wasmThreads, wasmUsable } from "../src/backend/wasm/index.js";
import { enableWasmThreads } from "../src/node/wasm-threads.js";
import { moduleBytes, relaxedSimdSupported, threadedModuleBytes, webAssemblyApi } from "../src/backend/wasm/kernels.js";
import { WASM_THREADS_MODULE_SIZES } from "../src/backend/wasm/module-threads.generated.js";
import { WASM_COMPILER, WASM_MODULE_SIZES, WASM_SOURCE_SHA256 } from "../src/backend/wasm/module.generated.js";
import { CELL_NAMES } from "../src/cells/index.js";
import { createTraining, type TrainOptions } from "../src/train/train.js";
import { checkCrossEntropy } from "./helpers/cross-entropy.js";
import { checkGemm, checkRecurrence, checkTwoThreads, wasmBackendOf } from "./helpers/wasm-checks.js";

const root = new URL("../", import.meta.url);

describe("wasm backend", () => {
  it("is registered between native and js, and chosen by default unless native is", () => {
    const names = backendNames();
    expect(names).toContain("wasm");
    expect(names.indexOf("wasm")).toBeLessThan(names.indexOf("js"));
    expect(wasmUsable()).toBe(true);
    if (!names.includes("native")) expect(getBackend().name).toBe("wasm");
  });

  it("initWasmBackend resolves to the same backend", async () => {
    expect(await initWasmBackend()).toBe(wasmBackend);
  });

  const variants: [string, Backend][] = [["the modules this engine picks", wasmBackend]];
  // where that is the relaxed-SIMD one, the plain SIMD128 module (engines without relaxed SIMD) too
  if (wasmRelaxedSimd()) variants.push(["the plain SIMD128 module", wasmBackendOf(moduleBytes(false))]);

  for (const [label, backend] of variants) {
    it(`float32 GEMM equals the reference loops (all transposes, ragged edges, K > one block): ${label}`, () => {
      checkGemm(backend);
    });
  }

  it("fused softmax cross-entropy equals the specification (loss and dL/dlogits), ignored rows, odd V, both modules", () => {
    for (const [label, backend] of variants) checkCrossEntropy(backend.crossEntropy!, label);
  });

  // The -hard cells are declined (supports() false: their gates are not the kernels' sigmoid); test/backend.test.ts checks that.
  for (const name of CELL_NAMES.filter((n) => !n.endsWith("-hard"))) {
    for (const reverse of [false, true]) {
      it(`${name}${reverse ? ", reverse" : ""}: the fused recurrence equals the cell's step code`, () => {
        for (const [, backend] of variants) checkRecurrence(backend, name, reverse);
      });
    }
  }

  it("training with it is deterministic", async () => {
    const base: TrainOptions = {
      text: "It is not down in any map; true places never are. ".repeat(6),
      cell: "lstm", layers: 2, hidden: 14, embed: 5, seqLen: 8, batch: 3, lr: 5e-3, seed: 3, backend: "wasm", maxSteps: 6,
    };
    const weights = async () => {
      const t = createTraining(base);
      for await (const e of t.run()) void e;
      return Array.from(t.model.params.data);
    };
    const a = await weights();
    expect(await weights()).toEqual(a);
  });

  // Last: it switches this process's wasm backend to 2 threads.
  it("2 threads give bit for bit the results of 1 thread (GEMM, optimizers, cross-entropy, fused forward and backward)", async () => {
    await checkTwoThreads(wasmBackend, enableWasmThreads, wasmThreads);
  });

  it("the packed modules unpack to the recorded sizes, each a valid module, the relaxed one only where the engine has relaxed SIMD", async () => {
    const api = webAssemblyApi()!;
    const [plain, relaxed] = [moduleBytes(false), moduleBytes(true)];
    expect([plain.length, relaxed.length]).toEqual([...WASM_MODULE_SIZES]);
    expect(api.validate(plain)).toBe(true);
    expect(api.validate(relaxed)).toBe(relaxedSimdSupported());
    expect(Buffer.from(plain).equals(Buffer.from(relaxed))).toBe(false);
    const threaded = await Promise.all([threadedModuleBytes(false), threadedModuleBytes(true)]);
    expect(threaded.map((m) => m.length)).toEqual([...WASM_THREADS_MODULE_SIZES]);
    expect(api.validate(threaded[0])).toBe(true);
  });

  it("the committed module is a build of the committed sources (else: npm run build:wasm)", async () => {
    const h = createHash("sha256");
    const assembly = new URL("assembly/", root);
    const files = ["asconfig.json", ...readdirSync(assembly).filter((f) => f.endsWith(".ts")).sort().map((f) => `assembly/${f}`)];
    for (const f of files) {
      h.update(`${f}\n`);
      h.update(readFileSync(new URL(f, root), "utf8").replace(/\r\n/g, "\n"));
      h.update("\n");
    }
    expect(WASM_SOURCE_SHA256, "run `npm run build:wasm` after editing assembly/").toBe(h.digest("hex"));
    const version = createRequire(import.meta.url)("assemblyscript/package.json").version as string;
    expect(WASM_COMPILER).toBe(`assemblyscript ${version}`);
    expect(() => new (webAssemblyApi()!.Module)(moduleBytes())).not.toThrow();
  });
});
