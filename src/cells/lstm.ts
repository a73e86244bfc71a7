/**
 * LSTM cell in PyTorch's convention (`nn.LSTM`; Hochreiter & Schmidhuber 1997 with the forget gate
 * of Gers et al. 2000), and two variants from Olah's "Understanding LSTM Networks":
 *
 *   a = W_ih x + b_ih + W_hh h_{t-1} + b_hh                   rows (i, f, g, o), each H
 *   i = σ(a_i [+ p_i ⊙ c_{t-1}])   f = σ(a_f [+ p_f ⊙ c_{t-1}])   g = tanh(a_g)
 *   c_t = f ⊙ c_{t-1} + i ⊙ g
 *   o = σ(a_o [+ p_o ⊙ c_t])
 *   h_t = o ⊙ tanh(c_t)
 *
 * - peephole (Gers & Schmidhuber 2000, "Recurrent nets that time and count"): the bracketed
 *   diagonal terms, parameters p_i, p_f, p_o of size H.
 * - coupled input-forget gate (Greff et al. 2017, "LSTM: A Search Space Odyssey", CIFG):
 *   i = 1 − f; the weights have three row blocks (f, g, o) and no p_i.
 * - `gate: "hard-sigmoid"` (names ending in `-hard`): σ above is Keras 2's / TF.js's hard sigmoid
 *   clip(0.2·a + 0.5, 0, 1) (TF.js's default recurrentActivation); the backward pass uses its
 *   slope from the saved gate, 0.2 where 0 < gate < 1, else 0, in place of σ(1 − σ).
 *
 * Backward: docs/derivations.md §LSTM.
 */
import { addColumnSums, gateFunctions, gateOf, type Cell, type CellConfig, type ExtraParam } from "./cell.js";
import type { DType, FloatArray } from "../tensor/dtype.js";
import { allocate } from "../tensor/dtype.js";

// Dimensions: T steps, B batch, H hidden, G gate blocks (4, or 3 when coupled).

export interface LstmCache {
  /** (T, B, G·H) gate activations i, f, g, o after their nonlinearities (no i when coupled) */
  readonly gates: FloatArray;
  /** (T, B, H) tanh(c_t) */
  readonly tc: FloatArray;
}

export function lstmCell(config: Extract<CellConfig, { kind: "lstm" }>): Cell<LstmCache> {
  const { peephole, coupled } = config;
  const { f: squash, back: dgate } = gateFunctions(gateOf(config)); // the gates' σ (or hard sigmoid); dgate(d, y) = d·σ'(a) from y = σ(a)
  const G = coupled ? 3 : 4;
  // Row-block index of each gate in a (and in W_ih, W_hh, b_ih, b_hh); -1: no such block.
  const I = coupled ? -1 : 0;
  const F = coupled ? 0 : 1;
  const Gg = F + 1;
  const O = F + 2;
  const extras: ExtraParam[] = !peephole
    ? []
    : [
        ...(coupled ? [] : [{ key: "pi", stem: "weight_pi", size: (H: number) => H }]),
        { key: "pf", stem: "weight_pf", size: (H: number) => H },
        { key: "po", stem: "weight_po", size: (H: number) => H },
      ];

  return {
    config,
    G,
    hasC: true,
    extras,
    createCache: (dtype: DType, { T, B, H }, alloc = allocate) => ({
      gates: alloc(dtype, T * B * G * H, true), // every step writes its rows
      tc: alloc(dtype, T * B * H, true),
    }),

    forward({ backend, p, dims: { B, H }, k, xp, hPrev, cPrev, h, c, cache }) {
      const GH = G * H;
      const a = cache.gates.subarray(k * B * GH, (k + 1) * B * GH); // (B, G·H) pre-activation, then gates
      const tc = cache.tc.subarray(k * B * H, (k + 1) * B * H);
      for (let b = 0; b < B; b++) for (let j = 0; j < GH; j++) a[b * GH + j] = xp[b * GH + j] + p.bhh[j];
      backend.gemm(false, true, B, GH, H, hPrev, p.Whh, a, true);
      const { pi, pf, po } = p.extra;
      for (let b = 0; b < B; b++) {
        const r = b * GH;
        for (let j = 0; j < H; j++) {
          const cp = cPrev[b * H + j];
          const f = squash(a[r + F * H + j] + (peephole ? pf[j] * cp : 0));
          const i = coupled ? 1 - f : squash(a[r + I * H + j] + (peephole ? pi[j] * cp : 0));
          const g = Math.tanh(a[r + Gg * H + j]);
          const ct = f * cp + i * g;
          const o = squash(a[r + O * H + j] + (peephole ? po[j] * ct : 0));
          const t = Math.tanh(ct);
          if (!coupled) a[r + I * H + j] = i;
          a[r + F * H + j] = f;
          a[r + Gg * H + j] = g;
          a[r + O * H + j] = o;
          c[b * H + j] = ct;
          tc[b * H + j] = t;
          h[b * H + j] = o * t;
        }
      }
    },

    backward({ backend, p, dp, dims: { B, H }, k, hPrev, cPrev, c, dh, dc, dxp, dhPrev, dcPrev, cache }) {
      const GH = G * H;
      const gates = cache.gates.subarray(k * B * GH, (k + 1) * B * GH);
      const tc = cache.tc.subarray(k * B * H, (k + 1) * B * H);
      const { pi, pf, po } = p.extra;
      const { pi: dpi, pf: dpf, po: dpo } = dp.extra;
      for (let b = 0; b < B; b++) {
        const r = b * GH;
        for (let j = 0; j < H; j++) {
          const n = b * H + j;
          const f = gates[r + F * H + j];
          const i = coupled ? 1 - f : gates[r + I * H + j];
          const g = gates[r + Gg * H + j];
          const o = gates[r + O * H + j];
          const t = tc[n];
          const cp = cPrev[n];
          // h = o·tanh(c): through o, and through tanh(c) into c
          const dao = dgate(dh[n] * t, o);
          let dct = dc[n] + dh[n] * o * (1 - t * t);
          if (peephole) {
            dct += dao * po[j]; // o also sees c_t through p_o
            dpo[j] += dao * c[n];
          }
          // c = f·c_{t-1} + i·g
          const di = dct * g;
          let df = dct * cp;
          if (coupled) df -= di; // i = 1 − f
          const daf = dgate(df, f);
          const dag = dct * i * (1 - g * g);
          let dcp = dct * f;
          if (peephole) {
            dcp += daf * pf[j];
            dpf[j] += daf * cp;
          }
          if (!coupled) {
            const dai = dgate(di, i);
            dxp[r + I * H + j] = dai;
            if (peephole) {
              dcp += dai * pi[j];
              dpi[j] += dai * cp;
            }
          }
          dxp[r + F * H + j] = daf;
          dxp[r + Gg * H + j] = dag;
          dxp[r + O * H + j] = dao;
          dcPrev[n] = dcp;
        }
      }
      // a = ... + W_hh h_{t-1} + b_hh
      addColumnSums(dp.bhh, dxp, B, GH);
      backend.gemm(true, false, GH, H, B, dxp, hPrev, dp.Whh, true);
      backend.gemm(false, false, B, H, GH, dxp, p.Whh, dhPrev, false);
    },
  };
}
