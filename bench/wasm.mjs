// GEMM throughput of the wasm backend at the shapes of anchors/limits/NOTES.md (one LSTM layer,
// C += op(A)·op(B)), two ways: the backend's `gemm` (copies A, B, C into linear memory and C back
// out on every call) and the kernel alone on operands already in linear memory (what the fused
// recurrence runs each step). Not part of the tests.
//
//   npx tsc -p tsconfig.json && flock /tmp/bench.lock node bench/wasm.mjs [--threads 2]
//
// With --threads 2 a last column times the backend's `gemm` again after `enableWasmThreads()`, in
// wall-clock time (CPU time would add up both threads); compare it with a quiet machine only.
//
// Each figure is the median of 7 batches of about 50 ms of this process's CPU time.
import { getBackend } from "../dist/backend/select.js";
import { Kernels, moduleBytes } from "../dist/backend/wasm/kernels.js";
import { enableWasmThreads } from "../dist/node/wasm-threads.js";

const SHAPES = [
  // name, transA, transB, M, N, K   (as in anchors/limits: rec = h·W_hhᵀ, dW uses Aᵀ)
  ["rec16   16x128·128x512", false, false, 16, 512, 128],
  ["rec32   32x256·256x1024", false, false, 32, 1024, 256],
  ["rec64   64x512·512x2048", false, false, 64, 2048, 512],
  ["inproj  2048x256·256x1024", false, false, 2048, 1024, 256],
  ["dW (Aᵀ) 1024x2048·2048x256", true, false, 1024, 256, 2048],
  ["matvec  1x512·512x2048", false, false, 1, 2048, 512],
];

function rand(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

function clock() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function median(run, clk = clock) {
  const clock = clk;
  run();
  let reps = 1;
  for (;;) {
    const t0 = clock();
    for (let r = 0; r < reps; r++) run();
    if (clock() - t0 > 50) break;
    reps *= 2;
  }
  const times = [];
  for (let b = 0; b < 7; b++) {
    const t0 = clock();
    for (let r = 0; r < reps; r++) run();
    times.push((clock() - t0) / reps);
  }
  return times.sort((a, b) => a - b)[3];
}

const wasm = getBackend("wasm");
const kern = new Kernels(new WebAssembly.Module(moduleBytes()));
const js = getBackend("js");

const two = process.argv.includes("--threads") && process.argv[process.argv.indexOf("--threads") + 1] === "2";
console.log(`| shape | wasm gemm with copies GFLOP/s (µs) | wasm kernel in memory GFLOP/s (µs) | js GFLOP/s |${two ? " wasm gemm, 2 threads GFLOP/s (µs) |" : ""}`);
console.log(`|---|---:|---:|---:|${two ? "---:|" : ""}`);
const rows = [];
for (const [name, tA, tB, M, N, K] of SHAPES) {
  const A = rand(M * K, 1), B = rand(K * N, 2), C = rand(M * N, 3);
  const flop = 2 * M * N * K;
  const t1 = median(() => wasm.gemm(tA, tB, M, N, K, A, B, C, true));
  // kernel alone: pack both operands (as sgemm does) on data already in linear memory
  const k = kern.k;
  kern.reset();
  const a = kern.alloc(M * K), b = kern.alloc(K * N), c = kern.alloc(M * N);
  const ap = kern.alloc(k.packedASize(M, K)), bp = kern.alloc(k.packedBSize(K, N));
  kern.ready();
  kern.put(a, A); kern.put(b, B); kern.put(c, C);
  const t2 = median(() => k.sgemm(+tA, +tB, M, N, K, a, b, c, 1, ap, bp));
  const t3 = M * N * K > 1e8 ? NaN : median(() => js.gemm(tA, tB, M, N, K, A, B, C, true));
  const f = (ms) => `${(flop / (ms * 1e6)).toFixed(1)} (${(ms * 1e3).toFixed(0)})`;
  rows.push([`| ${name} | ${f(t1)} | ${f(t2)} | ${Number.isNaN(t3) ? "–" : (flop / (t3 * 1e6)).toFixed(1)} |`, () => {
    const t4 = median(() => wasm.gemm(tA, tB, M, N, K, A, B, C, true), () => performance.now()); // wall: CPU time would count both threads
    return ` ${f(t4)} |`;
  }]);
}
if (two) await enableWasmThreads();
for (const [row, more] of rows) console.log(row + (two ? more() : ""));
