import type { Backend } from "../backend/backend.js";
import { allocate, dtypeOf, type DType, type FloatArray } from "../tensor/dtype.js";
import type { Allocator } from "../tensor/workspace.js";
import type { CellConfig, CellParams, Dims, Gate } from "./types.js";

export type { CellConfig, CellParams, Dims, Gate, Nonlinearity } from "./types.js";

/** Every cell name the CLI and `parseCell` accept. */
export const CELL_NAMES = [
  "lstm",
  "lstm-peephole",
  "lstm-coupled",
  "lstm-peephole-coupled",
  "gru",
  "gru-cho",
  "lstm-hard",
  "lstm-peephole-hard",
  "lstm-coupled-hard",
  "lstm-peephole-coupled-hard",
  "gru-hard",
  "gru-cho-hard",
  "rnn",
  "rnn-tanh",
  "rnn-sigmoid",
  "rnn-relu",
] as const;

/** Suffix of the LSTM and GRU names whose gates use the hard sigmoid. */
const HARD = "-hard";

/**
 * `"lstm-peephole"` → its config. A `-hard` suffix on an LSTM or GRU name gives its hard-sigmoid
 * variant (`gate: "hard-sigmoid"`). Throws with the list of names on an unknown one.
 */
export function parseCell(name: string): CellConfig {
  if (name.endsWith(HARD) && (name.startsWith("lstm") || name.startsWith("gru"))) {
    const base = parseCellBase(name.slice(0, -HARD.length), name);
    if (base.kind !== "rnn") return { ...base, gate: "hard-sigmoid" };
  }
  return parseCellBase(name, name);
}

function parseCellBase(base: string, name: string): CellConfig {
  switch (base) {
    case "lstm":
      return { kind: "lstm", peephole: false, coupled: false };
    case "lstm-peephole":
      return { kind: "lstm", peephole: true, coupled: false };
    case "lstm-coupled":
      return { kind: "lstm", peephole: false, coupled: true };
    case "lstm-peephole-coupled":
      return { kind: "lstm", peephole: true, coupled: true };
    case "gru":
      return { kind: "gru", resetAfter: true };
    case "gru-cho":
      return { kind: "gru", resetAfter: false };
    case "rnn":
    case "rnn-tanh":
      return { kind: "rnn", nonlinearity: "tanh" };
    case "rnn-sigmoid":
      return { kind: "rnn", nonlinearity: "sigmoid" };
    case "rnn-relu":
      return { kind: "rnn", nonlinearity: "relu" };
    default:
      throw new Error(`unknown cell "${name}"; choose one of: ${CELL_NAMES.join(", ")}`);
  }
}

/** The gate function of a cell config: "sigmoid" unless an LSTM or GRU says "hard-sigmoid". */
export function gateOf(c: CellConfig): Gate {
  return c.kind !== "rnn" && c.gate === "hard-sigmoid" ? "hard-sigmoid" : "sigmoid";
}

/** The canonical name of a cell config (inverse of `parseCell`). */
export function cellName(c: CellConfig): string {
  const hard = gateOf(c) === "hard-sigmoid" ? HARD : "";
  switch (c.kind) {
    case "rnn":
      return c.nonlinearity === "tanh" ? "rnn" : `rnn-${c.nonlinearity}`;
    case "lstm":
      return ["lstm", c.peephole ? "peephole" : "", c.coupled ? "coupled" : ""].filter(Boolean).join("-") + hard;
    case "gru":
      return (c.resetAfter ? "gru" : "gru-cho") + hard;
  }
}

/** What a cell's forward step reads and writes. States are (B, H) views. */
export interface ForwardStep<C> {
  readonly backend: Backend;
  readonly p: CellParams;
  readonly dims: Dims;
  /** Processing index k (0 = first step taken, whatever the direction). */
  readonly k: number;
  /** (B, G·H) input projection W_ih x_t + b_ih of this step. */
  readonly xp: FloatArray;
  /** (B, H) */ readonly hPrev: FloatArray;
  /** (B, H), LSTM only (empty otherwise) */ readonly cPrev: FloatArray;
  /** (B, H) written */ readonly h: FloatArray;
  /** (B, H) written, LSTM only */ readonly c: FloatArray;
  readonly cache: C;
}

/** What a cell's backward step reads and writes. */
export interface BackwardStep<C> {
  readonly backend: Backend;
  readonly p: CellParams;
  /** Gradient buffers of the parameters; the step adds into dWhh, dbhh, extras (not dWih, dbih). */
  readonly dp: CellParams;
  readonly dims: Dims;
  readonly k: number;
  /** (B, H) */ readonly hPrev: FloatArray;
  /** (B, H) */ readonly cPrev: FloatArray;
  /** (B, H) the step's output state h_t */ readonly h: FloatArray;
  /** (B, H) */ readonly c: FloatArray;
  /** (B, H) total dL/dh_t, read only */ readonly dh: FloatArray;
  /** (B, H) total dL/dc_t from later steps, read only (LSTM) */ readonly dc: FloatArray;
  /** (B, G·H) written: dL/d(input projection) of this step */ readonly dxp: FloatArray;
  /** (B, H) written: dL/dh_{t-1} through this step */ readonly dhPrev: FloatArray;
  /** (B, H) written: dL/dc_{t-1} (LSTM) */ readonly dcPrev: FloatArray;
  readonly cache: C;
}

/** Extra parameter of a cell (beyond W_ih, W_hh, b_ih, b_hh): short name and PyTorch-style stem. */
export interface ExtraParam {
  readonly key: string;
  readonly stem: string;
  readonly size: (H: number) => number;
}

/**
 * One time step of a recurrent cell: forward and hand-derived backward, with the cache between
 * them. Cells never see T; `unroll` owns time.
 */
export interface Cell<C = unknown> {
  readonly config: CellConfig;
  /** Gate blocks in W_ih / W_hh rows (RNN 1, LSTM 4 or 3 coupled, GRU 3). */
  readonly G: number;
  /** Whether the cell carries a cell state c besides h (LSTM). */
  readonly hasC: boolean;
  readonly extras: readonly ExtraParam[];
  /** Buffers for every step of a run of length T, from `alloc` (default `allocate`). */
  createCache(dtype: DType, dims: Dims, alloc?: Allocator): C;
  forward(s: ForwardStep<C>): void;
  backward(s: BackwardStep<C>): void;
}

/** σ(x) = 1 / (1 + e^{−x}). */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Keras 2's and TF.js's hard sigmoid, clip(0.2·x + 0.5, 0, 1) (tfjs-layers `K.hardSigmoid`;
 * keras 2 `backend.hard_sigmoid`): 0 for x ≤ −2.5, 1 for x ≥ 2.5.
 */
export function hardSigmoid(x: number): number {
  const y = 0.2 * x + 0.5;
  return y <= 0 ? 0 : y >= 1 ? 1 : y;
}

/** A gate function and its backward step, as the cells' step code uses them. */
export interface GateFunctions {
  /** y = gate(a) */
  readonly f: (a: number) => number;
  /** dL/da = d · gate'(a), from the output y alone: d·y(1 − y) for σ; d·0.2 where 0 < y < 1, else 0, for the hard sigmoid. */
  readonly back: (d: number, y: number) => number;
}

const SIGMOID: GateFunctions = { f: sigmoid, back: (d, y) => d * y * (1 - y) };
// At the kinks a = ±2.5 themselves (a set of measure zero) this takes the flat side's slope 0;
// TF.js's clipByValue gradient passes 0.2 there.
const HARD_SIGMOID: GateFunctions = { f: hardSigmoid, back: (d, y) => (y > 0 && y < 1 ? d * 0.2 : 0) };

/** The functions of gate `gate`. */
export function gateFunctions(gate: Gate): GateFunctions {
  return gate === "hard-sigmoid" ? HARD_SIGMOID : SIGMOID;
}

/** Σ over rows of a (B, N) matrix added into `out` (N): the gradient of a bias broadcast over B. */
export function addColumnSums(out: FloatArray, m: FloatArray, B: number, N: number): void {
  for (let b = 0; b < B; b++) {
    const row = b * N;
    for (let j = 0; j < N; j++) out[j] += m[row + j];
  }
}

/** `addColumnSums` as the backend's GEMM, (1×B ones)·(B, N): for large B·N (all time steps at once). */
export function addColumnSumsGemm(backend: Backend, out: FloatArray, m: FloatArray, B: number, N: number): void {
  backend.gemm(false, false, 1, N, B, allocate(dtypeOf(m), B).fill(1), m, out, true);
}
