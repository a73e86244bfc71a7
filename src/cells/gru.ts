/**
 * GRU cell, rows (r, z, n), each H.
 *
 * PyTorch's GRU (`nn.GRU`; Keras `reset_after=True`), reset applied after the recurrent product:
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr)
 *   z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
 *   h_t = (1 − z) ⊙ n + z ⊙ h
 *
 * Cho et al. (2014), "Learning Phrase Representations using RNN Encoder–Decoder", eq. 5–8: the
 * original GRU, reset applied to h before the product ("gru-cho"):
 *   n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
 *
 * `gate: "hard-sigmoid"` (names ending in `-hard`): σ above is Keras 2's / TF.js's hard sigmoid
 * clip(0.2·a + 0.5, 0, 1); the backward pass uses its slope from the saved gate, 0.2 where
 * 0 < gate < 1, else 0, in place of σ(1 − σ).
 *
 * Backward: docs/derivations.md §GRU.
 */
import { addColumnSums, gateFunctions, gateOf, type Cell, type CellConfig } from "./cell.js";
import { allocate, type DType, type FloatArray } from "../tensor/dtype.js";

// Dimensions: T steps, B batch, H hidden.

export interface GruCache {
  /** (T, B, 3H) r, z, n after their nonlinearities */
  readonly gates: FloatArray;
  /** (T, B, H) W_hn h + b_hn (reset after) or r ⊙ h (Cho) */
  readonly hn: FloatArray;
  /** (B, 3H) scratch: the recurrent products of one step */
  readonly rec: FloatArray;
  /** (B, H) scratch: dL/d(r ⊙ h) (Cho) */
  readonly drh: FloatArray;
}

export function gruCell(config: Extract<CellConfig, { kind: "gru" }>): Cell<GruCache> {
  const resetAfter = config.resetAfter;
  const { f: squash, back: dgate } = gateFunctions(gateOf(config)); // the gates' σ (or hard sigmoid); dgate(d, y) = d·σ'(a) from y = σ(a)
  return {
    config,
    G: 3,
    hasC: false,
    extras: [],
    createCache: (dtype: DType, { T, B, H }, alloc = allocate) => ({
      gates: alloc(dtype, T * B * 3 * H, true), // every step writes its rows
      hn: alloc(dtype, T * B * H, true),
      rec: allocate(dtype, B * 3 * H),
      drh: allocate(dtype, B * H),
    }),

    forward({ backend, p, dims: { B, H }, k, xp, hPrev, h, cache }) {
      const H3 = 3 * H;
      const gates = cache.gates.subarray(k * B * H3, (k + 1) * B * H3);
      const hn = cache.hn.subarray(k * B * H, (k + 1) * B * H);
      const rec = cache.rec;
      if (resetAfter) {
        // rec = h W_hhᵀ + b_hh, all three blocks at once
        for (let b = 0; b < B; b++) rec.set(p.bhh, b * H3);
        backend.gemm(false, true, B, H3, H, hPrev, p.Whh, rec, true);
        for (let b = 0; b < B; b++) {
          const row = b * H3;
          for (let j = 0; j < H; j++) {
            const r = squash(xp[row + j] + rec[row + j]);
            const z = squash(xp[row + H + j] + rec[row + H + j]);
            const hnj = rec[row + 2 * H + j];
            const n = Math.tanh(xp[row + 2 * H + j] + r * hnj);
            gates[row + j] = r;
            gates[row + H + j] = z;
            gates[row + 2 * H + j] = n;
            hn[b * H + j] = hnj;
            h[b * H + j] = (1 - z) * n + z * hPrev[b * H + j];
          }
        }
      } else {
        // r, z from the (B, 2H) product with the first two row blocks; then n from r ⊙ h.
        const rz = rec.subarray(0, B * 2 * H);
        const hh = rec.subarray(B * 2 * H, B * 3 * H);
        for (let b = 0; b < B; b++) rz.set(p.bhh.subarray(0, 2 * H), b * 2 * H);
        backend.gemm(false, true, B, 2 * H, H, hPrev, p.Whh.subarray(0, 2 * H * H), rz, true);
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < H; j++) {
            const r = squash(xp[b * H3 + j] + rz[b * 2 * H + j]);
            gates[b * H3 + j] = r;
            gates[b * H3 + H + j] = squash(xp[b * H3 + H + j] + rz[b * 2 * H + H + j]);
            hn[b * H + j] = r * hPrev[b * H + j];
          }
        }
        for (let b = 0; b < B; b++) hh.set(p.bhh.subarray(2 * H, 3 * H), b * H);
        backend.gemm(false, true, B, H, H, hn, p.Whh.subarray(2 * H * H), hh, true);
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < H; j++) {
            const z = gates[b * H3 + H + j];
            const n = Math.tanh(xp[b * H3 + 2 * H + j] + hh[b * H + j]);
            gates[b * H3 + 2 * H + j] = n;
            h[b * H + j] = (1 - z) * n + z * hPrev[b * H + j];
          }
        }
      }
    },

    backward({ backend, p, dp, dims: { B, H }, k, hPrev, dh, dxp, dhPrev, cache }) {
      const H3 = 3 * H;
      const gates = cache.gates.subarray(k * B * H3, (k + 1) * B * H3);
      const hn = cache.hn.subarray(k * B * H, (k + 1) * B * H);
      if (resetAfter) {
        // drec (B, 3H) = dL/d(h W_hhᵀ + b_hh), kept in the scratch buffer
        const drec = cache.rec;
        for (let b = 0; b < B; b++) {
          const row = b * H3;
          for (let j = 0; j < H; j++) {
            const r = gates[row + j];
            const z = gates[row + H + j];
            const n = gates[row + 2 * H + j];
            const d = dh[b * H + j];
            const dan = d * (1 - z) * (1 - n * n); // through n = tanh(a_n)
            const daz = dgate(d * (hPrev[b * H + j] - n), z);
            const dar = dgate(dan * hn[b * H + j], r); // r multiplies (W_hn h + b_hn)
            dxp[row + j] = dar;
            dxp[row + H + j] = daz;
            dxp[row + 2 * H + j] = dan;
            drec[row + j] = dar;
            drec[row + H + j] = daz;
            drec[row + 2 * H + j] = dan * r;
            dhPrev[b * H + j] = d * z; // direct path h_t = … + z ⊙ h
          }
        }
        addColumnSums(dp.bhh, drec, B, H3);
        backend.gemm(true, false, H3, H, B, drec, hPrev, dp.Whh, true);
        backend.gemm(false, false, B, H, H3, drec, p.Whh, dhPrev, true);
      } else {
        const drh = cache.drh;
        const dan = cache.rec.subarray(0, B * H); // (B, H) dL/da_n, contiguous for the GEMMs
        for (let b = 0; b < B; b++) {
          const row = b * H3;
          for (let j = 0; j < H; j++) {
            const z = gates[row + H + j];
            const n = gates[row + 2 * H + j];
            const d = dh[b * H + j];
            const da = d * (1 - z) * (1 - n * n);
            dan[b * H + j] = da;
            dxp[row + 2 * H + j] = da;
            dxp[row + H + j] = dgate(d * (hPrev[b * H + j] - n), z);
            dhPrev[b * H + j] = d * z;
          }
        }
        // a_n = … + W_hn (r ⊙ h) + b_hn
        const Whn = p.Whh.subarray(2 * H * H);
        addColumnSums(dp.bhh.subarray(2 * H), dan, B, H);
        backend.gemm(true, false, H, H, B, dan, hn, dp.Whh.subarray(2 * H * H), true);
        backend.gemm(false, false, B, H, H, dan, Whn, drh, false);
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < H; j++) {
            const r = gates[b * H3 + j];
            dxp[b * H3 + j] = dgate(drh[b * H + j] * hPrev[b * H + j], r);
            dhPrev[b * H + j] += drh[b * H + j] * r;
          }
        }
        // r and z blocks: a_rz = … + W_hh[0:2H] h + b_hh[0:2H]; their dxp rows are strided, so
        // gather them into the (B, 2H) scratch first.
        const drz = cache.rec.subarray(B * H, B * 3 * H);
        for (let b = 0; b < B; b++) drz.set(dxp.subarray(b * H3, b * H3 + 2 * H), b * 2 * H);
        addColumnSums(dp.bhh, drz, B, 2 * H);
        backend.gemm(true, false, 2 * H, H, B, drz, hPrev, dp.Whh.subarray(0, 2 * H * H), true);
        backend.gemm(false, false, B, H, 2 * H, drz, p.Whh.subarray(0, 2 * H * H), dhPrev, true);
      }
    },
  };
}
