/**
 * int8 matrix × float32 vector for batch-1 sampling with compact weights (src/generate/quantized.ts),
 * in fixed point as native/qgemv.c's AVX512-VNNI kernel computes it, so with the same bits:
 *
 *   m = max |x_k|,  v_k = clamp(round_even(x_k · (16256 / m)), ±16256)   (x in 15 bits)
 *   y_r = ((Σ_k q[r,k]·v_k) · sx) · scale_r,   sx = m / 16256 rounded to f32
 *
 * The sums are exact in i32 (i32x4.dot_i16x8_s of sign-extended q against v). The C kernel splits
 * v into two 8-bit digits, v = 128·hi + lo, and forms 128·f32(Σ q·hi) + f32(Σ q·lo); up to 1024
 * columns both sums are exact in f32, so that is one rounding of Σ q·v, as here; past 1024 this
 * kernel splits v the same way and adds the same two sums. Then y += the previous y when
 * accumulating, then y += bias. Rows of q are padded with zeros to a multiple of 8 columns. With a
 * worker (threads.ts), a large product gives it the second half of the rows; each row's sum is the
 * same whoever computes it.
 */
import { at } from "./math";
import { hasWorker, jobArg as arg, jobArgF64 as argF64, joinJob, MIN_WORK, OP_QGEMV, postJob, setArg, setArgF64 } from "./threads";

// @ts-ignore: decorator
@inline const QX_RANGE: f32 = 16256;
/** Up to this many columns one digit (v itself) gives the C kernel's bits; beyond, two. */
// @ts-ignore: decorator
@inline const ONE_DIGIT_MAX: i32 = 1024;

/** The padded row length (columns) of a matrix with `cols` columns. */
// @ts-ignore: decorator
@inline function paddedCols(cols: i32): i32 {
  return (cols + 7) & ~7;
}

/**
 * y (rows) = the product of q (rows × pc int8, pc = cols rounded up to a multiple of 8, zero padded)
 * with per-row `scale` and x (cols), as above; `dig` holds pc i16, twice that past 1024 columns.
 * `rows` is a multiple of 4: the caller pads q with zero rows and scale, y and bias to match.
 * Returns 0, writing nothing, when x holds a NaN or ±Inf.
 */
export function qgemv(q: usize, scale: usize, rows: i32, cols: i32, x: usize, y: usize, accumulate: bool, bias: usize, dig: usize): i32 {
  // max |x|; a NaN or ±Inf fails the finite test
  let vm = f32x4.splat(0);
  let finite = i32x4.splat(-1);
  const inf = f32x4.splat(Infinity);
  let k = 0;
  for (; k + 4 <= cols; k += 4) {
    const a = f32x4.abs(v128.load(at(x, k)));
    finite = v128.and(finite, f32x4.lt(a, inf));
    vm = f32x4.max(vm, a);
  }
  let m = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
  let ok = i32x4.all_true(finite);
  for (; k < cols; k++) {
    const a = abs(load<f32>(at(x, k)));
    ok = ok && a < Infinity;
    m = max(m, a);
  }
  if (!ok) return 0;
  const inv: f32 = m > 0 ? QX_RANGE / m : 0;
  const sx: f32 = <f32>(<f64>m / <f64>QX_RANGE);
  const pc = paddedCols(cols);
  const two = cols > ONE_DIGIT_MAX;
  const lo = dig + (<usize>pc << 1);
  const vinv = f32x4.splat(inv), top = i32x4.splat(<i32>QX_RANGE), bottom = i32x4.splat(-<i32>QX_RANGE);
  for (k = 0; k + 4 <= cols; k += 4) {
    // round to nearest even, then clamp
    const d = i32x4.max_s(i32x4.min_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(at(x, k)), vinv))), top), bottom);
    if (two) {
      const h = i32x4.shr_s(i32x4.add(d, i32x4.splat(64)), 7); // floor((v + 64) / 128)
      v128.store64_lane(dig + (<usize>k << 1), i16x8.narrow_i32x4_s(h, h), 0);
      const l = i32x4.sub(d, i32x4.shl(h, 7));
      v128.store64_lane(lo + (<usize>k << 1), i16x8.narrow_i32x4_s(l, l), 0);
    } else {
      v128.store64_lane(dig + (<usize>k << 1), i16x8.narrow_i32x4_s(d, d), 0);
    }
  }
  // the ragged end the same way one at a time; the padding reads as 0
  for (; k < pc; k++) {
    const d = k < cols ? max(min(<i32>nearest<f32>(load<f32>(at(x, k)) * inv), <i32>QX_RANGE), -<i32>QX_RANGE) : 0;
    const h = two ? (d + 64) >> 7 : d;
    store<i16>(dig + (<usize>k << 1), <i16>h);
    if (two) store<i16>(lo + (<usize>k << 1), <i16>(d - (h << 7)));
  }
  let h = rows;
  let seq = 0;
  if (hasWorker() && rows >= 8 && <i64>rows * <i64>cols >= MIN_WORK) {
    h = (rows >> 1) & ~3;
    setArg(0, q); setArg(1, scale); setArg(2, h); setArg(3, rows); setArg(4, pc); setArg(5, two); setArg(6, dig); setArg(7, lo);
    setArg(8, y); setArg(9, accumulate); setArg(10, bias); setArgF64(12, sx);
    seq = postJob(OP_QGEMV, 0, 0);
  }
  qgemvRows(q, scale, 0, h, pc, two, dig, lo, sx, y, accumulate, bias);
  if (seq) joinJob(seq);
  return 1;
}

/** The worker's side of a split `qgemv` (arguments at `a`). */
export function qgemvJob(a: usize): void {
  qgemvRows(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5) != 0, arg(a, 6), arg(a, 7), <f32>argF64(a, 12), arg(a, 8), arg(a, 9) != 0, arg(a, 10));
}

/** Rows [r0, r1) (multiples of 4) from the digits. */
function qgemvRows(q: usize, scale: usize, r0: i32, r1: i32, pc: i32, two: bool, dig: usize, lo: usize, sx: f32, y: usize, accumulate: bool, bias: usize): void {
  const vsx = f32x4.splat(sx);
  const planes = two ? 2 : 1;
  for (let r = r0; r < r1; r += 4) {
    let s = f32x4.splat(0);
    for (let p = 0; p < planes; p++) {
      // one digit: f32(Σ q·v); two: 128·f32(Σ q·hi) + f32(Σ q·lo)
      s = f32x4.add(f32x4.mul(s, f32x4.splat(128)), f32x4.convert_i32x4_s(dot4(q, r, pc, p ? lo : dig)));
    }
    let out = f32x4.mul(f32x4.mul(s, vsx), v128.load(at(scale, r)));
    if (accumulate) out = f32x4.add(out, v128.load(at(y, r)));
    if (bias) out = f32x4.add(out, v128.load(at(bias, r)));
    v128.store(at(y, r), out);
  }
}

/** Σ_k q[r + i, k]·d_k for i = 0 … 3, one per lane (exact in i32). */
function dot4(q: usize, r: i32, pc: i32, d: usize): v128 {
  const p0 = q + <usize>r * <usize>pc, p1 = p0 + <usize>pc, p2 = p1 + <usize>pc, p3 = p2 + <usize>pc;
  let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  for (let k = 0; k < pc; k += 8) {
    const xv = v128.load(d + (<usize>k << 1));
    const o = <usize>k;
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(p0 + o), xv));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(p1 + o), xv));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load8x8_s(p2 + o), xv));
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load8x8_s(p3 + o), xv));
  }
  // lane i ← the sum of a_i's lanes
  const t0 = i32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7)); // a0₀+a0₂, a1₀+a1₂, a0₁+a0₃, a1₁+a1₃
  const t1 = i32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(t0, t1, 0, 1, 4, 5), i32x4.shuffle(t0, t1, 2, 3, 6, 7));
}

