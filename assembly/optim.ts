/**
 * Optimizer updates and the gradient norm (src/train/optimizers.ts, src/train/clip.ts) on float32
 * buffers in linear memory, computed as the JavaScript loops compute them: each element in f64,
 * rounded to f32 at every store, a later read in the same iteration seeing the rounded value, the
 * operations in the same order. So `adam`, `sgd` and `scale` write exactly what those loops write
 * (native/optim.c does the same in C). Two f64 lanes at a time; no fused multiply-add (plain SIMD128
 * has none, and none of this uses relaxed SIMD). `sumSquares` adds in its own order (two lanes).
 *
 * With a worker (threads.ts), `adam`, `sgd` and `scale` over many elements give it the second half
 * of the buffers: every element is computed alone, so the bits are those of one thread.
 */
import { hasWorker, jobArg as arg, jobArgF64 as argF64, joinJob, OP_ADAM, OP_SCALE, OP_SGD, postJob, setArg, setArgF64 } from "./threads";

/** From this many elements on, an update is split with the worker (a round trip costs ≈ 1–2 µs). */
// @ts-ignore: decorator
@inline const SPLIT_MIN: i32 = 32_768;

/** Where the worker's half starts: the second half of n, on a 16-element (64-byte) boundary; n when one thread runs it all. */
function split(n: i32): i32 {
  return hasWorker() && n >= SPLIT_MIN ? (n >> 1) & ~15 : n;
}

// @ts-ignore: decorator
@inline function load2(p: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}

// @ts-ignore: decorator
@inline function round2(x: v128): v128 {
  return f32x4.demote_f64x2_zero(x);
}

// @ts-ignore: decorator
@inline function store2(p: usize, f: v128): void {
  v128.store64_lane(p, f, 0);
}

/** `adamStep`'s loop over n elements of p, g, m, v (see optimizers.ts). */
export function adam(
  n: i32, p: usize, g: usize, m: usize, v: usize,
  shrink: f64, l2: f64, b1: f64, b2: f64, stepSize: f64, sqrtCorrection2: f64, eps: f64,
): void {
  const h = split(n);
  let seq = 0;
  if (h < n) {
    const o = <usize>h << 2;
    setArg(0, n - h); setArg(1, p + o); setArg(2, g + o); setArg(3, m + o); setArg(4, v + o);
    setArgF64(6, shrink); setArgF64(8, l2); setArgF64(10, b1); setArgF64(12, b2); setArgF64(14, stepSize); setArgF64(16, sqrtCorrection2); setArgF64(18, eps);
    seq = postJob(OP_ADAM, 0, 0);
  }
  adamRange(h, p, g, m, v, shrink, l2, b1, b2, stepSize, sqrtCorrection2, eps);
  if (seq) joinJob(seq);
}

/** The worker's side of a split `adam`, `sgd` or `scale` (job `op`, arguments at `a`). */
export function optimJob(op: i32, a: usize): void {
  if (op == OP_ADAM) {
    adamRange(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4),
      argF64(a, 6), argF64(a, 8), argF64(a, 10), argF64(a, 12), argF64(a, 14), argF64(a, 16), argF64(a, 18));
  } else if (op == OP_SGD) {
    sgdRange(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), argF64(a, 6), argF64(a, 8), argF64(a, 10), arg(a, 4) != 0, arg(a, 5) != 0);
  } else if (op == OP_SCALE) {
    scaleRange(arg(a, 0), arg(a, 1), argF64(a, 2));
  }
}

function adamRange(
  n: i32, p: usize, g: usize, m: usize, v: usize,
  shrink: f64, l2: f64, b1: f64, b2: f64, stepSize: f64, sqrtCorrection2: f64, eps: f64,
): void {
  const c1 = 1 - b1, c2 = 1 - b2;
  const vs = f64x2.splat(shrink), vl2 = f64x2.splat(l2), vb1 = f64x2.splat(b1), vc1 = f64x2.splat(c1);
  const vb2 = f64x2.splat(b2), vc2 = f64x2.splat(c2), vstep = f64x2.splat(stepSize);
  const vcorr = f64x2.splat(sqrtCorrection2), veps = f64x2.splat(eps);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o = <usize>i << 2;
    const pv = f64x2.promote_low_f32x4(round2(f64x2.mul(load2(p + o), vs)));
    const d = f64x2.add(load2(g + o), f64x2.mul(vl2, pv));
    const mf = round2(f64x2.add(f64x2.mul(vb1, load2(m + o)), f64x2.mul(vc1, d)));
    const vf = round2(f64x2.add(f64x2.mul(vb2, load2(v + o)), f64x2.mul(f64x2.mul(vc2, d), d)));
    store2(m + o, mf);
    store2(v + o, vf);
    const den = f64x2.add(f64x2.div(f64x2.sqrt(f64x2.promote_low_f32x4(vf)), vcorr), veps);
    store2(p + o, round2(f64x2.sub(pv, f64x2.mul(vstep, f64x2.div(f64x2.promote_low_f32x4(mf), den)))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const pi = <f64><f32>(<f64>load<f32>(p + o) * shrink);
    const d = <f64>load<f32>(g + o) + l2 * pi;
    const mi = <f64><f32>(b1 * <f64>load<f32>(m + o) + c1 * d);
    const vi = <f64><f32>(b2 * <f64>load<f32>(v + o) + c2 * d * d);
    store<f32>(m + o, <f32>mi);
    store<f32>(v + o, <f32>vi);
    store<f32>(p + o, <f32>(pi - stepSize * (mi / (Math.sqrt(vi) / sqrtCorrection2 + eps))));
  }
}

/** `sgdStep`'s loop over n elements; b = 0: no momentum buffer. */
export function sgd(n: i32, p: usize, g: usize, b: usize, lr: f64, wd: f64, mu: f64, nesterov: bool, firstStep: bool): void {
  const h = split(n);
  let seq = 0;
  if (h < n) {
    const o = <usize>h << 2;
    setArg(0, n - h); setArg(1, p + o); setArg(2, g + o); setArg(3, b ? b + o : 0); setArg(4, nesterov); setArg(5, firstStep);
    setArgF64(6, lr); setArgF64(8, wd); setArgF64(10, mu);
    seq = postJob(OP_SGD, 0, 0);
  }
  sgdRange(h, p, g, b, lr, wd, mu, nesterov, firstStep);
  if (seq) joinJob(seq);
}

function sgdRange(n: i32, p: usize, g: usize, b: usize, lr: f64, wd: f64, mu: f64, nesterov: bool, firstStep: bool): void {
  const vlr = f64x2.splat(lr), vwd = f64x2.splat(wd), vmu = f64x2.splat(mu);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o = <usize>i << 2;
    const pv = load2(p + o);
    let d = f64x2.add(load2(g + o), f64x2.mul(vwd, pv));
    if (b) {
      const bf = firstStep ? round2(d) : round2(f64x2.add(f64x2.mul(vmu, load2(b + o)), d));
      store2(b + o, bf);
      d = nesterov ? f64x2.add(d, f64x2.mul(vmu, f64x2.promote_low_f32x4(bf))) : f64x2.promote_low_f32x4(bf);
    }
    store2(p + o, round2(f64x2.sub(pv, f64x2.mul(vlr, d))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const pi = <f64>load<f32>(p + o);
    let d = <f64>load<f32>(g + o) + wd * pi;
    if (b) {
      const bi = <f64><f32>(firstStep ? d : mu * <f64>load<f32>(b + o) + d);
      store<f32>(b + o, <f32>bi);
      d = nesterov ? d + mu * bi : bi;
    }
    store<f32>(p + o, <f32>(pi - lr * d));
  }
}

/** x ← x·s over n elements (`clipGradNorm`'s scaling). */
export function scale(n: i32, x: usize, s: f64): void {
  const h = split(n);
  let seq = 0;
  if (h < n) {
    setArg(0, n - h); setArg(1, x + (<usize>h << 2)); setArgF64(2, s);
    seq = postJob(OP_SCALE, 0, 0);
  }
  scaleRange(h, x, s);
  if (seq) joinJob(seq);
}

function scaleRange(n: i32, x: usize, s: f64): void {
  const vs = f64x2.splat(s);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o = <usize>i << 2;
    store2(x + o, round2(f64x2.mul(load2(x + o), vs)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, <f32>(<f64>load<f32>(x + o) * s));
  }
}

/** Σ x² over n elements in f64: element i into lane i mod 2, then lane 0 + lane 1. */
export function sumSquares(n: i32, x: usize): f64 {
  let acc = f64x2.splat(0);
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const y = load2(x + (<usize>i << 2));
    acc = f64x2.add(acc, f64x2.mul(y, y));
  }
  let s0 = f64x2.extract_lane(acc, 0), s1 = f64x2.extract_lane(acc, 1);
  if (i < n) {
    const y = <f64>load<f32>(x + (<usize>i << 2));
    s0 += y * y;
  }
  return s0 + s1;
}
