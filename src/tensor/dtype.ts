/**
 * Element types. Every buffer of one model shares one dtype: float32 for speed, float64 for
 * gradient checks and conformance against the float64 reference vectors.
 */
export type DType = "float32" | "float64";

/** A dense buffer of floats; the generic element of every kernel. */
export type FloatArray = Float32Array | Float64Array;

/** A zero-filled buffer of `n` elements of `dtype`. */
export function allocate(dtype: DType, n: number): FloatArray {
  return dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
}

/** The dtype of a buffer. */
export function dtypeOf(a: FloatArray): DType {
  return a instanceof Float64Array ? "float64" : "float32";
}

/** A copy of `values` converted to `dtype` (float32 rounds each element). */
export function fromValues(dtype: DType, values: ArrayLike<number>): FloatArray {
  return dtype === "float64" ? Float64Array.from(values) : Float32Array.from(values);
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** `[2, 3]` → `"(2, 3)"`, for error messages. */
export function formatShape(shape: readonly number[]): string {
  return `(${shape.join(", ")})`;
}
