#!/usr/bin/env node
/**
 * Throughput of the native fused recurrence (native/recurrence.c) and the large GEMMs around it, at
 * T1's shapes (one LSTM layer, T 64, B 32, H 256), for 1 and N threads, alternating so that both
 * see the same machine. Prints median wall times and GFLOP/s. Needs `npm run build` and the addon.
 *
 *   flock /tmp/bench.lock node bench/native-recurrence.mjs [--cell lstm|gru|rnn] [--threads N] [--rounds R] [--T 64] [--B 32] [--H 256]
 */
import { nativeAddon as addon, nativeUnavailableReason } from "../dist/node/native-backend.js";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
if (!addon) {
  console.error(`native backend unavailable: ${nativeUnavailableReason}`);
  process.exit(1);
}
const cell = arg("cell", "lstm");
const code = { lstm: 3, gru: 7, rnn: 0 }[cell];
const G = { lstm: 4, gru: 3, rnn: 1 }[cell];
const maxThreads = Number(arg("threads", String(addon.threads())));
const rounds = Number(arg("rounds", "9"));
const [T, B, H] = [Number(arg("T", "64")), Number(arg("B", "32")), Number(arg("H", "256"))];
const GH = G * H;

let seed = 1;
const rand = (n, s) => Float32Array.from({ length: n }, () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return s * ((seed / 2 ** 32) * 2 - 1);
});
const Whh = rand(GH * H, 0.06), bhh = rand(GH, 0.1), xp = rand(T * B * GH, 1), X = rand(T * B * H, 1), Wih = rand(GH * H, 0.06);
const hs = new Float32Array((T + 1) * B * H), cs = cell === "lstm" ? new Float32Array((T + 1) * B * H) : null;
const gates = cell === "rnn" ? null : new Float32Array(T * B * GH), aux = cell === "rnn" ? null : new Float32Array(T * B * H);
const dy = rand(T * B * H, 1), dh = new Float32Array(B * H), dc = cs ? new Float32Array(B * H) : null;
const dxp = new Float32Array(T * B * GH), dW = new Float32Array(GH * H), db = new Float32Array(GH);

const flop = 2 * T * B * GH * H; // one recurrent (or input-projection) product over the sequence
const kernels = {
  "fused forward": [() => addon.recForward(code, T, B, H, false, Whh, bhh, null, null, null, xp, hs, cs, gates, aux), flop],
  "fused backward": [() => addon.recBackward(code, T, B, H, false, Whh, null, null, null, hs, cs, gates, aux, dy, dh, dc, dxp, dW, db, null, null, null), 2 * flop],
  "gemm X·Wihᵀ": [() => addon.gemm(false, true, T * B, GH, H, X, Wih, xp, false), flop],
  "gemm dXPᵀ·X": [() => addon.gemm(true, false, GH, H, T * B, dxp, X, dW, true), flop],
};
const threadCounts = [...new Set([1, maxThreads])];
const times = new Map();
for (let r = 0; r < rounds + 1; r++) {
  for (const n of threadCounts) {
    addon.setThreads(n);
    for (const [name, [f]] of Object.entries(kernels)) {
      const t0 = performance.now();
      f();
      const t = performance.now() - t0;
      if (r > 0) (times.get(`${name}|${n}`) ?? times.set(`${name}|${n}`, []).get(`${name}|${n}`)).push(t);
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`${cell}, T ${T}, B ${B}, H ${H}; median of ${rounds} (isa ${addon.isa()})`);
for (const [name, [, f]] of Object.entries(kernels)) {
  const cols = threadCounts.map((n) => {
    const m = median(times.get(`${name}|${n}`));
    return `${n} thr ${m.toFixed(1).padStart(6)} ms ${(f / m / 1e6).toFixed(1).padStart(6)} GFLOP/s`;
  });
  console.log(`${name.padEnd(16)} ${cols.join("   ")}`);
}
