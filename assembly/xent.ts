/**
 * Softmax cross-entropy over N rows of V logits (src/layers/softmax-cross-entropy.ts, the
 * specification; native/recurrence_kernel.inc computes the same): for each counted row its max
 * and Σ_v e^{z_v − max} (f32 lanes, added in f64), from which the caller forms the loss
 * max + log Σ − z_target in row order (so no log, with its tables, in the module); with dlogits,
 * (softmax − onehot)·scale for counted rows and zeros for ignored ones. The targets are checked by
 * the caller. With a worker (threads.ts), it takes the second half of the rows, in blocks of
 * XENT_BLOCK.
 */
import { at, vexp } from "./math";
import { hasWorker, jobArg as arg, jobArgF64 as argF64, joinJob, MIN_WORK, OP_XENT, postJob, setArg, setArgF64 } from "./threads";

export const XENT_BLOCK: i32 = 64;

/** Writes each counted row's max into maxes[n] (f32) and Σ e^{z − max} into sums[n] (f64), and dlogits when it is not 0. */
export function softmaxXent(logits: usize, targets: usize, N: i32, V: i32, dlogits: usize, ignore: i32, scale: f32, maxes: usize, sums: usize): void {
  const nb = (N + XENT_BLOCK - 1) / XENT_BLOCK;
  let h = nb;
  let seq = 0;
  if (hasWorker() && nb >= 2 && <i64>N * <i64>V >= MIN_WORK) {
    h = nb >> 1;
    setArg(0, logits); setArg(1, targets); setArg(2, N); setArg(3, V); setArg(4, dlogits); setArg(5, ignore);
    setArgF64(6, scale); setArg(8, maxes); setArg(9, sums); setArg(10, h); setArg(11, nb);
    seq = postJob(OP_XENT, 0, 0);
  }
  xentBlocks(logits, targets, N, V, dlogits, ignore, scale, maxes, sums, 0, h);
  if (seq) joinJob(seq);
}

/** The worker's side of a split `softmaxXent` (arguments at `a`). */
export function xentJob(a: usize): void {
  xentBlocks(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), <f32>argF64(a, 6), arg(a, 8), arg(a, 9), arg(a, 10), arg(a, 11));
}

function xentBlocks(logits: usize, targets: usize, N: i32, V: i32, dlogits: usize, ignore: i32, scale: f32, maxes: usize, sums: usize, b0: i32, b1: i32): void {
  const hi = min(b1 * XENT_BLOCK, N);
  for (let n = b0 * XENT_BLOCK; n < hi; n++) {
    xentRow(at(logits, n * V), load<i32>(at(targets, n)), V, dlogits ? at(dlogits, n * V) : 0, ignore, scale, at(maxes, n), sums + (<usize>n << 3));
  }
}

/** One row: its max and Σ e^{z − max} at `mx` and `sm` (unless ignored), and its dlogits row when `d` is not 0. */
function xentRow(z: usize, t: i32, V: i32, d: usize, ignore: i32, scale: f32, mxAt: usize, smAt: usize): void {
  if (t == ignore) {
    if (d) memory.fill(d, 0, <usize>V << 2);
    return;
  }
  let vm = f32x4.splat(-Infinity);
  let v = 0;
  for (; v + 4 <= V; v += 4) vm = f32x4.max(vm, v128.load(at(z, v)));
  let mx = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
  for (; v < V; v++) mx = max(mx, load<f32>(at(z, v)));
  const vmx = f32x4.splat(mx);
  let vs = f32x4.splat(0);
  for (v = 0; v + 4 <= V; v += 4) {
    const e = vexp(f32x4.sub(v128.load(at(z, v)), vmx));
    if (d) v128.store(at(d, v), e);
    vs = f32x4.add(vs, e);
  }
  for (; v < V; v++) {
    // the ragged end one lane at a time, with the same exp; the other lanes add 0
    const e = f32x4.extract_lane(vexp(f32x4.sub(v128.load32_zero(at(z, v)), vmx)), 0);
    if (d) store<f32>(at(d, v), e);
    vs = f32x4.replace_lane(vs, 0, f32x4.extract_lane(vs, 0) + e);
  }
  const sum = <f64>f32x4.extract_lane(vs, 0) + <f64>f32x4.extract_lane(vs, 1) + <f64>f32x4.extract_lane(vs, 2) + <f64>f32x4.extract_lane(vs, 3);
  store<f32>(mxAt, mx);
  store<f64>(smAt, sum);
  if (d) {
    const k = <f32>(<f64>scale / sum);
    const vk = f32x4.splat(k);
    for (v = 0; v + 4 <= V; v += 4) v128.store(at(d, v), f32x4.mul(v128.load(at(d, v)), vk));
    for (; v < V; v++) store<f32>(at(d, v), load<f32>(at(d, v)) * k);
    store<f32>(at(d, t), load<f32>(at(d, t)) - scale);
  }
}
