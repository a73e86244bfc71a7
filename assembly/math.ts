/**
 * f32x4 nonlinearities with polynomial approximations (Cephes `expf`/`tanhf`, S. L. Moshier),
 * accurate to a few float32 ulps: the cells compute the same functions with Math.exp/Math.tanh
 * in float64 and round once.
 */

// @ts-ignore: decorator
@inline function k(x: f32): v128 {
  return f32x4.splat(x);
}

/** e^x per lane (x clamped to [−87.3, 88.3], the normal float32 range). */
// @ts-ignore: decorator
@inline export function vexp(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, k(-87.3)), k(88.3));
  const n = f32x4.nearest(f32x4.mul(x, k(1.44269504088896341)));
  // r = x − n·ln 2 in two parts (Cody–Waite)
  let r = f32x4.sub(x, f32x4.mul(n, k(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, k(-2.12194440e-4)));
  let p = k(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), k(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), k(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), k(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), k(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), k(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), k(1));
  // · 2^n through the exponent bits
  const e = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, e);
}

/** σ(x) = 1 / (1 + e^{−x}) per lane. */
// @ts-ignore: decorator
@inline export function vsigmoid(x: v128): v128 {
  return f32x4.div(k(1), f32x4.add(k(1), vexp(f32x4.neg(x))));
}

/** tanh(x) per lane: an odd polynomial for |x| < 0.625, else 1 − 2/(e^{2|x|} + 1) with x's sign. */
// @ts-ignore: decorator
@inline export function vtanh(x: v128): v128 {
  const ax = f32x4.abs(x);
  const big = f32x4.sub(k(1), f32x4.div(k(2), f32x4.add(vexp(f32x4.add(ax, ax)), k(1))));
  const signed = v128.or(big, v128.and(x, i32x4.splat(0x80000000)));
  const z = f32x4.mul(x, x);
  let p = k(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), k(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), k(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), k(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), k(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  return v128.bitselect(small, signed, f32x4.lt(ax, k(0.625)));
}

/**
 * Loads 4 floats at p, or (when `full` is false, at a ragged row end) the one float at p in
 * lane 0: kernels walk rows 4 lanes at a time and finish the last H mod 4 one by one.
 */
// @ts-ignore: decorator
@inline export function ld(p: usize, full: bool): v128 {
  return full ? v128.load(p) : v128.load32_splat(p);
}

/** Stores what `ld` loaded. */
// @ts-ignore: decorator
@inline export function st(p: usize, v: v128, full: bool): void {
  if (full) v128.store(p, v);
  else v128.store32_lane(p, v, 0);
}

// @ts-ignore: decorator
@inline export function splat(x: f32): v128 {
  return f32x4.splat(x);
}

/** Byte offset of float index i. */
// @ts-ignore: decorator
@inline export function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}
