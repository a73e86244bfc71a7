// GEMM throughput of the native backend (each kernel this CPU runs) against the js backend, at
// the shapes of one LSTM layer (H = 128, 4H = 512). Not part of the tests.
//
//   npx tsc -p tsconfig.json && npm run build:native && flock /tmp/bench.lock node bench/gemm.mjs
//
// Each figure is the median of 7 batches of about 50 ms; C += op(A)·op(B) (accumulate), operands
// hot in cache, default (16-byte-aligned) Float32Arrays. Time is this process's CPU time
// (process.cpuUsage), which other jobs on a shared 2-core machine disturb less than wall time;
// `--wall` measures wall time instead.
import { jsBackend } from "../dist/backend/js/index.js";
import { nativeAddon, nativeUnavailableReason } from "../dist/node/native-backend.js";

const SHAPES = [
  // name, transA, transB, M, N, K
  ["rec     32x128 · (512x128)ᵀ   NT", false, true, 32, 512, 128],
  ["inproj  2048x128 · (512x128)ᵀ NT", false, true, 2048, 512, 128],
  ["dW      (2048x512)ᵀ · 2048x128 TN", true, false, 512, 128, 2048],
  ["dX      2048x512 · 512x128    NN", false, false, 2048, 128, 512],
  ["rec     32x256 · (1024x256)ᵀ  NT", false, true, 32, 1024, 256],
  ["matvec  1x512 · (2048x512)ᵀ   NT", false, true, 1, 2048, 512],
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

const wall = process.argv.includes("--wall");
/** Milliseconds: wall clock, or user + system CPU time of this process. */
function clock() {
  if (wall) return performance.now();
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function gflops(gemm, [, tA, tB, M, N, K]) {
  const A = rand(M * K, 1), B = rand(K * N, 2), C = rand(M * N, 3);
  const run = () => gemm(tA, tB, M, N, K, A, B, C, true);
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
  times.sort((a, b) => a - b);
  const ms = times[3];
  return { gf: (2 * M * N * K) / (ms * 1e6), us: ms * 1e3 };
}

const columns = [];
if (nativeAddon) {
  const best = nativeAddon.isa();
  for (const isa of ["avx512", "avx2", "portable"]) {
    if (nativeAddon.setIsa(isa)) columns.push([`native ${isa}`, (...a) => { nativeAddon.setIsa(isa); nativeAddon.gemm(...a); }]);
  }
  nativeAddon.setIsa(best);
  console.log(`native: ${best} by default`);
} else console.log(`native: unavailable (${nativeUnavailableReason})`);
columns.push(["js", jsBackend.gemm]);

console.log(`| shape | ${columns.map(([n]) => `${n} GFLOP/s (µs)`).join(" | ")} |`);
console.log(`|---|${columns.map(() => "---:").join("|")}|`);
for (const shape of SHAPES) {
  const cells = columns.map(([, g]) => {
    const { gf, us } = gflops(g, shape);
    return `${gf.toFixed(1)} (${us < 100 ? us.toFixed(1) : us.toFixed(0)})`;
  });
  console.log(`| ${shape[0]} | ${cells.join(" | ")} |`);
}
