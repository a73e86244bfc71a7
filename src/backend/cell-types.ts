/**
 * The plain data types of cells, shared by the cells and the backends (a backend's fused kernels
 * take them): in the backend layer, below the cells, so the cells import it and not the other
 * way round.
 */
import type { FloatArray } from "../tensor/dtype.js";

/** Elementwise nonlinearity of a vanilla RNN. */
export type Nonlinearity = "tanh" | "sigmoid" | "relu";

/**
 * The squashing function of the LSTM and GRU gates (i, f, o; r, z):
 * - `sigmoid`: the logistic σ(x) = 1 / (1 + e^{−x}) (PyTorch; Keras ≥ 2.3's default).
 * - `hard-sigmoid`: clip(0.2·x + 0.5, 0, 1), Keras 2's and TF.js's `hard_sigmoid` (TF.js's
 *   default `recurrentActivation`); derivative 0.2 where 0 < y < 1, else 0. (Keras 3's
 *   `hard_sigmoid`, relu6(x + 3) / 6, is a different function.)
 */
export type Gate = "sigmoid" | "hard-sigmoid";

/**
 * Which recurrent cell, and which named variant of it.
 * - `rnn`: Elman RNN, h = f(W_ih x + b_ih + W_hh h + b_hh).
 * - `lstm`: PyTorch's LSTM (gates i, f, g, o). `peephole`: Gers & Schmidhuber (2000) diagonal
 *   peephole connections from the cell state into i, f (c_{t-1}) and o (c_t). `coupled`: the
 *   coupled input-forget gate, i = 1 − f (no i rows; gates f, g, o).
 * - `gru`: PyTorch's GRU, reset applied after the recurrent product (`resetAfter: true`, as Keras'
 *   `reset_after`), or Cho et al. (2014)'s original GRU, reset applied to h before the product
 *   (`resetAfter: false`, named "gru-cho").
 * - `gate` (LSTM and GRU): the gates' squashing function; absent means "sigmoid". Hard-sigmoid
 *   cells are named with a `-hard` suffix ("lstm-hard", "gru-cho-hard", …).
 */
export type CellConfig =
  | { readonly kind: "rnn"; readonly nonlinearity: Nonlinearity }
  | { readonly kind: "lstm"; readonly peephole: boolean; readonly coupled: boolean; readonly gate?: Gate }
  | { readonly kind: "gru"; readonly resetAfter: boolean; readonly gate?: Gate };

/** The parameters of one direction of one layer, as views into the model's arena. */
export interface CellParams {
  /** (G·H, I) */ readonly Wih: FloatArray;
  /** (G·H, H) */ readonly Whh: FloatArray;
  /** (G·H) */ readonly bih: FloatArray;
  /** (G·H) */ readonly bhh: FloatArray;
  /** Cell-specific extras by short name (LSTM peepholes: `pi`, `pf`, `po`, each (H)). */
  readonly extra: Readonly<Record<string, FloatArray>>;
}

/** Dimensions of one unrolled run. */
export interface Dims {
  readonly T: number;
  readonly B: number;
  readonly H: number;
}
