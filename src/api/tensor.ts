/**
 * The public tensor type and the checks every API entry point makes on what it is given: shape,
 * element count, finiteness. Hot loops below the API never re-check.
 */
import { formatShape, sizeOf, type FloatArray } from "../tensor/dtype.js";

/** A dense row-major tensor. */
export interface Tensor {
  readonly data: FloatArray;
  readonly shape: readonly number[];
}

/** A tensor of `data` viewed with `shape` (no copy; the sizes must agree). */
export function tensor(data: FloatArray, shape: readonly number[]): Tensor {
  if (data.length !== sizeOf(shape)) throw new Error(`${data.length} values cannot have shape ${formatShape(shape)} (${sizeOf(shape)} values)`);
  return { data, shape: [...shape] };
}

/**
 * Checks that `t` has `expected` shape (entries null match any size) and only finite values.
 * `what` names the argument in the error.
 */
export function checkTensor(t: Tensor, expected: readonly (number | null)[], what: string, hint = ""): void {
  if (!t || !(t.data instanceof Float32Array || t.data instanceof Float64Array)) {
    throw new Error(`${what} must be a tensor { data: Float32Array | Float64Array, shape }`);
  }
  const ok = t.shape.length === expected.length && expected.every((d, i) => d === null || d === t.shape[i]);
  if (!ok) {
    const want = `(${expected.map((d, i) => (d === null ? "·" : String(d)) + (i === expected.length - 1 && expected.length === 1 ? "," : "")).join(", ")})`;
    throw new Error(`${what} has shape ${formatShape(t.shape)}, expected ${want}${hint ? `; ${hint}` : ""}`);
  }
  if (t.data.length !== sizeOf(t.shape)) throw new Error(`${what} has shape ${formatShape(t.shape)} but ${t.data.length} values`);
  checkFinite(t.data, what);
}

/** Throws on the first NaN or ±Infinity in `a`, naming its position. */
export function checkFinite(a: ArrayLike<number>, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new Error(`${what} holds ${a[i]} at flat index ${i}; inputs must be finite numbers (check the data pipeline for missing values or a division by zero)`);
  }
}
