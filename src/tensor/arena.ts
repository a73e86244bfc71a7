import { allocate, type DType, type FloatArray, sizeOf, formatShape } from "./dtype.js";

/** A named tensor slot: where a parameter lives and its shape. */
export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/**
 * One flat buffer holding many named tensors back to back. Parameters live in one arena;
 * gradients and optimizer moments live in arenas of the same layout (`mirrorArena`), so an
 * optimizer, gradient clipping, a checkpoint or a gradient check is one loop over `data`.
 */
export interface Arena {
  readonly dtype: DType;
  readonly data: FloatArray;
  readonly specs: readonly TensorSpec[];
  /** Offset of each tensor in `data`, by name. */
  readonly offsets: ReadonlyMap<string, number>;
}

/** An arena for `specs`, zero-filled. Names must be unique. */
export function createArena(dtype: DType, specs: readonly TensorSpec[]): Arena {
  const offsets = new Map<string, number>();
  let n = 0;
  for (const s of specs) {
    if (offsets.has(s.name)) throw new Error(`duplicate tensor name "${s.name}" in one arena`);
    offsets.set(s.name, n);
    n += sizeOf(s.shape);
  }
  return { dtype, data: allocate(dtype, n), specs, offsets };
}

/** A zero-filled arena with the same layout as `arena` (for gradients, optimizer moments). */
export function mirrorArena(arena: Arena, dtype: DType = arena.dtype): Arena {
  return { dtype, data: allocate(dtype, arena.data.length), specs: arena.specs, offsets: arena.offsets };
}

/** The spec of tensor `name`, or undefined. */
export function specOf(arena: Arena, name: string): TensorSpec | undefined {
  return arena.specs.find((s) => s.name === name);
}

/** A live view (no copy) of tensor `name` in `arena`. */
export function view(arena: Arena, name: string): FloatArray {
  const off = arena.offsets.get(name);
  const spec = specOf(arena, name);
  if (off === undefined || spec === undefined) {
    throw new Error(`no tensor "${name}" in this arena; it holds: ${arena.specs.map((s) => s.name).join(", ")}`);
  }
  return arena.data.subarray(off, off + sizeOf(spec.shape));
}

/** Copies `values` into tensor `name`, checking the element count. */
export function assign(arena: Arena, name: string, values: ArrayLike<number>): void {
  const v = view(arena, name);
  if (values.length !== v.length) {
    const spec = specOf(arena, name)!;
    throw new Error(`tensor "${name}" has shape ${formatShape(spec.shape)} (${v.length} values), got ${values.length} values`);
  }
  v.set(values);
}
