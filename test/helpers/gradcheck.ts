/**
 * Finite-difference gradient checking in float64 (STYLE.md principle 9).
 *
 * For a scalar function L of a tensor x, the numeric gradient is the fourth-order central
 * difference (Richardson extrapolation of the central differences at steps ε and 2ε)
 *
 *   n_i = (−L(x + 2ε e_i) + 8 L(x + ε e_i) − 8 L(x − ε e_i) + L(x − 2ε e_i)) / 12ε,   ε = 1e-4,
 *
 * whose truncation error is O(ε⁴·L⁽⁵⁾) ≈ 1e-16 and whose rounding error is ≈ 2⁻⁵³·|L|/ε ≈ 1e-12·|L|.
 * (The plain second-order central difference at ε = 1e-6 is rounding-limited at ≈ 1e-10·|L|:
 * on a tensor whose gradient is small — h0 through four sigmoid steps, ≈ 1e-4 — that is a
 * relative error ≈ 1e-6, too close to any useful threshold.)
 *
 * The analytic gradient a is compared PER TENSOR with the relative error
 *
 *   err = max_i |a_i − n_i| / max(1e-8, max_i |a_i| + max_i |n_i|),
 *
 * which is scale-free (a tensor of small gradients is judged as strictly as one of large ones) and
 * does not blow up on single elements whose gradient is near zero. A correct backward pass on the
 * small, smooth cases of the tests gives err ≲ 3e-8 (measured); a wrong term (a missing path, a
 * transposed weight, a wrong sign, a gradient off by 0.1% in one element) gives err ≳ 1e-4. The
 * threshold `GRADCHECK_TOL` = 1e-6 sits between the two with a margin of 30× or more either side.
 * Functions with kinks (relu) must stay ≥ 1e-3 away from them, well beyond the 2ε = 2e-4 steps.
 */
import type { FloatArray } from "../../src/tensor/dtype.js";
import type { Rng } from "../../src/tensor/random.js";

/** Step ε of the finite difference. */
export const GRADCHECK_EPS = 1e-4;
/** Largest accepted per-tensor relative error (see the module comment). */
export const GRADCHECK_TOL = 1e-6;

/** One tensor to check: its values (perturbed in place, then restored) and its analytic gradient. */
export interface Checked {
  readonly name: string;
  readonly x: FloatArray;
  readonly analytic: ArrayLike<number>;
}

/** The outcome of checking one tensor. */
export interface TensorCheck {
  readonly name: string;
  readonly count: number;
  /** the relative error of the module comment */
  readonly error: number;
  readonly maxAnalytic: number;
  readonly maxNumeric: number;
}

/** Fourth-order central-difference gradient of `loss` w.r.t. every element of `x` (restored after). */
export function numericGradient(loss: () => number, x: FloatArray, eps = GRADCHECK_EPS): Float64Array {
  if (!(x instanceof Float64Array)) throw new Error("gradient checks run in float64 only");
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const at = (d: number) => {
      x[i] = v + d;
      const L = loss();
      x[i] = v;
      return L;
    };
    // differences first: equal values cancel exactly
    g[i] = (8 * (at(eps) - at(-eps)) - (at(2 * eps) - at(-2 * eps))) / (12 * eps);
  }
  return g;
}

/** max|a − n| / max(1e-8, max|a| + max|n|); NaN anywhere gives Infinity. */
export function relativeError(a: ArrayLike<number>, n: ArrayLike<number>): number {
  if (a.length !== n.length) throw new Error(`length mismatch: analytic ${a.length}, numeric ${n.length}`);
  let diff = 0;
  let ma = 0;
  let mn = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - n[i]);
    if (Number.isNaN(d)) return Infinity;
    diff = Math.max(diff, d);
    ma = Math.max(ma, Math.abs(a[i]));
    mn = Math.max(mn, Math.abs(n[i]));
  }
  return diff / Math.max(1e-8, ma + mn);
}

/** Checks every element of every tensor in `tensors` against central differences of `loss`. */
export function gradcheck(loss: () => number, tensors: readonly Checked[], eps = GRADCHECK_EPS): TensorCheck[] {
  return tensors.map(({ name, x, analytic }) => {
    const n = numericGradient(loss, x, eps);
    let maxAnalytic = 0;
    let maxNumeric = 0;
    for (let i = 0; i < n.length; i++) {
      maxAnalytic = Math.max(maxAnalytic, Math.abs(analytic[i]));
      maxNumeric = Math.max(maxNumeric, Math.abs(n[i]));
    }
    return { name, count: x.length, error: relativeError(analytic, n), maxAnalytic, maxNumeric };
  });
}

/**
 * Human-readable failures of a check: tensors over the tolerance, and tensors whose gradient is
 * identically zero (a check that compares zeros with zeros proves nothing, so every checked tensor
 * must actually influence the loss). An empty list passes.
 */
export function failures(checks: readonly TensorCheck[], tol = GRADCHECK_TOL): string[] {
  const out: string[] = [];
  for (const c of checks) {
    if (!(c.error <= tol)) out.push(`${c.name}: relative error ${c.error.toExponential(2)} > ${tol}`);
    if (c.maxNumeric < 1e-6) out.push(`${c.name}: the loss does not depend on it (max |numeric| ${c.maxNumeric.toExponential(2)})`);
  }
  return out;
}

/** Fills `a` uniformly in [−scale, scale). */
export function fillUniform(a: FloatArray, rng: Rng, scale = 0.5): FloatArray {
  for (let i = 0; i < a.length; i++) a[i] = rng.range(-scale, scale);
  return a;
}

/** A new float64 buffer of `n` values uniform in [−scale, scale). */
export function randomF64(n: number, rng: Rng, scale = 0.5): Float64Array {
  return fillUniform(new Float64Array(n), rng, scale) as Float64Array;
}

/** Σ a_i b_i. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`dot: length mismatch ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** max |a − b| (Infinity on a length mismatch or NaN). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return Infinity;
    m = Math.max(m, d);
  }
  return m;
}

/** max |a − b| / max(1e-30, max |b|): the error relative to the scale of the expected tensor. */
export function scaledDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let mb = 0;
  for (let i = 0; i < b.length; i++) mb = Math.max(mb, Math.abs(b[i]));
  return maxAbsDiff(a, b) / Math.max(1e-30, mb);
}
