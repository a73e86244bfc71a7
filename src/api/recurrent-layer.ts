/**
 * A recurrent layer for library users, PyTorch-style: `recurrentLayer({ cell: "lstm",
 * inputSize, hiddenSize, numLayers, bidirectional })`, then `forward` and `backward` on tensors
 * (T, B, I), or (B, T, I) with `batchFirst`. Everything a caller passes is checked here.
 */
import type { Backend } from "../backend/backend.js";
import { getBackend } from "../backend/select.js";
import { parseCell, type CellConfig } from "../cells/cell.js";
import { pytorchRnnUniform } from "../train/init.js";
import { loadStateDict, type StateDict } from "./state-dict.js";
import {
  bindRecurrent,
  directions,
  recurrentBackward,
  recurrentForward,
  recurrentSpecs,
  transposeTB,
  type Recurrent,
  type RecurrentConfig,
  type RecurrentPass,
} from "../sequence/recurrent.js";
import { createArena, mirrorArena, type Arena } from "../tensor/arena.js";
import type { DType } from "../tensor/dtype.js";
import { Rng } from "../tensor/random.js";
import { checkTensor, tensor, type Tensor } from "./tensor.js";

/** Options of `recurrentLayer`; omitted ones take PyTorch's defaults. */
export interface RecurrentLayerOptions {
  /** A cell name ("lstm", "gru", "gru-cho", "rnn-relu", "lstm-peephole", …) or config. */
  readonly cell: string | CellConfig;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers?: number;
  readonly bidirectional?: boolean;
  readonly dropout?: number;
  readonly dtype?: DType;
  /** Seed of PyTorch's U(±1/√H) initialisation (default 0). */
  readonly seed?: number;
  /** Backend name (default: the fastest available). */
  readonly backend?: string;
}

/** A recurrent layer: config, parameters and their gradients (same layout). */
export interface RecurrentLayer {
  readonly kind: "recurrent-layer";
  readonly config: RecurrentConfig;
  readonly dtype: DType;
  readonly params: Arena;
  /** Gradients, added to by `backward`; zero them with `grads.data.fill(0)`. */
  readonly grads: Arena;
  readonly backend: Backend;
}

/** A new layer with PyTorch's default initialisation. */
export function recurrentLayer(o: RecurrentLayerOptions): RecurrentLayer {
  const config: RecurrentConfig = {
    cell: typeof o.cell === "string" ? parseCell(o.cell) : o.cell,
    inputSize: o.inputSize,
    hiddenSize: o.hiddenSize,
    numLayers: o.numLayers ?? 1,
    bidirectional: o.bidirectional ?? false,
    dropout: o.dropout ?? 0,
  };
  const dtype = o.dtype ?? "float32";
  const params = createArena(dtype, recurrentSpecs(config));
  pytorchRnnUniform(params.data, config.hiddenSize, Rng.seeded(o.seed ?? 0));
  return { kind: "recurrent-layer", config, dtype, params, grads: mirrorArena(params), backend: getBackend(o.backend) };
}

/** Replaces the layer's parameters with PyTorch-named tensors (`weight_ih_l0`, …), all checked. */
export function loadLayerWeights(layer: RecurrentLayer, dict: StateDict): void {
  loadStateDict(layer.params, dict);
}

/** Options of `forward`. */
export interface LayerForwardOptions {
  /** x and y are (B, T, ·) instead of (T, B, ·). */
  readonly batchFirst?: boolean;
  /** (L·D, B, H) initial hidden state; zeros when omitted. */
  readonly h0?: Tensor;
  /** (L·D, B, H) initial cell state (LSTM); zeros when omitted. */
  readonly c0?: Tensor;
  /** Apply dropout between layers (needs `rng`). */
  readonly training?: boolean;
  readonly rng?: Rng;
}

/** The result of `forward`; pass it to `backward`. */
export interface LayerOutput {
  /** (T, B, D·H), or (B, T, D·H) with batchFirst */ readonly y: Tensor;
  /** (L·D, B, H) */ readonly hN: Tensor;
  /** (L·D, B, H), LSTM only */ readonly cN: Tensor | null;
  readonly pass: RecurrentPass;
  readonly batchFirst: boolean;
}

function views(layer: RecurrentLayer): { r: Recurrent; g: Recurrent } {
  return { r: bindRecurrent(layer.config, layer.params), g: bindRecurrent(layer.config, layer.grads) };
}

/** Runs the layer over a sequence. */
export function forward(layer: RecurrentLayer, x: Tensor, o: LayerForwardOptions = {}): LayerOutput {
  const c = layer.config;
  const bf = o.batchFirst ?? false;
  const layout = bf ? "(B, T, inputSize)" : "(T, B, inputSize)";
  checkTensor(x, [null, null, c.inputSize], "x", `x is ${layout}${bf ? "" : " (pass batchFirst: true for (B, T, inputSize))"} with inputSize ${c.inputSize}`);
  if (x.data.constructor !== layer.params.data.constructor) throw new Error(`x is ${x.data.constructor.name} but the layer is ${layer.dtype}; convert one of them`);
  const [T, B] = bf ? [x.shape[1], x.shape[0]] : [x.shape[0], x.shape[1]];
  if (T < 1 || B < 1) throw new Error(`x has shape (${x.shape.join(", ")}): the sequence length and batch must be at least 1`);
  const LD = c.numLayers * directions(c);
  const H = c.hiddenSize;
  const { r } = views(layer);
  if (o.h0) checkTensor(o.h0, [LD, B, H], "h0", "initial states are (numLayers·directions, B, hiddenSize)");
  if (o.c0) {
    if (!r.cell.hasC) throw new Error(`c0 was given but a ${c.cell.kind.toUpperCase()} has no cell state; pass only h0`);
    checkTensor(o.c0, [LD, B, H], "c0", "initial states are (numLayers·directions, B, hiddenSize)");
  }
  const xt = bf ? transposeTB(x.data, B, T, c.inputSize) : x.data;
  const pass = recurrentForward(layer.backend, r, layer.dtype, xt, T, B, o.h0?.data ?? null, o.c0?.data ?? null, o);
  const DH = directions(c) * H;
  const y = bf ? tensor(transposeTB(pass.y, T, B, DH), [B, T, DH]) : tensor(pass.y, [T, B, DH]);
  return { y, hN: tensor(pass.hN, [LD, B, H]), cN: r.cell.hasC ? tensor(pass.cN, [LD, B, H]) : null, pass, batchFirst: bf };
}

/** Upstream gradients of `backward`; any may be omitted (zero). */
export interface LayerUpstream {
  /** dL/dy, same shape as y */ readonly dy?: Tensor;
  /** dL/dh_n */ readonly dhN?: Tensor;
  /** dL/dc_n (LSTM) */ readonly dcN?: Tensor;
}

/** Gradients with respect to the layer's inputs. */
export interface LayerInputGrads {
  /** same shape as x */ readonly dx: Tensor;
  /** (L·D, B, H) */ readonly dh0: Tensor;
  /** (L·D, B, H), LSTM only */ readonly dc0: Tensor | null;
}

/** Backpropagation through time: adds the parameter gradients into `layer.grads`. */
export function backward(layer: RecurrentLayer, out: LayerOutput, up: LayerUpstream): LayerInputGrads {
  const c = layer.config;
  const { T, B } = out.pass;
  const H = c.hiddenSize;
  const LD = c.numLayers * directions(c);
  const DH = directions(c) * H;
  const { r, g } = views(layer);
  if (up.dy) checkTensor(up.dy, out.y.shape, "dy", "dy has the shape of y");
  if (up.dhN) checkTensor(up.dhN, [LD, B, H], "dhN");
  if (up.dcN) {
    if (!r.cell.hasC) throw new Error(`dcN was given but a ${c.cell.kind.toUpperCase()} has no cell state`);
    checkTensor(up.dcN, [LD, B, H], "dcN");
  }
  const dy = up.dy ? (out.batchFirst ? transposeTB(up.dy.data, B, T, DH) : up.dy.data) : null;
  const res = recurrentBackward(layer.backend, r, g, layer.dtype, out.pass, dy, up.dhN?.data ?? null, up.dcN?.data ?? null);
  const I = c.inputSize;
  const dx = out.batchFirst ? tensor(transposeTB(res.dx, T, B, I), [B, T, I]) : tensor(res.dx, [T, B, I]);
  return { dx, dh0: tensor(res.dh0, [LD, B, H]), dc0: r.cell.hasC ? tensor(res.dc0, [LD, B, H]) : null };
}
