// Training throughput of the wasm backend on the reference configurations (default T1: char LSTM
// 2×256, batch 32, seq 64, Adam), on 1 thread or, with `--threads 2`, with its worker.
// `unroll bench --backend wasm` runs the same measurement on 1 thread. Not part of the tests.
//
//   npx tsc -p tsconfig.json && flock /tmp/bench.lock node bench/wasm-t1.mjs [--config T1,T3] [--threads 2] [--no-relaxed]
import { getBackend } from "../dist/backend/select.js";
import { BENCH_CONFIGS, benchUnroll } from "../dist/node/bench.js";
import { enableWasmThreads } from "../dist/node/wasm-threads.js";
import { enableRelaxedSimd } from "../dist/node/relaxed-simd.js";
import { wasmRelaxedSimd } from "../dist/backend/wasm/index.js";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const threads = Number(arg("--threads", "1"));
// as the unroll CLI does; --no-relaxed measures the plain SIMD128 modules
if (!process.argv.includes("--no-relaxed")) enableRelaxedSimd();
const configs = arg("--config", "T1").split(",").map((n) => BENCH_CONFIGS.find((c) => c.name === n.trim().toUpperCase()));
if (threads === 2) await enableWasmThreads();
const backend = getBackend("wasm");
const timing = { warmup: 2, minSteps: Number(arg("--min-steps", "5")), minTime: Number(arg("--min-time", "5")), maxTime: 60 };
for (const c of configs) {
  const r = benchUnroll(backend, c, timing);
  console.log(`${c.name} wasm${wasmRelaxedSimd() ? " (relaxed SIMD)" : ""} ${threads}T: ${r.tokensPerSec.toFixed(0)} chars/s, ${r.gflops.toFixed(1)} GFLOP/s, step ${r.stepMedianMs.toFixed(1)} ms`);
}
