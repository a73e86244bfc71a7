/**
 * The data for an unrolled picture of backpropagation through time on a short text: per step the
 * input token, every layer's h_t (and c_t and the gates), the output distribution's top-k and the
 * loss term −log p(x_{t+1}), and the backward pass — per layer ∂L/∂h_t (and ∂L/∂c_t for an LSTM)
 * for the summed cross-entropy L = Σ_t −log p(x_{t+1} | x_≤t), and the same for the loss of the
 * last prediction alone, L_last = −log p(x_{T−1} | x_<T−1), whose gradients shrink (or grow) the
 * further back they reach: the vanishing-gradient picture (Bengio et al. 1994; Pascanu et al. 2013).
 *
 * The forward pass is `traceText`'s (the library's `languageModelForward`). The backward pass is
 * the library's own: the output layer's transposed product, then per layer, top down, the loop of
 * `unrollBackward` (src/sequence/unroll.ts) over the cell's hand-derived backward step
 * (`Cell.backward`) on the forward pass's caches, here run step by step so that the carries it
 * passes between steps can be recorded:
 *
 *   ∂L/∂h_t = (∂L/∂y_t, from the output layer or the layer above) + (∂L/∂h_t through step t+1)
 *
 * — the total derivative of L by h_t, the layer's output at t, which feeds both the next step and
 * what reads the layer at t. For an LSTM, ∂L/∂c_t is likewise the total, c_t perturbed where it is
 * computed (so h_t = o_t ⊙ tanh(c_t) sees it too):
 *
 *   ∂L/∂c_t = ∂L/∂h_t ⊙ o_t ⊙ (1 − tanh² c_t) [+ peephole: through o_t] + (∂L/∂c_t through step t+1)
 *
 * the "constant error carousel". The parameter gradients the steps also produce are discarded.
 * test/inspect.test.ts checks every carry against central finite differences of an independent
 * float64 forward pass.
 */
import type { Backend } from "../backend/backend.js";
import { gateFunctions, gateOf } from "../cells/cell.js";
import { bindLanguageModel, createGradients, type LanguageModel, type LanguageModelPass } from "../model/language-model.js";
import type { TrainedModel } from "../model/trained.js";
import { allocate, type FloatArray } from "../tensor/dtype.js";
import { tokenText } from "../text/vocab.js";
import { tracePass, tracePredictions, type TextTrace, type TokenPrediction, type TraceOptions, type TraceQuantity } from "./trace.js";

// Dimensions: T steps, H hidden, V vocabulary, G gate blocks, L layers.

/** One layer at one step of an unrolled run. Vectors are (H) views into the run's buffers. */
export interface UnrolledLayer {
  readonly h: FloatArray;
  /** LSTM only */
  readonly c: FloatArray | null;
  /** the gate activations: i, f, g, o (LSTM), r, z, n (GRU), none (RNN) */
  readonly gates: Readonly<Partial<Record<TraceQuantity, FloatArray>>>;
  /** ∂L/∂h_t, L the summed cross-entropy of the text */
  readonly dh: FloatArray;
  readonly dhNorm: number;
  /** ∂L/∂c_t (LSTM), else null */
  readonly dc: FloatArray | null;
  readonly dcNorm: number | null;
  /** ∂L_last/∂h_t, L_last the loss of the last prediction only (zero at the last step, which predicts nothing) */
  readonly dhLast: FloatArray;
  readonly dhLastNorm: number;
  readonly dcLast: FloatArray | null;
  readonly dcLastNorm: number | null;
}

/** One step of an unrolled run. */
export interface UnrolledStep {
  readonly t: number;
  /** the input token x_t */
  readonly id: number;
  readonly token: string;
  /** the token that came next, x_{t+1}, or null at the last step */
  readonly targetId: number | null;
  readonly targetToken: string | null;
  /** the k most likely next tokens */
  readonly top: readonly TokenPrediction[];
  /** p(x_{t+1} | x_≤t), or null at the last step */
  readonly p: number | null;
  /** −log p(x_{t+1} | x_≤t) in nats, or null at the last step */
  readonly loss: number | null;
  readonly layers: readonly UnrolledLayer[];
}

/** Backward carries per layer, (T, H) each. */
export interface UnrolledGradients {
  readonly dh: readonly FloatArray[];
  /** LSTM only */
  readonly dc: readonly FloatArray[] | null;
}

/** What `unrolledSteps` returns. */
export interface UnrolledRun {
  readonly trace: TextTrace;
  readonly steps: readonly UnrolledStep[];
  /** L = Σ_t −log p(x_{t+1} | x_≤t), nats (summed, not averaged) */
  readonly loss: number;
  /** L_last = −log p(x_{T−1} | x_<T−1) */
  readonly lastLoss: number;
  /** symbols of the text not in the vocabulary (skipped) */
  readonly unknown: number;
  /** (T, H) per layer: ∂L/∂h_t and ∂L/∂c_t */
  readonly grads: UnrolledGradients;
  /** (T, H) per layer: ∂L_last/∂h_t and ∂L_last/∂c_t */
  readonly lastGrads: UnrolledGradients;
}

/**
 * Forward and backward pass over a short text (at least two known tokens), laid out step by step
 * for an unrolled view of BPTT (see the module comment). Unknown characters are skipped.
 */
export function unrolledSteps(lm: TrainedModel, text: string, o: TraceOptions = {}): UnrolledRun {
  const { trace, pass, backend } = tracePass(lm, text, o, "unrolledSteps");
  const T = trace.steps;
  if (T < 2) throw new Error(`unrolledSteps needs at least 2 known tokens (one prediction to take the gradient of); the text has ${T}`);
  const model = lm.model;
  const { hiddenSize: H, vocabSize: V, numLayers: L } = model.config;
  const dtype = model.params.dtype;
  const ids = trace.ids;

  // dL/dlogits: softmax − one-hot of the next token, per predicting row (summed loss: no 1/N).
  const dSum = allocate(dtype, T * V);
  const dLast = allocate(dtype, T * V);
  const p = new Float64Array(V);
  for (let t = 0; t + 1 < T; t++) {
    const z = pass.logits.subarray(t * V, (t + 1) * V);
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (z[v] > max) max = z[v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += p[v] = Math.exp(z[v] - max);
    for (let v = 0; v < V; v++) dSum[t * V + v] = (p[v] /= sum) - (v === ids[t + 1] ? 1 : 0);
    if (t === T - 2) dLast.set(dSum.subarray(t * V, (t + 1) * V), t * V);
  }
  const scratch = createGradients(model); // the parameter gradients of the steps: discarded
  const grads = carries(backend, model, pass, dSum, scratch);
  const lastGrads = carries(backend, model, pass, dLast, scratch);

  const steps: UnrolledStep[] = [];
  let loss = 0;
  for (let t = 0; t < T; t++) {
    const layers: UnrolledLayer[] = [];
    for (let l = 0; l < L; l++) {
      const at = (a: FloatArray) => a.subarray(t * H, (t + 1) * H);
      const lt = trace.layers[l];
      const gates: Partial<Record<TraceQuantity, FloatArray>> = {};
      for (const q of trace.quantities) if (q !== "h" && q !== "c") gates[q] = at(lt[q]!);
      const dh = at(grads.dh[l]);
      const dc = grads.dc ? at(grads.dc[l]) : null;
      const dhLast = at(lastGrads.dh[l]);
      const dcLast = lastGrads.dc ? at(lastGrads.dc[l]) : null;
      layers.push({
        h: at(lt.h!),
        c: lt.c ? at(lt.c) : null,
        gates,
        dh,
        dhNorm: norm(dh),
        dc,
        dcNorm: dc ? norm(dc) : null,
        dhLast,
        dhLastNorm: norm(dhLast),
        dcLast,
        dcLastNorm: dcLast ? norm(dcLast) : null,
      });
    }
    const next = t + 1 < T ? ids[t + 1] : null;
    const lt = trace.nextLoss[t];
    if (lt !== null) loss += lt;
    steps.push({
      t,
      id: ids[t],
      token: trace.tokens[t],
      targetId: next,
      targetToken: next === null ? null : tokenText(lm.vocab, next, ids[t]),
      top: tracePredictions(trace, t),
      p: trace.nextProb[t],
      loss: lt,
      layers,
    });
  }
  return { trace, steps, loss, lastLoss: trace.nextLoss[T - 2]!, unknown: trace.unknown, grads, lastGrads };
}

function norm(a: FloatArray): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/**
 * Backpropagation from dL/dlogits (T, V) through the output layer and every layer of the stack,
 * recording per layer the total ∂L/∂h_t and (LSTM) ∂L/∂c_t of every step. The loop is
 * `unrollBackward`'s with the library's cell step; parameter gradients go into `scratch`.
 */
function carries(backend: Backend, model: LanguageModel, pass: LanguageModelPass, dlogits: FloatArray, scratch: LanguageModel["params"]): UnrolledGradients {
  const c = model.config;
  const dtype = model.params.dtype;
  const { hiddenSize: H, vocabSize: V, numLayers: L } = c;
  const T = pass.T;
  const v = bindLanguageModel(c, model.params);
  const g = bindLanguageModel(c, scratch);
  const cell = v.rnn.cell;
  const lstm = c.cell.kind === "lstm" ? c.cell : null;
  const GH = cell.G * H;
  const O = lstm ? (lstm.coupled ? 2 : 3) : -1; // row block of the output gate in the LSTM's cache
  const dims = { T, B: 1, H };
  const dhs: FloatArray[] = new Array(L);
  const dcs: FloatArray[] | null = lstm ? new Array(L) : null;
  // dL/dy of the top layer: dlogits (T, V) · W (V, H)
  let dy = allocate(dtype, T * H);
  backend.gemm(false, false, T, H, V, dlogits, v.W, dy, false);
  const dxp = allocate(dtype, T * GH);
  let dh = allocate(dtype, H);
  let dhPrev = allocate(dtype, H);
  let dc = allocate(dtype, lstm ? H : 0);
  let dcPrev = allocate(dtype, lstm ? H : 0);
  for (let l = L - 1; l >= 0; l--) {
    const run = pass.rnn.runs[l];
    const p = v.rnn.dirs[l];
    const gates = lstm ? (run.cell as { gates: FloatArray }).gates : null;
    const po = lstm?.peephole ? p.extra.po : null;
    const dgate = gateFunctions(gateOf(c.cell)).back; // d·σ'(a) from σ(a), or the hard sigmoid's
    const dhAll = allocate(dtype, T * H);
    const dcAll = lstm ? allocate(dtype, T * H) : null;
    dh.fill(0);
    dc.fill(0);
    for (let k = T - 1; k >= 0; k--) {
      const t = k; // one forward direction
      for (let j = 0; j < H; j++) dh[j] += dy[t * H + j];
      dhAll.set(dh, t * H);
      if (dcAll && gates) {
        for (let j = 0; j < H; j++) {
          const ct = run.cs[(k + 1) * H + j];
          const o = gates[k * GH + O * H + j];
          const tc = Math.tanh(ct);
          let total = dc[j] + dh[j] * o * (1 - tc * tc);
          if (po) total += dgate(dh[j] * tc, o) * po[j]; // o_t = σ(… + p_o ⊙ c_t) sees c_t too
          dcAll[t * H + j] = total;
        }
      }
      cell.backward({
        backend,
        p,
        dp: g.rnn.dirs[l],
        dims,
        k,
        hPrev: run.hs.subarray(k * H, (k + 1) * H),
        h: run.hs.subarray((k + 1) * H, (k + 2) * H),
        cPrev: lstm ? run.cs.subarray(k * H, (k + 1) * H) : run.cs,
        c: lstm ? run.cs.subarray((k + 1) * H, (k + 2) * H) : run.cs,
        dh,
        dc,
        dxp: dxp.subarray(t * GH, (t + 1) * GH),
        dhPrev,
        dcPrev,
        cache: run.cell,
      });
      [dh, dhPrev] = [dhPrev, dh];
      [dc, dcPrev] = [dcPrev, dc];
    }
    dhs[l] = dhAll;
    if (dcs && dcAll) dcs[l] = dcAll;
    if (l > 0) {
      // dL/d(this layer's input) = dxp (T, G·H) · W_ih (G·H, H): the layer below's dL/dy (no dropout at inference)
      const below = allocate(dtype, T * H);
      backend.gemm(false, false, T, H, GH, dxp, p.Wih, below, false);
      dy = below;
    }
  }
  return { dh: dhs, dc: dcs };
}
