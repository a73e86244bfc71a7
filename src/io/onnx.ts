/**
 * Export to ONNX (https://onnx.ai), for inference in ONNX Runtime and other ONNX engines.
 *
 * A language model becomes the graph
 *
 *   tokens (T, B) int64 ──Gather(embedding.weight) | OneHot(V)──▶ e (T, B, E)
 *   e, h0, c0 ──LSTM | GRU | RNN per layer──▶ y (T, B, H), hn, cn
 *   y ──MatMul(linear.weightᵀ), Add(linear.bias)──▶ logits (T, B, V) [──Softmax──▶ probs]
 *
 * with time-major inputs and the recurrent state as explicit inputs and outputs, so one graph
 * serves both scoring a whole sequence and generating one step at a time (T = 1, hn/cn fed back
 * as h0/c0). States are (L·D, B, H), index l·D + d, as in PyTorch and `sequence/recurrent.ts`.
 * Dropout is an identity at inference and does not appear.
 *
 * Mapping of unroll's cells onto the ONNX operators (opset 7/14/22 LSTM, GRU, RNN; gate order
 * and biases from the operator specs, https://onnx.ai/onnx/operators/):
 *
 * - LSTM: PyTorch rows (i, f, g, o) → ONNX (i, o, f, c); B = [Wb, Rb] = [b_ih, b_hh]; peepholes
 *   P = (p_i, p_o, p_f). ONNX's o peephole reads C_t and i, f read C_{t−1}, as unroll's.
 * - Coupled LSTM (i = 1 − f): written as an ordinary ONNX LSTM whose i rows are the negated f rows
 *   (weights, biases and peephole), since σ(−a) = 1 − σ(a). The `input_forget` attribute is not
 *   used: ONNX leaves its meaning open, and ONNX Runtime implements it as f = 1 − i, the other
 *   coupling. The f rows carry f; c rows g; o rows o.
 * - GRU: PyTorch rows (r, z, n) → ONNX (z, r, h); `linear_before_reset` 1 for PyTorch's GRU
 *   (reset after the recurrent product), 0 for Cho et al.'s (reset applied to h first).
 * - RNN: `activations` Tanh, Sigmoid or Relu, one per direction.
 * - Hard-sigmoid LSTM/GRU gates (the `-hard` cells): `activations` (HardSigmoid, Tanh, Tanh) for the
 *   LSTM, (HardSigmoid, Tanh) for the GRU, per direction, with HardSigmoid's default α = 0.2,
 *   β = 0.5: max(0, min(1, 0.2·x + 0.5)), unroll's hard sigmoid. The coupled LSTM's negated i rows
 *   still hold, since hardσ(−a) = 1 − hardσ(a) too.
 *
 * A bidirectional layer's Y (T, 2, B, H) is transposed and reshaped to (T, B, 2H) = [forward,
 * reverse] before the next layer. Initializers are float32, little-endian raw data.
 */
import onnxProto from "onnx-proto";
import { cellName, gateOf, type CellConfig, type CellParams } from "../cells/cell.js";
import { createCell } from "../cells/index.js";
import { bindLanguageModel, recurrentPrefix } from "../model/language-model.js";
import type { TrainedModel } from "../model/trained.js";
import { bindRecurrent, directions, type Recurrent } from "../sequence/recurrent.js";
import type { FloatArray } from "../tensor/dtype.js";
import type { RecurrentLayer } from "../api/recurrent-layer.js";
import { decodeUtf8, encodeUtf8 } from "../text/utf8.js";
import { VERSION } from "../version.js";

const { onnx } = onnxProto;

// Dimensions: T steps, B batch, I input features, H hidden, L layers, D directions, V vocabulary,
// E embedding, G gate blocks of the ONNX operator (LSTM 4, GRU 3, RNN 1).

/** Opset versions the exporter writes; every operator it uses has the same meaning across them. */
export const ONNX_OPSETS = { min: 13, max: 22, default: 17 } as const;

/** Options of `exportOnnx` and `exportRecurrentOnnx`. */
export interface OnnxExportOptions {
  /** Default ONNX opset (ai.onnx domain), 13 … 22; default 17. */
  readonly opset?: number;
  /** Language model only: also output `probs` = softmax(logits) over the last axis. Default false. */
  readonly probs?: boolean;
}

/**
 * A language model as an ONNX model (serialized ModelProto).
 *
 * Inputs: `tokens` int64 (seq, batch), time-major token ids; `h0` float (L, batch, H); `c0` float
 * (L, batch, H) for an LSTM only. Pass zeros for a fresh state.
 * Outputs: `logits` float (seq, batch, V); `hn` (and `cn` for an LSTM) float (L, batch, H), the
 * state after the last step; `probs` float (seq, batch, V) with `opts.probs`.
 * Metadata: `unroll.format` "language-model", `unroll.config` (LanguageModelConfig JSON),
 * `unroll.vocabulary` (Vocabulary JSON), `unroll.cell` (the cell's name).
 */
export function exportOnnx(lm: TrainedModel, opts: OnnxExportOptions = {}): Uint8Array {
  const opset = checkOpset(opts.opset);
  const { model, vocab } = lm;
  if (model?.kind !== "language-model") throw new Error("exportOnnx takes a TrainedModel { model, vocab } (from modelFromCheckpoint)");
  const c = model.config;
  if (vocab.tokens.length !== c.vocabSize) throw new Error(`the vocabulary has ${vocab.tokens.length} tokens but the model ${c.vocabSize}; export the model with the vocabulary it was trained with`);
  const v = bindLanguageModel(c, model.params);
  const V = c.vocabSize;
  const H = c.hiddenSize;
  const L = c.numLayers;
  const hasC = createCell(c.cell).hasC;
  const g = new GraphBuilder(opset);

  const inputs = [valueInfo("tokens", INT64, ["seq", "batch"]), valueInfo("h0", FLOAT, [L, "batch", H])];
  if (hasC) inputs.push(valueInfo("c0", FLOAT, [L, "batch", H]));

  // e (T, B, E): an embedding row per token, or a one-hot vector of size V
  if (v.embedding) {
    g.initFloat("embedding.weight", [V, c.embedSize], v.embedding);
    g.node("Gather", ["embedding.weight", "tokens"], ["e"], { axis: 0 });
  } else {
    g.initInt64("onehot.depth", [1], [V]);
    g.initFloat("onehot.values", [2], [0, 1]);
    g.node("OneHot", ["tokens", "onehot.depth", "onehot.values"], ["e"], { axis: -1 });
  }
  const rnn = addRecurrentStack(g, v.rnn, recurrentPrefix(c.cell), "e", "h0", hasC ? "c0" : null);

  // logits (T, B, V) = y (T, B, H) · linear.weightᵀ (H, V) + linear.bias (V)
  g.initFloat("linear.weight", [V, H], v.W);
  g.initFloat("linear.bias", [V], v.b);
  g.node("Transpose", ["linear.weight"], ["linear.weight_T"], { perm: [1, 0] });
  g.node("MatMul", [rnn.y, "linear.weight_T"], ["linear.out"]);
  g.node("Add", ["linear.out", "linear.bias"], ["logits"]);
  const outputs = [valueInfo("logits", FLOAT, ["seq", "batch", V]), valueInfo(rnn.hn, FLOAT, [L, "batch", H])];
  if (rnn.cn) outputs.push(valueInfo(rnn.cn, FLOAT, [L, "batch", H]));
  if (opts.probs) {
    g.node("Softmax", ["logits"], ["probs"], { axis: -1 });
    outputs.push(valueInfo("probs", FLOAT, ["seq", "batch", V]));
  }

  return g.finish("unroll_language_model", inputs, outputs, {
    "unroll.format": "language-model",
    "unroll.cell": cellName(c.cell),
    "unroll.config": JSON.stringify(c),
    "unroll.vocabulary": JSON.stringify(vocab),
  }, `Language model (${cellName(c.cell)}, ${L} layer(s), hidden ${H}, vocabulary ${V}). Inputs are time-major; feed hn${hasC ? "/cn" : ""} back as h0${hasC ? "/c0" : ""} to generate step by step.`);
}

/**
 * A recurrent stack (`recurrentLayer`) as an ONNX model (serialized ModelProto).
 *
 * Inputs: `x` float (seq, batch, I); `h0` float (L·D, batch, H); `c0` (LSTM only).
 * Outputs: `y` float (seq, batch, D·H) ([forward, reverse] when bidirectional); `hn`, `cn`
 * (LSTM only) float (L·D, batch, H).
 * Metadata: `unroll.format` "recurrent-layer", `unroll.config` (RecurrentConfig JSON), `unroll.cell`.
 */
export function exportRecurrentOnnx(layer: RecurrentLayer, opts: Omit<OnnxExportOptions, "probs"> = {}): Uint8Array {
  const opset = checkOpset(opts.opset);
  if (layer?.kind !== "recurrent-layer") throw new Error("exportRecurrentOnnx takes a RecurrentLayer (from recurrentLayer)");
  const c = layer.config;
  const r = bindRecurrent(c, layer.params);
  const LD = c.numLayers * directions(c);
  const H = c.hiddenSize;
  const g = new GraphBuilder(opset);
  const inputs = [valueInfo("x", FLOAT, ["seq", "batch", c.inputSize]), valueInfo("h0", FLOAT, [LD, "batch", H])];
  if (r.cell.hasC) inputs.push(valueInfo("c0", FLOAT, [LD, "batch", H]));
  const out = addRecurrentStack(g, r, "", "x", "h0", r.cell.hasC ? "c0" : null);
  g.node("Identity", [out.y], ["y"]);
  const outputs = [valueInfo("y", FLOAT, ["seq", "batch", directions(c) * H]), valueInfo(out.hn, FLOAT, [LD, "batch", H])];
  if (out.cn) outputs.push(valueInfo(out.cn, FLOAT, [LD, "batch", H]));
  return g.finish("unroll_recurrent_layer", inputs, outputs, {
    "unroll.format": "recurrent-layer",
    "unroll.cell": cellName(c.cell),
    "unroll.config": JSON.stringify(c),
  }, `Recurrent stack (${cellName(c.cell)}, ${c.numLayers} layer(s)${c.bidirectional ? ", bidirectional" : ""}, hidden ${H}). Inputs are time-major.`);
}

/**
 * A readable summary of a serialized ONNX model: producer, IR version, opsets, inputs and outputs
 * with element types and shapes, nodes, initializers and metadata (long values shortened).
 */
export function describeOnnx(bytes: Uint8Array): string {
  let m: onnxProto.onnx.IModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    // protobufjs decodes nested messages (subgraphs of If/Loop attributes) by recursion.
    const why = e instanceof RangeError && /call stack/.test(e.message) ? "its subgraphs are nested too deep to read" : (e as Error).message;
    throw new Error(`not an ONNX model (${why}); give the .onnx file written by \`unroll export --format onnx\``);
  }
  const g = m.graph;
  if (!g) throw new Error("the ONNX model has no graph; the file is truncated or not an ONNX model");
  const nodes = g.node ?? [];
  const inits = g.initializer ?? [];
  const outputs = g.output ?? [];
  const lines: string[] = [];
  const producer = [m.producerName, m.producerVersion].filter(Boolean).join(" ") || "(unknown)";
  const opsets = (m.opsetImport ?? []).map((o) => `${o.domain || "ai.onnx"} ${num(o.version)}`).join(", ");
  lines.push(`ONNX model: IR version ${num(m.irVersion)}, opset ${opsets || "(none)"}, producer ${producer}`);
  if (g.docString) lines.push(`  ${g.docString}`);
  const initNames = new Set(inits.map((t) => t.name));
  const inputs = (g.input ?? []).filter((i) => !initNames.has(i.name));
  lines.push(`graph "${g.name ?? ""}": ${inputs.length} inputs, ${outputs.length} outputs, ${nodes.length} nodes`);
  lines.push("inputs:");
  for (const i of inputs) lines.push(`  ${describeValue(i)}`);
  lines.push("outputs:");
  for (const o of outputs) lines.push(`  ${describeValue(o)}`);
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(n.opType ?? "?", (counts.get(n.opType ?? "?") ?? 0) + 1);
  lines.push(`nodes: ${[...counts].map(([op, k]) => (k > 1 ? `${op} ×${k}` : op)).join(", ")}`);
  for (const n of nodes) {
    const attrs = (n.attribute ?? []).map(describeAttribute).join(", ");
    const ins = (n.input ?? []).map((s) => s || "∅").join(", ");
    lines.push(`  ${n.opType}(${ins}) → ${(n.output ?? []).join(", ")}${attrs ? `  [${attrs}]` : ""}`);
  }
  let values = 0;
  for (const t of inits) values += (t.dims ?? []).reduce((a: number, d) => a * num(d), 1);
  lines.push(`initializers: ${inits.length} (${values.toLocaleString("en-US")} values)`);
  for (const t of inits) lines.push(`  ${t.name} ${dataTypeName(t.dataType)} (${(t.dims ?? []).map(num).join(", ")})`);
  const meta = m.metadataProps ?? [];
  if (meta.length > 0) {
    lines.push("metadata:");
    for (const p of meta) lines.push(`  ${p.key}: ${shorten(p.value ?? "", 160)}`);
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// The recurrent stack

interface StackOutputs {
  /** (T, B, D·H) output of the last layer */ readonly y: string;
  /** (L·D, B, H) */ readonly hn: string;
  /** (L·D, B, H), LSTM only */ readonly cn: string | null;
}

/**
 * One ONNX LSTM/GRU/RNN node per layer, reading `x` (T, B, I) and the slices l·D … l·D+D−1 of
 * `h0`, `c0`. Parameters are named `${prefix}W_l{l}`, `R_l{l}`, `B_l{l}`, `P_l{l}`.
 */
function addRecurrentStack(g: GraphBuilder, r: Recurrent, prefix: string, x: string, h0: string, c0: string | null): StackOutputs {
  const c = r.config;
  const cell = c.cell;
  const L = c.numLayers;
  const D = directions(c);
  const H = c.hiddenSize;
  const op = cell.kind === "lstm" ? "LSTM" : cell.kind === "gru" ? "GRU" : "RNN";
  const blocks = gateBlocks(cell);
  const G = blocks.length;
  const peephole = cell.kind === "lstm" && cell.peephole;
  const hs: string[] = [];
  const cs: string[] = [];
  let input = x;
  for (let l = 0; l < L; l++) {
    const I = l === 0 ? c.inputSize : D * H;
    const dirs = r.dirs.slice(l * D, (l + 1) * D);
    const n = `${prefix}l${l}`;
    const W = `${prefix}W_l${l}`;
    const R = `${prefix}R_l${l}`;
    const Bn = `${prefix}B_l${l}`;
    g.initFloat(W, [D, G * H, I], concat(dirs.map((p) => reorderRows(p.Wih, I, H, blocks))));
    g.initFloat(R, [D, G * H, H], concat(dirs.map((p) => reorderRows(p.Whh, H, H, blocks))));
    g.initFloat(Bn, [D, 2 * G * H], concat(dirs.flatMap((p) => [reorderRows(p.bih, 1, H, blocks), reorderRows(p.bhh, 1, H, blocks)])));
    const layerState = (s: string) => {
      if (L === 1) return s;
      const out = `${n}.${s}`;
      g.initInt64(`${out}.start`, [1], [l * D]);
      g.initInt64(`${out}.end`, [1], [(l + 1) * D]);
      g.initInt64(`${out}.axes`, [1], [0]);
      g.node("Slice", [s, `${out}.start`, `${out}.end`, `${out}.axes`], [out]);
      return out;
    };
    const ins = [input, W, R, Bn, "", layerState(h0)];
    if (c0) ins.push(layerState(c0));
    if (peephole) {
      const P = `${prefix}P_l${l}`;
      g.initFloat(P, [D, 3 * H], concat(dirs.map((p) => peepholes(cell, p))));
      ins.push(P);
    }
    const attrs: Record<string, AttrValue> = { hidden_size: H, direction: D === 2 ? "bidirectional" : "forward" };
    if (cell.kind === "gru") attrs.linear_before_reset = cell.resetAfter ? 1 : 0;
    if (cell.kind === "rnn") attrs.activations = Array<string>(D).fill(RNN_ACTIVATION[cell.nonlinearity]);
    else if (gateOf(cell) === "hard-sigmoid") {
      // (f, g[, h]) per direction; HardSigmoid's defaults α = 0.2, β = 0.5 are Keras 2's / TF.js's.
      const one = cell.kind === "lstm" ? ["HardSigmoid", "Tanh", "Tanh"] : ["HardSigmoid", "Tanh"];
      attrs.activations = Array.from({ length: D }, () => one).flat();
    }
    const last = l === L - 1;
    const Yh = L === 1 ? "hn" : `${n}.Y_h`;
    const Yc = L === 1 ? "cn" : `${n}.Y_c`;
    g.node(op, ins, [`${n}.Y`, Yh, ...(c0 ? [Yc] : [])], attrs, n);
    hs.push(Yh);
    if (c0) cs.push(Yc);
    // Y (T, D, B, H) → (T, B, D·H)
    const y = last ? `${prefix}y_out` : `${n}.y`;
    if (D === 1) {
      g.initInt64(`${n}.squeeze_axes`, [1], [1]);
      g.node("Squeeze", [`${n}.Y`, `${n}.squeeze_axes`], [y]);
    } else {
      g.node("Transpose", [`${n}.Y`], [`${n}.Y_tbdh`], { perm: [0, 2, 1, 3] });
      g.initInt64(`${n}.shape`, [3], [0, 0, -1]);
      g.node("Reshape", [`${n}.Y_tbdh`, `${n}.shape`], [y]);
    }
    input = y;
  }
  if (L > 1) {
    g.node("Concat", hs, ["hn"], { axis: 0 });
    if (c0) g.node("Concat", cs, ["cn"], { axis: 0 });
  }
  return { y: input, hn: "hn", cn: c0 ? "cn" : null };
}

const RNN_ACTIVATION = { tanh: "Tanh", sigmoid: "Sigmoid", relu: "Relu" } as const;

/** Row block of the ONNX operator ← row block of unroll's tensor, and its sign. */
interface Block {
  readonly from: number;
  readonly sign: 1 | -1;
}

/** unroll's (PyTorch's) row blocks in the ONNX operator's gate order. */
function gateBlocks(cell: CellConfig): Block[] {
  const b = (from: number, sign: 1 | -1 = 1): Block => ({ from, sign });
  switch (cell.kind) {
    case "lstm":
      // ONNX (i, o, f, c). Coupled: unroll has (f, g, o) and i = 1 − f = σ(−a_f).
      return cell.coupled ? [b(0, -1), b(2), b(0), b(1)] : [b(0), b(3), b(1), b(2)];
    case "gru":
      return [b(1), b(0), b(2)]; // ONNX (z, r, h) ← (r, z, n)
    case "rnn":
      return [b(0)];
  }
}

/** The ONNX peephole vector (p_i, p_o, p_f), (3H). */
function peepholes(cell: CellConfig, p: CellParams): Float64Array {
  const { pi, pf, po } = p.extra;
  const H = pf.length;
  const out = new Float64Array(3 * H);
  const coupled = cell.kind === "lstm" && cell.coupled;
  for (let j = 0; j < H; j++) {
    out[j] = coupled ? -pf[j] : pi[j];
    out[H + j] = po[j];
    out[2 * H + j] = pf[j];
  }
  return out;
}

/** Rows of `src` (G_src·H, cols) rearranged (and negated) block by block into (G·H, cols). */
function reorderRows(src: FloatArray, cols: number, H: number, blocks: readonly Block[]): Float64Array {
  const n = H * cols;
  const out = new Float64Array(blocks.length * n);
  blocks.forEach(({ from, sign }, k) => {
    for (let i = 0; i < n; i++) out[k * n + i] = sign * src[from * n + i];
  });
  return out;
}

function concat(parts: readonly ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Protobuf plumbing

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

type AttrValue = number | string | readonly number[] | readonly string[];
type Dim = number | string;

function checkOpset(opset: number | undefined): number {
  const v = opset ?? ONNX_OPSETS.default;
  if (!Number.isInteger(v) || v < ONNX_OPSETS.min || v > ONNX_OPSETS.max) {
    throw new Error(`ONNX opset ${v} is not supported; choose an opset from ${ONNX_OPSETS.min} to ${ONNX_OPSETS.max} (default ${ONNX_OPSETS.default})`);
  }
  return v;
}

/** The lowest IR version that carries opset `opset` (onnx/onnx docs/Versioning.md). */
function irVersionFor(opset: number): number {
  if (opset <= 13) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

function valueInfo(name: string, elemType: number, shape: readonly Dim[]) {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** Collects nodes and initializers of one graph. */
class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly inits: InstanceType<typeof onnx.TensorProto>[] = [];

  constructor(private readonly opset: number) {}

  /** A float32 initializer from any numbers (rounded to float32, little-endian raw data). */
  initFloat(name: string, dims: readonly number[], values: ArrayLike<number>): void {
    const raw = new Uint8Array(values.length * 4);
    const dv = new DataView(raw.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
    this.inits.push(onnx.TensorProto.create({ name, dims: [...dims], dataType: FLOAT, rawData: raw }));
  }

  initInt64(name: string, dims: readonly number[], values: readonly number[]): void {
    const raw = new Uint8Array(values.length * 8);
    const dv = new DataView(raw.buffer);
    for (let i = 0; i < values.length; i++) dv.setBigInt64(i * 8, BigInt(values[i]), true);
    this.inits.push(onnx.TensorProto.create({ name, dims: [...dims], dataType: INT64, rawData: raw }));
  }

  node(opType: string, input: readonly string[], output: readonly string[], attrs: Record<string, AttrValue> = {}, name?: string): void {
    const attribute = Object.entries(attrs).map(([key, v]) => attributeProto(key, v));
    this.nodes.push(onnx.NodeProto.create({ opType, input: [...input], output: [...output], attribute, name: name ?? `${opType}_${this.nodes.length}` }));
  }

  finish(
    graphName: string,
    inputs: ReturnType<typeof valueInfo>[],
    outputs: ReturnType<typeof valueInfo>[],
    metadata: Record<string, string>,
    doc: string,
  ): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: irVersionFor(this.opset),
      opsetImport: [{ domain: "", version: this.opset }],
      producerName: "unroll",
      producerVersion: VERSION,
      docString: doc,
      graph: { name: graphName, node: this.nodes, initializer: this.inits, input: inputs, output: outputs, docString: doc },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
    // Copy out of protobufjs' (possibly pooled) buffer into a Uint8Array of its own.
    return new Uint8Array(onnx.ModelProto.encode(model).finish());
  }
}


function attributeProto(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "number") return { name, type: T.INT, i: v };
  if (typeof v === "string") return { name, type: T.STRING, s: encodeUtf8(v) };
  if (v.every((x) => typeof x === "number")) return { name, type: T.INTS, ints: [...(v as readonly number[])] };
  return { name, type: T.STRINGS, strings: (v as readonly string[]).map((s) => encodeUtf8(s)) };
}

/** An int64 as protobufjs decodes it (a number, or a `Long` where the `long` package loads). */
type Int64 = number | { toNumber(): number };

function num(x: Int64 | null | undefined): number {
  if (x === null || x === undefined) return 0;
  return typeof x === "number" ? x : x.toNumber();
}

function dataTypeName(t: number | null | undefined): string {
  const names = onnx.TensorProto.DataType as unknown as Record<number, string>;
  return (names[t ?? 0] ?? `type ${t}`).toLowerCase();
}

function describeValue(v: onnxProto.onnx.IValueInfoProto): string {
  const tt = v.type?.tensorType;
  if (!tt) return `${v.name} (not a tensor)`;
  const dims = (tt.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : String(num(d.dimValue))));
  return `${v.name}: ${dataTypeName(tt.elemType)} (${dims.join(", ")})`;
}

function describeAttribute(a: onnxProto.onnx.IAttributeProto): string {
  const T = onnx.AttributeProto.AttributeType;
  const dec = (b: Uint8Array | null | undefined) => decodeUtf8(b ?? new Uint8Array(0), false);
  switch (a.type) {
    case T.INT:
      return `${a.name}=${num(a.i)}`;
    case T.FLOAT:
      return `${a.name}=${a.f}`;
    case T.STRING:
      return `${a.name}=${dec(a.s)}`;
    case T.INTS:
      return `${a.name}=[${(a.ints ?? []).map(num).join(", ")}]`;
    case T.STRINGS:
      return `${a.name}=[${(a.strings ?? []).map(dec).join(", ")}]`;
    default:
      return `${a.name}=…`;
  }
}

function shorten(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n)}… (${s.length} characters)`;
}
