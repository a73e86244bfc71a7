import type { Backend } from "../backend/backend.js";
import { allocate, dtypeOf, type DType, type FloatArray } from "../tensor/dtype.js";
import type { Allocator } from "../tensor/workspace.js";
import type { CellConfig, CellParams, Dims } from "./types.js";

export type { CellConfig, CellParams, Dims, Nonlinearity } from "./types.js";

/** Every cell name the CLI and `parseCell` accept. */
export const CELL_NAMES = [
  "lstm",
  "lstm-peephole",
  "lstm-coupled",
  "lstm-peephole-coupled",
  "gru",
  "gru-cho",
  "rnn",
  "rnn-tanh",
  "rnn-sigmoid",
  "rnn-relu",
] as const;

/** `"lstm-peephole"` → its config. Throws with the list of names on an unknown one. */
export function parseCell(name: string): CellConfig {
  switch (name) {
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

/** The canonical name of a cell config (inverse of `parseCell`). */
export function cellName(c: CellConfig): string {
  switch (c.kind) {
    case "rnn":
      return c.nonlinearity === "tanh" ? "rnn" : `rnn-${c.nonlinearity}`;
    case "lstm":
      return ["lstm", c.peephole ? "peephole" : "", c.coupled ? "coupled" : ""].filter(Boolean).join("-");
    case "gru":
      return c.resetAfter ? "gru" : "gru-cho";
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
