/**
 * Import of PyTorch-named tensors (`weight_ih_l0`, `weight_hh_l0_reverse`, `embedding.weight`, …)
 * into unroll's parameter arenas, validating everything: missing, unexpected and misshapen
 * tensors, and non-finite values, each with an error that says what to do.
 */
import type { CellConfig } from "../cells/cell.js";
import { createCell } from "../cells/index.js";
import { recurrentSpecs, type RecurrentConfig } from "../sequence/recurrent.js";
import { createArena, type Arena, type TensorSpec } from "../tensor/arena.js";
import { formatShape, sizeOf, type DType } from "../tensor/dtype.js";

/** A tensor as exported from another framework: row-major data and its shape. */
export interface NamedTensor {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

/** Tensors by name, as in a PyTorch `state_dict()`. */
export type StateDict = Readonly<Record<string, NamedTensor>>;

/** Options of `loadStateDict`. */
export interface LoadOptions {
  /** Reject tensors in `dict` that the arena has no place for (default true, as PyTorch). */
  readonly strict?: boolean;
}

/** Copies every tensor of `arena` from `dict`, by name, after checking names, shapes and values. */
export function loadStateDict(arena: Arena, dict: StateDict, opts: LoadOptions = {}): void {
  checkStateDict(arena.specs, dict, opts);
  for (const spec of arena.specs) {
    const t = dict[spec.name];
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) throw new Error(`tensor "${spec.name}" holds a non-finite value (${t.data[i]}) at flat index ${i}; the weights are unusable`);
    }
    const off = arena.offsets.get(spec.name)!;
    arena.data.set(t.data, off);
  }
}

/**
 * Checks that `dict` holds a tensor of the right shape and size for every spec (and, when
 * strict, nothing else), as `loadStateDict` does, without an arena: so that an importer can refuse
 * a state dict before allocating the parameters its names and shapes claim.
 */
export function checkStateDict(specs: readonly TensorSpec[], dict: StateDict, opts: LoadOptions = {}): void {
  const strict = opts.strict ?? true;
  const names = Object.keys(dict);
  const expected = new Set(specs.map((s) => s.name));
  const missing = specs.filter((s) => !(s.name in dict)).map((s) => s.name);
  const unexpected = names.filter((n) => !expected.has(n));
  if (missing.length > 0 || (strict && unexpected.length > 0)) {
    const lines = [];
    if (missing.length > 0) lines.push(`missing tensors: ${missing.join(", ")}`);
    if (unexpected.length > 0 && strict) lines.push(`unexpected tensors: ${unexpected.join(", ")}`);
    const hints = missing
      .map((m) => [m, closest(m, unexpected)] as const)
      .filter(([, c]) => c !== undefined)
      .map(([m, c]) => `"${c}" looks like "${m}"`);
    throw new Error(
      `state dict does not match the model: ${lines.join("; ")}.` +
        (hints.length > 0 ? ` Perhaps a name prefix differs: ${hints.join("; ")}.` : "") +
        " Check the module type, layer count, bidirectional flag and name prefix (PyTorch names them like lstm.weight_ih_l0).",
    );
  }
  for (const spec of specs) {
    const t = dict[spec.name];
    const shape = t.shape;
    if (shape.length !== spec.shape.length || shape.some((d, i) => d !== spec.shape[i])) {
      throw new Error(`tensor "${spec.name}" has shape ${formatShape(shape)} but the model expects ${formatShape(spec.shape)}; check hidden size, input size and cell type`);
    }
    if (t.data.length !== sizeOf(shape)) {
      throw new Error(`tensor "${spec.name}" declares shape ${formatShape(shape)} (${sizeOf(shape)} values) but holds ${t.data.length} values; the file is corrupt or truncated`);
    }
  }
}

/** The name in `candidates` that ends like `name` (same last segment), if any. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  const stem = name.slice(name.lastIndexOf(".") + 1);
  return candidates.find((c) => c.endsWith(stem) || c.slice(c.lastIndexOf(".") + 1) === stem);
}

/**
 * The configuration of a recurrent stack from its PyTorch tensors: layer count, direction,
 * sizes, read off the names and shapes. `cell` names the module type (its gate count is checked
 * against the tensor shapes).
 */
export function inferRecurrentConfig(dict: StateDict, cell: CellConfig, prefix = ""): RecurrentConfig {
  const w0 = dict[`${prefix}weight_ih_l0`];
  const h0 = dict[`${prefix}weight_hh_l0`];
  if (!w0 || !h0) {
    const seen = Object.keys(dict).slice(0, 8).join(", ");
    throw new Error(`no tensor "${prefix}weight_ih_l0"/"${prefix}weight_hh_l0" in the state dict (it holds: ${seen}${Object.keys(dict).length > 8 ? ", …" : ""}); pass the right prefix (e.g. "lstm.")`);
  }
  if (w0.shape.length !== 2 || h0.shape.length !== 2) throw new Error(`"${prefix}weight_ih_l0" and "${prefix}weight_hh_l0" must be matrices`);
  const H = h0.shape[1];
  const G = createCell(cell).G;
  if (h0.shape[0] !== G * H) {
    throw new Error(`"${prefix}weight_hh_l0" has shape ${formatShape(h0.shape)}, but a ${cell.kind.toUpperCase()} with hidden size ${H} needs (${G * H}, ${H}); is this the right cell type?`);
  }
  let L = 0;
  while (`${prefix}weight_ih_l${L}` in dict) L++;
  const config: RecurrentConfig = {
    cell,
    inputSize: w0.shape[1],
    hiddenSize: H,
    numLayers: L,
    bidirectional: `${prefix}weight_ih_l0_reverse` in dict,
    dropout: 0,
  };
  recurrentSpecs(config); // validates
  return config;
}

/** Builds a recurrent stack's parameters from PyTorch-named tensors (config inferred). */
export function recurrentFromStateDict(dict: StateDict, cell: CellConfig, dtype: DType, prefix = ""): { config: RecurrentConfig; params: Arena } {
  const config = inferRecurrentConfig(dict, cell, prefix);
  const params = createArena(dtype, recurrentSpecs(config, prefix));
  const own: Record<string, NamedTensor> = {};
  for (const [k, v] of Object.entries(dict)) if (k.startsWith(prefix)) own[k] = v;
  loadStateDict(params, own);
  return { config, params };
}
