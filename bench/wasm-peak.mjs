// Ceilings of wasm SIMD128 on this machine, 1 thread, in GFLOP/s (mul and add count as one flop
// each per lane), as references for bench/wasm.mjs:
// - "kernel": the GEMM microkernel itself (4×8 block, K = 256) on operands hot in L1, repeated:
//   what the packed SGEMM could reach if memory and packing cost nothing;
// - "independent mul+add": 8 chains acc = acc + x·y_i with fresh products every iteration
//   (compiled from a small AssemblyScript source at run time), the 128-bit mul+add ceiling; and
//   the same with relaxed SIMD's fused multiply-add, where the engine has it (the ceiling of the
//   modules the backend picks then).
// Not part of the tests.
//
//   npx tsc -p tsconfig.json && flock /tmp/bench.lock node bench/wasm-peak.mjs
import asc from "assemblyscript/asc";
import { Kernels, moduleBytes } from "../dist/backend/wasm/kernels.js";
import { enableRelaxedSimd } from "../dist/node/relaxed-simd.js";

function cpuSeconds(run) {
  run();
  const times = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.cpuUsage();
    run();
    const t = process.cpuUsage(t0);
    times.push((t.user + t.system) / 1e6);
  }
  return times.sort((a, b) => a - b)[3];
}

// the microkernel, in the plain module and (where the engine has relaxed SIMD) the relaxed one
const relaxed = enableRelaxedSimd();
for (const withRelaxed of relaxed ? [false, true] : [false]) {
  const k = new Kernels(new WebAssembly.Module(moduleBytes(withRelaxed)));
  const K = 256;
  k.reset();
  const ap = k.alloc(4 * K), bp = k.alloc(8 * K), c = k.alloc(32);
  k.ready();
  const reps = 20000;
  const s1 = cpuSeconds(() => {
    for (let r = 0; r < reps; r++) k.k.gemmPacked(4, 8, K, ap, bp, c, 8);
  });
  console.log(`kernel 4x8${withRelaxed ? " (relaxed SIMD)" : ""}, K=${K}, hot in L1: ${((2 * 32 * K * reps) / s1 / 1e9).toFixed(1)} GFLOP/s`);
}

// independent chains acc = acc + x·y: as a multiply and an add (plain SIMD128), and as one
// f32x4.relaxed_madd (relaxed SIMD, a fused multiply-add where the engine has it)
const chains = (op) => `
export function peak(n: i32, p: usize): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
  for (let i = 0; i < n; i++) {
    const q = p + ((<usize>i & 15) << 5);
    const y0 = v128.load(q), y1 = v128.load(q, 16);
    const x0 = v128.load32_splat(q), x1 = v128.load32_splat(q, 4), x2 = v128.load32_splat(q, 8), x3 = v128.load32_splat(q, 12);
    a0 = ${op("a0", "x0", "y0")}; a1 = ${op("a1", "x0", "y1")};
    a2 = ${op("a2", "x1", "y0")}; a3 = ${op("a3", "x1", "y1")};
    a4 = ${op("a4", "x2", "y0")}; a5 = ${op("a5", "x2", "y1")};
    a6 = ${op("a6", "x3", "y0")}; a7 = ${op("a7", "x3", "y1")};
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  return f32x4.extract_lane(s, 0);
}`;
const variants = [
  ["independent mul+add, 8 f32x4 chains (loads as in the kernel)", (a, x, y) => `f32x4.add(${a}, f32x4.mul(${x}, ${y}))`, ["simd"]],
];
if (relaxed) variants.push(["independent relaxed_madd, 8 f32x4 chains (relaxed SIMD)", (a, x, y) => `f32x4.relaxed_madd(${x}, ${y}, ${a})`, ["simd", "relaxed-simd"]]);
for (const [label, op, enable] of variants) {
  const { binary, stderr } = await asc.compileString(chains(op), { optimizeLevel: 3, runtime: "stub", noAssert: true, use: ["abort="], enable, initialMemory: 1 });
  if (!binary) throw new Error(stderr.toString());
  const { peak } = new WebAssembly.Instance(new WebAssembly.Module(binary), {}).exports;
  const n = 20_000_000;
  const s2 = cpuSeconds(() => peak(n, 1024));
  console.log(`${label}: ${((n * 8 * 4 * 2) / s2 / 1e9).toFixed(1)} GFLOP/s`);
}
