/**
 * Elman RNN cell (Goodfellow et al., Deep Learning, §10.2; PyTorch `nn.RNN`):
 *
 *   h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),   f ∈ {tanh, σ, relu}
 *
 * Backward (docs/derivations.md §RNN), with a = the pre-activation:
 *   da = dh ⊙ f'(a)   where f'(a) = 1 − h², h(1 − h), or [h > 0]
 *   dW_hh += daᵀ h_{t-1},  db_hh += Σ_b da,  dh_{t-1} = da W_hh,  d(xp) = da
 */
import { addColumnSums, sigmoid, type Cell, type CellConfig, type Nonlinearity } from "./cell.js";

// Dimensions: B batch, H hidden.

export function rnnCell(config: Extract<CellConfig, { kind: "rnn" }>): Cell<null> {
  const f = config.nonlinearity;
  return {
    config,
    G: 1,
    hasC: false,
    extras: [],
    createCache: () => null,
    forward({ backend, p, dims: { B, H }, xp, hPrev, h }) {
      // h = xp + b_hh + h_{t-1} W_hhᵀ, then f in place
      for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) h[b * H + j] = xp[b * H + j] + p.bhh[j];
      backend.gemm(false, true, B, H, H, hPrev, p.Whh, h, true);
      activate(f, h, B * H);
    },
    backward({ backend, p, dp, dims: { B, H }, hPrev, h, dh, dxp, dhPrev }) {
      // f'(a) from the output h alone: no pre-activation needs to be kept.
      for (let i = 0; i < B * H; i++) dxp[i] = dh[i] * derivative(f, h[i]);
      addColumnSums(dp.bhh, dxp, B, H);
      backend.gemm(true, false, H, H, B, dxp, hPrev, dp.Whh, true);
      backend.gemm(false, false, B, H, H, dxp, p.Whh, dhPrev, false);
    },
  };
}

function activate(f: Nonlinearity, a: Float32Array | Float64Array, n: number): void {
  if (f === "tanh") for (let i = 0; i < n; i++) a[i] = Math.tanh(a[i]);
  else if (f === "sigmoid") for (let i = 0; i < n; i++) a[i] = sigmoid(a[i]);
  else for (let i = 0; i < n; i++) a[i] = a[i] > 0 ? a[i] : 0;
}

/** f'(a) written in terms of h = f(a). */
function derivative(f: Nonlinearity, h: number): number {
  if (f === "tanh") return 1 - h * h;
  if (f === "sigmoid") return h * (1 - h);
  return h > 0 ? 1 : 0;
}
