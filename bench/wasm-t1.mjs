// Training throughput of the wasm backend on the reference configurations (default T1: char LSTM
// 2×256, batch 32, seq 64, Adam), on 1 thread or, with `--threads 2`, with its worker.
// `unroll bench --backend wasm [--threads 2]` runs the same measurement. Not part of the tests.
//
// `--pairs N` measures 1 against 2 threads in one process, N rounds alternating between a
// single-threaded instance of the module and the threaded one, and prints the median of the
// rounds' ratios: this VM's speed drifts by tens of percent within minutes, which two separate
// runs would read as a change in the ratio.
//
//   npx tsc -p tsconfig.json && flock /tmp/bench.lock node bench/wasm-t1.mjs [--config T1,T3] [--threads 2 | --pairs 5] [--no-relaxed]
import { getBackend } from "../dist/backend/select.js";
import { createWasmBackend } from "../dist/backend/wasm/backend.js";
import { Kernels, moduleBytes } from "../dist/backend/wasm/kernels.js";
import { BENCH_CONFIGS, benchUnroll } from "../dist/node/bench.js";
import { enableWasmThreads } from "../dist/node/wasm-threads.js";
import { enableRelaxedSimd } from "../dist/node/relaxed-simd.js";
import { wasmRelaxedSimd } from "../dist/backend/wasm/index.js";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const pairs = Number(arg("--pairs", "0"));
const threads = pairs > 0 ? 2 : Number(arg("--threads", "1"));
// as the unroll CLI does; --no-relaxed measures the plain SIMD128 modules
if (!process.argv.includes("--no-relaxed")) enableRelaxedSimd();
const configs = arg("--config", "T1").split(",").map((n) => BENCH_CONFIGS.find((c) => c.name === n.trim().toUpperCase()));
const relaxed = wasmRelaxedSimd();
// the single-threaded module of the same kind, on an instance of its own (the backend below switches to the threaded one)
let own = null;
const single = createWasmBackend(() => (own ??= new Kernels(new WebAssembly.Module(moduleBytes(relaxed)))));
if (threads === 2) await enableWasmThreads();
const backend = getBackend("wasm");
const timing = { warmup: 2, minSteps: Number(arg("--min-steps", "5")), minTime: Number(arg("--min-time", pairs > 0 ? "2" : "5")), maxTime: 60 };
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const label = `wasm${relaxed ? " (relaxed SIMD)" : ""}`;
for (const c of configs) {
  if (pairs === 0) {
    const r = benchUnroll(backend, c, timing);
    console.log(`${c.name} ${label} ${threads}T: ${r.tokensPerSec.toFixed(0)} chars/s, ${r.gflops.toFixed(1)} GFLOP/s, step ${r.stepMedianMs.toFixed(1)} ms`);
    continue;
  }
  const ratios = [];
  for (let i = 0; i < pairs; i++) {
    const one = benchUnroll(single, c, timing);
    const two = benchUnroll(backend, c, timing);
    ratios.push(two.tokensPerSec / one.tokensPerSec);
    console.log(`${c.name} ${label} round ${i + 1}: 1T ${one.tokensPerSec.toFixed(0)}, 2T ${two.tokensPerSec.toFixed(0)} chars/s (step ${one.stepMedianMs.toFixed(1)} → ${two.stepMedianMs.toFixed(1)} ms): ${ratios.at(-1).toFixed(2)}×`);
  }
  console.log(`${c.name} ${label}: 2 threads ${median(ratios).toFixed(2)}× 1 thread, median of ${pairs} alternating rounds (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`);
}
