/**
 * Import of TensorFlow.js / Keras layers models: `model.json` (a Keras topology and a weights
 * manifest) plus the binary weight shards, concatenated, as TF.js's `model.save()` and
 * `tensorflowjs_converter --output_format tfjs_layers_model` write them. A model becomes plain
 * data: a chain of layers, each holding its parameters in an unroll arena under PyTorch's names,
 * run by unroll's own kernels (`recurrentForward`, `linearForward`, `embeddingForward`).
 *
 * Keras → unroll (tfjs-layers/src/layers/recurrent.ts; keras/src/layers/rnn/gru.py):
 *   kernel (I, G·H), recurrent_kernel (H, G·H), used as x·kernel + h·recurrent_kernel
 *                                             → W_ih = kernelᵀ (G·H, I), W_hh = recurrent_kernelᵀ (G·H, H)
 *   SimpleRNN  h = f(x·K + b + h·R)            → rnn-{tanh,relu,sigmoid}, b_ih = b, b_hh = 0
 *   LSTM       column blocks i, f, c, o; one bias (4H)
 *                                             → rows i, f, g, o; b_ih = bias, b_hh = 0
 *   GRU        column blocks z, r, h           → rows r, z, n (first two blocks swapped)
 *     reset_after=true:  bias (2, 3H) = [input bias; recurrent bias],
 *                        hh = tanh(x_h + r ⊙ (h·R_h + b_rec_h))     → "gru", b_ih = bias[0], b_hh = bias[1]
 *     reset_after=false: bias (3H), hh = tanh(x_h + (r ⊙ h)·R_h)    → "gru-cho", b_ih = bias, b_hh = 0
 *     both: h = z ⊙ h_prev + (1 − z) ⊙ hh, which is unroll's h = (1 − z) ⊙ n + z ⊙ h.
 *   Embedding  embeddings (V, E)               → weight (V, E)
 *   Dense      kernel (I, O), bias (O)         → weight (O, I) = kernelᵀ, bias (a 3-D input is
 *                                               applied to its last axis, as TimeDistributed(Dense))
 *   Bidirectional: `forward_…` then `backward_…` weights; Keras runs the backward copy with
 *     go_backwards and re-reverses its sequence before merging — unroll's reverse direction.
 *     The last output of the backward copy is its final state (after reading x_0), unroll's h_N.
 *   go_backwards: the layer reads the sequence reversed and returns its outputs in that
 *     processing order; reversing the input in time and running forward is exactly that.
 *   use_bias false → zero biases; unit_forget_bias, initializers, regularizers, constraints,
 *   dropout, recurrent_dropout, implementation and unroll do not change inference.
 *   recurrent_activation (LSTM, GRU): sigmoid → the cells' logistic gates; hard_sigmoid /
 *     hardSigmoid (TF.js's default when the key is absent, and Keras 2's before 2.3) → the
 *     `-hard` cells, gate: "hard-sigmoid", clip(0.2·x + 0.5, 0, 1) as tfjs-layers'
 *     `K.hardSigmoid` and Keras 2's `backend.hard_sigmoid` (these run the cells' step code, not the
 *     wasm/native fused kernels).
 *
 * Refused, each with an error naming the layer: recurrent_activation other than sigmoid and
 * hard_sigmoid, hard_sigmoid from Keras 3 (relu6(x + 3) / 6, another function under the same name:
 * recognised by modelTopology.keras_version 3.x, generatedBy "keras v3.…" or a DTypePolicy layer
 * dtype), LSTM/GRU activation other than tanh, return_state, stateful,
 * time_major, go_backwards inside Bidirectional, merge_mode null, masking (mask_zero with a 0 id
 * in the input), quantized or non-float32 weights, layers other than the ones listed in
 * `SUPPORTED_LAYERS`, and topologies that are not a single chain.
 */
import type { Backend } from "../backend/backend.js";
import { getBackend } from "../backend/select.js";
import type { CellConfig, Gate, Nonlinearity } from "../cells/cell.js";
import { checkTokenIds, embeddingForward } from "../layers/embedding.js";
import { linearForward } from "../layers/linear.js";
import { softmaxRows } from "../layers/softmax-cross-entropy.js";
import { bindRecurrent, recurrentForward, recurrentSpecs, transposeTB, type RecurrentConfig } from "../sequence/recurrent.js";
import { createArena, view, type Arena } from "../tensor/arena.js";
import { allocate, formatShape, fromValues, sizeOf, type DType, type FloatArray } from "../tensor/dtype.js";
import { recurrentLayer, type RecurrentLayer } from "../api/recurrent-layer.js";
import { checkFinite } from "../api/tensor.js";
import { loadStateDict, type NamedTensor } from "../api/state-dict.js";

// Dimensions: B batch, T steps, I input features, H units, G gate blocks, D directions,
// V vocabulary, E embedding size, O dense units, N rows.

/** Activations of Dense and Activation layers that unroll runs. */
export type KerasActivation = "linear" | "relu" | "tanh" | "sigmoid" | "softmax";

/** How a Bidirectional layer combines its two directions. */
export type MergeMode = "concat" | "sum" | "mul" | "ave";

/** Keras layer classes `parseTfjsModel` accepts. */
export const SUPPORTED_LAYERS = [
  "InputLayer",
  "Embedding",
  "SimpleRNN",
  "LSTM",
  "GRU",
  "Bidirectional",
  "Dense",
  "TimeDistributed",
  "Activation",
  "Dropout",
  "SpatialDropout1D",
] as const;

/** An Embedding: parameter `weight` (V, E). */
export interface KerasEmbedding {
  readonly kind: "embedding";
  readonly name: string;
  readonly V: number;
  readonly E: number;
  /** Keras' mask_zero: id 0 is padding. Inputs holding a 0 are refused (masks are not implemented). */
  readonly maskZero: boolean;
  readonly params: Arena;
}

/**
 * A SimpleRNN, LSTM or GRU layer, or a Bidirectional wrapper of one: a one-layer unroll stack
 * whose `params` use PyTorch's names (`weight_ih_l0`, …, `_reverse` for the backward copy), so
 * they can be copied into a `recurrentLayer` of the same config.
 */
export interface KerasRecurrent {
  readonly kind: "recurrent";
  readonly name: string;
  readonly className: "SimpleRNN" | "LSTM" | "GRU";
  readonly config: RecurrentConfig;
  readonly returnSequences: boolean;
  /** Reads the sequence reversed and returns outputs in reversed order (unidirectional only). */
  readonly goBackwards: boolean;
  /** Bidirectional only; "concat" otherwise. */
  readonly mergeMode: MergeMode;
  readonly params: Arena;
}

/** A Dense (or TimeDistributed(Dense)) layer: parameters `weight` (O, I) and `bias` (O). */
export interface KerasDense {
  readonly kind: "dense";
  readonly name: string;
  readonly I: number;
  readonly O: number;
  readonly activation: KerasActivation;
  readonly params: Arena;
}

/** An Activation layer. */
export interface KerasActivationLayer {
  readonly kind: "activation";
  readonly name: string;
  readonly activation: KerasActivation;
}

export type KerasLayer = KerasEmbedding | KerasRecurrent | KerasDense | KerasActivationLayer;

/** What a model reads: token ids (B, T) when it starts with an Embedding, else features (B, T, I). */
export type KerasInput =
  | { readonly kind: "ids"; readonly T: number | null; readonly V: number }
  | { readonly kind: "features"; readonly T: number | null; readonly I: number };

/** A TF.js / Keras layers model as plain data, ready for `runKerasModel`. */
export interface KerasModel {
  readonly kind: "keras-model";
  /** Where it came from (a path or a name), for messages. */
  readonly source: string;
  readonly name: string;
  readonly dtype: DType;
  readonly input: KerasInput;
  readonly layers: readonly KerasLayer[];
  /** Layers that are the identity at inference (Dropout) and were left out of `layers`. */
  readonly skipped: readonly string[];
}

/** One weight of the manifest and where its bytes are in the concatenated shards. */
export interface TfjsWeightEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  /** Byte offset in the concatenation of every shard of every group, in manifest order. */
  readonly offset: number;
  readonly byteLength: number;
}

/** The weights manifest of a model.json: shard paths per group, and every weight's bytes. */
export interface TfjsManifest {
  /** Per group: its shard paths (relative to model.json) and the bytes its weights take. */
  readonly groups: readonly { readonly paths: readonly string[]; readonly byteLength: number }[];
  readonly weights: readonly TfjsWeightEntry[];
  readonly byteLength: number;
}

/** Options of `parseTfjsModel`. */
export interface KerasParseOptions {
  /** dtype of the parameter arenas and of the computation (default float32, as TF.js). */
  readonly dtype?: DType;
}

type Json = Record<string, unknown>;

const BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, uint8: 1 };

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `model.json` → its object, unwrapping the converter's `model_config` when present. */
function topologyOf(modelJson: Json, source: string): Json {
  const graph = `unroll imports layers models only (tf.layers / Keras, format "layers-model"); export with model.save() or tensorflowjs_converter --output_format tfjs_layers_model`;
  if (modelJson.format === "graph-model") throw new Error(`${source}: this is a TF.js graph model (format "graph-model"); ${graph}`);
  let t = modelJson.modelTopology;
  if (!isObject(t)) throw new Error(`${source}: no "modelTopology" object; is this a TF.js model.json written by model.save()?`);
  if (isObject(t.model_config)) t = t.model_config;
  if (!isObject(t) || !("class_name" in t)) throw new Error(`${source}: the topology is not a Keras model (no class_name; a TensorFlow graph?); ${graph}`);
  return t;
}

/**
 * Reads and checks the weights manifest of a model.json: every weight's name, shape, dtype and
 * byte range in the concatenated shards. Quantized weights are refused.
 */
export function readTfjsManifest(modelJson: unknown, source = "model.json"): TfjsManifest {
  if (!isObject(modelJson)) throw new Error(`${source}: model.json must hold a JSON object`);
  const m = modelJson.weightsManifest;
  if (!Array.isArray(m)) {
    throw new Error(`${source}: no "weightsManifest" array; a model.json from model.save() lists its weight shards there (a bare topology from model.toJSON() has no weights)`);
  }
  const groups: { paths: string[]; byteLength: number }[] = [];
  const weights: TfjsWeightEntry[] = [];
  let offset = 0;
  m.forEach((g, gi) => {
    if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new Error(`${source}: weightsManifest[${gi}] must be { paths: string[], weights: [...] }`);
    }
    const paths = g.paths.map((p, pi) => {
      if (typeof p !== "string" || p.length === 0) throw new Error(`${source}: weightsManifest[${gi}].paths[${pi}] must be a file name`);
      return p;
    });
    const start = offset;
    g.weights.forEach((w, wi) => {
      const at = `${source}: weightsManifest[${gi}].weights[${wi}]`;
      if (!isObject(w) || typeof w.name !== "string" || !Array.isArray(w.shape)) throw new Error(`${at} must be { name, shape, dtype }`);
      const shape = w.shape as unknown[];
      if (!shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) throw new Error(`${at} ("${w.name}") has an invalid shape ${show(w.shape)}`);
      if (w.quantization !== undefined) {
        throw new Error(`${at} ("${w.name}") is quantized (${show(w.quantization)}); unroll reads float32 weights only — convert without --quantize_*`);
      }
      const dtype = typeof w.dtype === "string" ? w.dtype : "float32";
      const per = Object.prototype.hasOwnProperty.call(BYTES, dtype) ? BYTES[dtype] : undefined;
      if (per === undefined) throw new Error(`${at} ("${w.name}") has dtype "${dtype}", which unroll cannot read; re-save the model with float32 weights`);
      const byteLength = sizeOf(shape as number[]) * per;
      weights.push({ name: w.name, shape: shape as number[], dtype, offset, byteLength });
      offset += byteLength;
    });
    groups.push({ paths, byteLength: offset - start });
  });
  return { groups, weights, byteLength: offset };
}

/** Where the weights of one layer (or one direction of a Bidirectional layer) live. */
class WeightStore {
  readonly used = new Set<string>();
  constructor(
    readonly manifest: TfjsManifest,
    readonly bytes: Uint8Array,
    readonly source: string,
  ) {}

  /** Weight `key` ("kernel", …) of layer `layer`, in part `part` ("forward"/"backward") if given, checked for `shape`. */
  take(layer: ParsedLayer, key: string, shape: readonly number[], part = "", why = ""): Float32Array {
    const prefix = `${layer.name}/`;
    const segs = (n: string) => n.slice(prefix.length).split("/");
    const last = (n: string) => {
      const s = segs(n);
      return s[s.length - 1].replace(/:\d+$/, "");
    };
    const candidates = this.manifest.weights.filter(
      (w) => w.name.startsWith(prefix) && last(w.name) === key && (part === "" || segs(w.name).some((s) => s.startsWith(`${part}_`))),
    );
    const what = `weight "${part ? `${part}_…/` : ""}${key}" of shape ${formatShape(shape)}`;
    if (candidates.length === 0) {
      const own = this.manifest.weights.filter((w) => w.name.startsWith(prefix)).map((w) => w.name);
      throw new Error(
        `${this.source}: ${layer.where} needs ${what}, but the weights manifest has no "${layer.name}/…${part ? `/${part}_…` : ""}/${key}"` +
          ` (for this layer it lists: ${own.length > 0 ? own.join(", ") : "nothing"}). The model.json does not match its weights; re-save the model with model.save()`,
      );
    }
    if (candidates.length > 1) throw new Error(`${this.source}: ${layer.where}: several weights match "${key}": ${candidates.map((c) => c.name).join(", ")}`);
    const w = candidates[0];
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
      throw new Error(
        `${this.source}: ${layer.where}: weight "${w.name}" has shape ${formatShape(w.shape)}, but the layer's config needs ${formatShape(shape)}${why ? ` (${why})` : ""}; the model.json and the weight shards do not belong together — re-save the model`,
      );
    }
    if (w.dtype !== "float32") throw new Error(`${this.source}: ${layer.where}: weight "${w.name}" has dtype ${w.dtype}; unroll reads float32 weights only`);
    this.used.add(w.name);
    // Copy: the shard bytes need not be 4-byte aligned. TF.js writes little-endian floats.
    const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset + w.offset, w.byteLength);
    const out = new Float32Array(w.byteLength / 4);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(4 * i, true);
    return out;
  }
}

/** A layer of the topology with its class and config, and how to name it in messages. */
interface ParsedLayer {
  readonly name: string;
  readonly className: string;
  readonly config: Json;
  readonly where: string;
}

function camel(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** config[key] in Keras' snake_case, or TF.js' camelCase. */
function opt(c: Json, key: string): unknown {
  return c[key] !== undefined ? c[key] : c[camel(key)];
}

function flag(c: Json, key: string, def = false): boolean {
  const v = opt(c, key);
  return v === undefined || v === null ? def : v === true;
}

function positiveInt(l: ParsedLayer, c: Json, key: string, source: string): number {
  const v = opt(c, key);
  if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`${source}: ${l.where}: "${key}" must be a positive integer, got ${show(v)}`);
  return v as number;
}

/** `v` as JSON for a message; a value JSON.stringify cannot take (nested too deep) is described instead. */
function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? text(v);
  } catch {
    return `a ${Array.isArray(v) ? "list" : typeof v} nested too deep to print`;
  }
}

/** String(v), for a value from model.json: an object with a "toString" key, or nested too deep, has its `show` instead. */
function text(v: unknown): string {
  try {
    return String(v);
  } catch {
    return show(v);
  }
}

/** An activation name normalised: "hardSigmoid" / "hard_sigmoid" → "hardsigmoid", null → "linear". */
function activationName(v: unknown): string {
  if (v === null || v === undefined) return "linear";
  if (isObject(v) && typeof v.class_name === "string") return activationName(v.class_name);
  return text(v).replace(/_/g, "").toLowerCase();
}

function denseActivation(l: ParsedLayer, v: unknown, source: string): KerasActivation {
  const a = activationName(v);
  if (a === "linear" || a === "relu" || a === "tanh" || a === "sigmoid" || a === "softmax") return a;
  throw new Error(`${source}: ${l.where} uses activation "${text(v)}"; unroll supports linear, relu, tanh, sigmoid and softmax`);
}

/** The layers of a Sequential or single-chain functional model, in order. */
function chainOf(topology: Json, source: string): { name: string; layers: ParsedLayer[] } {
  const cls = topology.class_name;
  const config = topology.config;
  const name = isObject(config) && typeof config.name === "string" ? config.name : text(cls);
  const entries: unknown[] | undefined = Array.isArray(config) ? config : isObject(config) && Array.isArray(config.layers) ? config.layers : undefined;
  if (entries === undefined) throw new Error(`${source}: the topology (class_name ${show(cls)}) has no layer list in "config.layers"`);
  const layers = entries.map((e, i): ParsedLayer & { inbound: unknown } => {
    if (!isObject(e) || typeof e.class_name !== "string" || !isObject(e.config)) {
      throw new Error(`${source}: layer ${i} of the topology must be { class_name, config }`);
    }
    const lname = typeof e.config.name === "string" ? e.config.name : typeof e.name === "string" ? e.name : `layer ${i}`;
    return { name: lname, className: e.class_name, config: e.config, where: `layer "${lname}" (${e.class_name})`, inbound: e.inbound_nodes };
  });
  if (cls === "Sequential") return { name, layers };
  if (cls !== "Model" && cls !== "Functional") {
    throw new Error(`${source}: the model class "${text(cls)}" is not supported; unroll imports Sequential models and functional models (Model/Functional) that are a single chain of layers`);
  }
  // A functional model must be one chain: one input, one output, each layer reading the one before.
  const notChain = (why: string) =>
    new Error(`${source}: the functional model "${name}" is not a single chain of layers (${why}); unroll runs chains only: rebuild it as a tf.sequential() or with one input, one output and no branches`);
  const ends = (k: string) => (isObject(config) && Array.isArray(config[k]) ? (config[k] as unknown[]) : []);
  if (ends("input_layers").length !== 1) throw notChain(`it has ${ends("input_layers").length} inputs`);
  if (ends("output_layers").length !== 1) throw notChain(`it has ${ends("output_layers").length} outputs`);
  if (layers.length === 0) throw notChain("it has no layers");
  layers.forEach((l, i) => {
    const nodes = Array.isArray(l.inbound) ? l.inbound : [];
    if (i === 0) {
      if (nodes.length !== 0) throw notChain(`the first layer "${l.name}" is not its input`);
      return;
    }
    if (nodes.length !== 1) throw notChain(`layer "${l.name}" is called ${nodes.length} times`);
    const from = inboundNames(nodes[0]);
    if (from.length !== 1 || from[0] !== layers[i - 1].name) throw notChain(`layer "${l.name}" reads ${from.map((f) => `"${f}"`).join(", ") || "nothing"}, not "${layers[i - 1].name}"`);
  });
  const out = ends("output_layers")[0];
  const outName = Array.isArray(out) ? out[0] : undefined;
  if (outName !== layers[layers.length - 1].name) throw notChain(`the output is "${text(outName)}", not the last layer`);
  return { name, layers };
}

/** Names of the layers one inbound node reads: Keras 2 / TF.js `[[name, node, tensor, kwargs], …]` or Keras 3 `{args: [keras tensors]}`. */
function inboundNames(node: unknown): string[] {
  if (Array.isArray(node)) return node.map((t) => (Array.isArray(t) ? text(t[0]) : "?"));
  if (isObject(node) && Array.isArray(node.args)) {
    const names: string[] = [];
    // Depth first, in order, with a stack of its own: args nested deep would overflow the call stack.
    const todo: unknown[] = [node.args];
    while (todo.length > 0) {
      const a = todo.pop();
      if (Array.isArray(a)) for (let i = a.length - 1; i >= 0; i--) todo.push(a[i]);
      else if (isObject(a) && isObject(a.config) && Array.isArray(a.config.keras_history)) names.push(text(a.config.keras_history[0]));
    }
    return names;
  }
  return ["?"];
}

/** The fixed input shape (without batch) a layer declares, if any. */
function declaredShape(c: Json): (number | null)[] | undefined {
  const s = opt(c, "batch_input_shape") ?? opt(c, "batch_shape");
  return Array.isArray(s) ? s.slice(1).map((d) => (Number.isInteger(d) ? (d as number) : null)) : undefined;
}

/** Keras column blocks → unroll row blocks: unroll block k is Keras block PERM[k]. */
const PERM: Readonly<Record<KerasRecurrent["className"], readonly number[]>> = {
  SimpleRNN: [0],
  LSTM: [0, 1, 2, 3], // i, f, c, o = i, f, g, o
  GRU: [1, 0, 2], // Keras z, r, h → unroll r, z, n
};

/** kernel (K, G·H) with Keras column blocks → (G·H, K) with unroll row blocks. */
function kernelToRows(kernel: Float32Array, K: number, H: number, perm: readonly number[]): Float32Array {
  const G = perm.length;
  const out = new Float32Array(G * H * K);
  for (let g = 0; g < G; g++) {
    for (let j = 0; j < H; j++) {
      const col = perm[g] * H + j;
      for (let k = 0; k < K; k++) out[(g * H + j) * K + k] = kernel[k * G * H + col];
    }
  }
  return out;
}

/** bias (G·H) in Keras block order → unroll block order. */
function biasToRows(bias: Float32Array, H: number, perm: readonly number[]): Float32Array {
  const out = new Float32Array(perm.length * H);
  perm.forEach((p, g) => out.set(bias.subarray(p * H, (p + 1) * H), g * H));
  return out;
}

/** Cell config and checks of a SimpleRNN / LSTM / GRU layer config. */
function recurrentCell(l: ParsedLayer, cls: KerasRecurrent["className"], c: Json, source: string, keras3: boolean): CellConfig {
  const act = activationName(opt(c, "activation") === undefined ? "tanh" : opt(c, "activation"));
  for (const [key, what] of [
    ["return_state", "return_state: true (the layer would have several outputs; unroll runs single-output chains) — set it to false"],
    ["stateful", "stateful: true (state carried across predict() calls) — re-create the layer with stateful: false"],
    ["time_major", "time_major: true — export with the default batch-major layout"],
  ] as const) {
    if (flag(c, key)) throw new Error(`${source}: ${l.where} uses ${what}`);
  }
  if (cls === "SimpleRNN") {
    if (act !== "tanh" && act !== "relu" && act !== "sigmoid") {
      throw new Error(`${source}: ${l.where} uses activation "${String(opt(c, "activation"))}"; unroll's RNN supports tanh, relu and sigmoid`);
    }
    return { kind: "rnn", nonlinearity: act as Nonlinearity };
  }
  if (act !== "tanh") throw new Error(`${source}: ${l.where} uses activation "${String(opt(c, "activation"))}"; unroll's ${cls} uses tanh only`);
  const rawRec = opt(c, "recurrent_activation");
  // TF.js defaults to hard_sigmoid when the key is absent; Keras 2.3+ writes it always.
  const rec = activationName(rawRec === undefined ? "hard_sigmoid" : rawRec);
  const named = String(rawRec ?? "hard_sigmoid (TF.js default)");
  let gate: Gate;
  if (rec === "sigmoid") gate = "sigmoid";
  else if (rec === "hardsigmoid" && (keras3 || isKeras3Layer(c))) {
    // Keras 3 redefined hard_sigmoid as relu6(x + 3) / 6 = clip(x/6 + 0.5, 0, 1) under the same name.
    throw new Error(
      `${source}: ${l.where} uses recurrent_activation "${named}" from Keras 3, whose hard_sigmoid is relu6(x + 3) / 6; unroll's hard-sigmoid gates are Keras 2's and TF.js's` +
        ` clip(0.2·x + 0.5, 0, 1), so the outputs would differ (TF.js itself runs the Keras 2 function too). Re-create and retrain the layer with recurrent_activation='sigmoid'`,
    );
  } else if (rec === "hardsigmoid") gate = "hard-sigmoid";
  else {
    throw new Error(
      `${source}: ${l.where} uses recurrent_activation "${named}", but unroll's ${cls} gates are the logistic sigmoid or Keras 2's / TF.js's hard_sigmoid;` +
        ` the outputs would differ. Re-create and retrain the layer with recurrentActivation: 'sigmoid' (Keras: recurrent_activation='sigmoid')`,
    );
  }
  const g = gate === "hard-sigmoid" ? { gate } : {};
  if (cls === "LSTM") return { kind: "lstm", peephole: false, coupled: false, ...g };
  return { kind: "gru", resetAfter: flag(c, "reset_after"), ...g };
}

/** Whether model.json was written from Keras 3 (the converter copies `keras_version`; TF.js writes "tfjs-layers …"). */
function isKeras3Model(modelJson: unknown): boolean {
  if (!isObject(modelJson)) return false;
  const t = modelJson.modelTopology;
  const version = isObject(t) ? t.keras_version : undefined;
  return (typeof version === "string" && /^3\./.test(version)) || (typeof modelJson.generatedBy === "string" && /^keras v3\./.test(modelJson.generatedBy));
}

/** Whether a layer config is Keras 3's own (its dtype is a serialised DTypePolicy, which Keras 2 and TF.js never write). */
function isKeras3Layer(c: Json): boolean {
  const d = opt(c, "dtype");
  return isObject(d) && d.class_name === "DTypePolicy";
}

/** A recurrent layer (optionally inside Bidirectional) → unroll stack with PyTorch-named parameters. */
function parseRecurrent(
  l: ParsedLayer,
  inner: { className: string; config: Json },
  bidi: MergeMode | null,
  I: number,
  store: WeightStore,
  dtype: DType,
  keras3: boolean,
): KerasRecurrent {
  const source = store.source;
  const cls = inner.className as KerasRecurrent["className"];
  const c = inner.config;
  for (const key of ["activation", "recurrent_activation"]) {
    // recurrentCell prints these with String(), which throws on an object with a "toString" key or nested too deep.
    const v = opt(c, key);
    try {
      String(v);
    } catch {
      throw new Error(`${source}: ${l.where}: "${key}" is ${show(v)}, not an activation name`);
    }
  }
  const cell = recurrentCell(l, cls, c, source, keras3);
  const H = positiveInt(l, c, "units", source);
  const goBackwards = flag(c, "go_backwards");
  if (bidi && goBackwards) throw new Error(`${source}: ${l.where} wraps a layer with go_backwards: true; unroll's bidirectional layers need go_backwards: false on the wrapped layer`);
  const config: RecurrentConfig = { cell, inputSize: I, hiddenSize: H, numLayers: 1, bidirectional: bidi !== null, dropout: 0 };
  const perm = PERM[cls];
  const G = perm.length;
  const useBias = flag(c, "use_bias", true);
  const resetAfter = cell.kind === "gru" && cell.resetAfter;
  const dict: Record<string, NamedTensor> = {};
  const parts = bidi ? (["forward", "backward"] as const) : ([""] as const);
  parts.forEach((part, d) => {
    const s = `_l0${d === 1 ? "_reverse" : ""}`;
    const kernel = store.take(l, "kernel", [I, G * H], part, `input size ${I} × ${G} gate block${G > 1 ? "s" : ""} · ${H} units`);
    const recurrent = store.take(l, "recurrent_kernel", [H, G * H], part, `${H} units × ${G} gate block${G > 1 ? "s" : ""} · ${H} units`);
    dict[`weight_ih${s}`] = { shape: [G * H, I], data: kernelToRows(kernel, I, H, perm) };
    dict[`weight_hh${s}`] = { shape: [G * H, H], data: kernelToRows(recurrent, H, H, perm) };
    let bih: Float32Array = new Float32Array(G * H);
    let bhh: Float32Array = new Float32Array(G * H);
    if (useBias && resetAfter) {
      const b = store.take(l, "bias", [2, G * H], part, "reset_after GRU: [input bias; recurrent bias]");
      bih = biasToRows(b.subarray(0, G * H), H, perm);
      bhh = biasToRows(b.subarray(G * H), H, perm);
    } else if (useBias) {
      bih = biasToRows(store.take(l, "bias", [G * H], part), H, perm);
    }
    dict[`bias_ih${s}`] = { shape: [G * H], data: bih };
    dict[`bias_hh${s}`] = { shape: [G * H], data: bhh };
  });
  let params: Arena;
  try {
    // Allocated once the weights are found: their bytes bound "units" and the input size.
    params = createArena(dtype, recurrentSpecs(config));
    loadStateDict(params, dict);
  } catch (e) {
    throw new Error(`${source}: ${l.where}: ${(e as Error).message}`);
  }
  return { kind: "recurrent", name: l.name, className: cls, config, returnSequences: flag(c, "return_sequences"), goBackwards, mergeMode: bidi ?? "concat", params };
}

function parseDense(l: ParsedLayer, c: Json, I: number, store: WeightStore, dtype: DType): KerasDense {
  const source = store.source;
  const O = positiveInt(l, c, "units", source);
  // With no input features the kernel holds no bytes, and "units" alone would size the arena.
  if (!Number.isInteger(I) || I < 1) throw new Error(`${source}: ${l.where} reads ${I} input features; declare at least 1 (batch_input_shape [null, T, features])`);
  const activation = denseActivation(l, opt(c, "activation"), source);
  const kernel = store.take(l, "kernel", [I, O], "", `${I} inputs × ${O} units`);
  const bias = flag(c, "use_bias", true) ? store.take(l, "bias", [O]) : new Float32Array(O);
  const params = createArena(dtype, [
    { name: "weight", shape: [O, I] },
    { name: "bias", shape: [O] },
  ]);
  try {
    loadStateDict(params, { weight: { shape: [O, I], data: kernelToRows(kernel, I, O, [0]) }, bias: { shape: [O], data: bias } });
  } catch (e) {
    throw new Error(`${source}: ${l.where}: ${(e as Error).message}`);
  }
  return { kind: "dense", name: l.name, I, O, activation, params };
}

/** What flows between layers while parsing: a sequence (B, T, F) or vectors (B, F). */
interface Flow {
  readonly rank: 2 | 3;
  readonly F: number;
}

/**
 * Parses a TF.js / Keras layers model: `modelJson` is the parsed model.json, `weightData` the
 * shards of every manifest group concatenated in manifest order. Checks the topology (a
 * Sequential, or a functional model that is one chain), every layer's options and every weight
 * (present, right shape, float32, finite, none left over, byte count exact), with errors that
 * name the layer and say what to do.
 */
export function parseTfjsModel(modelJson: unknown, weightData: ArrayBuffer | Uint8Array, source = "model.json", opts: KerasParseOptions = {}): KerasModel {
  const dtype = opts.dtype ?? "float32";
  const manifest = readTfjsManifest(modelJson, source);
  const topology = topologyOf(modelJson as Json, source);
  const bytes = weightData instanceof Uint8Array ? weightData : new Uint8Array(weightData);
  if (bytes.byteLength !== manifest.byteLength) {
    const short = bytes.byteLength < manifest.byteLength;
    throw new Error(
      `${source}: the weight data holds ${bytes.byteLength} bytes, but the manifest's ${manifest.weights.length} weights need ${manifest.byteLength}; ` +
        (short ? "a shard file is truncated or missing — copy every shard listed in weightsManifest next to model.json" : "the shards hold extra bytes — they do not belong to this model.json"),
    );
  }
  const store = new WeightStore(manifest, bytes, source);
  const { name, layers: parsed } = chainOf(topology, source);

  const layers: KerasLayer[] = [];
  const skipped: string[] = [];
  let input: KerasInput | undefined;
  let flow: Flow | undefined;
  let declared: (number | null)[] | undefined;
  const needSequence = (l: ParsedLayer, f: Flow | undefined): number | null => {
    if (f === undefined) return null;
    if (f.rank !== 3) throw new Error(`${source}: ${l.where} needs a 3-D input (batch, time, features), but the layer before it outputs (batch, features); set return_sequences: true on the recurrent layer before it`);
    return f.F;
  };
  const featuresInput = (I: number): void => {
    if (input === undefined) input = { kind: "features", T: declared?.[0] ?? null, I };
  };

  for (const l of parsed) {
    const c = l.config;
    declared = declared ?? declaredShape(c);
    switch (l.className) {
      case "InputLayer":
        if (flow !== undefined) throw new Error(`${source}: ${l.where} is not the first layer`);
        break;
      case "Dropout":
      case "SpatialDropout1D":
        skipped.push(l.name); // the identity at inference
        break;
      case "Embedding": {
        if (flow !== undefined) throw new Error(`${source}: ${l.where} must be the first layer (it reads token ids)`);
        const V = positiveInt(l, c, "input_dim", source);
        const E = positiveInt(l, c, "output_dim", source);
        const W = store.take(l, "embeddings", [V, E], "", `input_dim ${V} × output_dim ${E}`);
        const params = createArena(dtype, [{ name: "weight", shape: [V, E] }]);
        try {
          loadStateDict(params, { weight: { shape: [V, E], data: W } });
        } catch (e) {
          throw new Error(`${source}: ${l.where}: ${(e as Error).message}`);
        }
        const inputLength = opt(c, "input_length");
        const T = Number.isInteger(inputLength) ? (inputLength as number) : (declared?.[0] ?? null);
        input = { kind: "ids", T, V };
        layers.push({ kind: "embedding", name: l.name, V, E, maskZero: flag(c, "mask_zero"), params });
        flow = { rank: 3, F: E };
        break;
      }
      case "SimpleRNN":
      case "LSTM":
      case "GRU":
      case "Bidirectional": {
        let inner = { className: l.className, config: c };
        let bidi: MergeMode | null = null;
        if (l.className === "Bidirectional") {
          const w = opt(c, "layer");
          if (!isObject(w) || typeof w.class_name !== "string" || !isObject(w.config)) throw new Error(`${source}: ${l.where} has no wrapped layer in config.layer`);
          if (w.class_name !== "SimpleRNN" && w.class_name !== "LSTM" && w.class_name !== "GRU") {
            throw new Error(`${source}: ${l.where} wraps a ${w.class_name}; unroll's bidirectional layers wrap SimpleRNN, LSTM or GRU`);
          }
          const mode = opt(c, "merge_mode") === undefined ? "concat" : opt(c, "merge_mode");
          if (mode !== "concat" && mode !== "sum" && mode !== "mul" && mode !== "ave") {
            throw new Error(`${source}: ${l.where} uses merge_mode ${show(mode)}; unroll supports "concat", "sum", "mul" and "ave" (null would give two outputs)`);
          }
          inner = { className: w.class_name, config: w.config };
          bidi = mode;
        }
        let I = needSequence(l, flow);
        if (I === null) {
          I = declared?.[1] ?? null;
          if (I === null) throw new Error(`${source}: ${l.where} is the first layer but declares no input shape; build it with inputShape: [T, features]`);
        }
        featuresInput(I);
        const r = parseRecurrent(l, inner, bidi, I, store, dtype, isKeras3Model(modelJson));
        layers.push(r);
        const H = r.config.hiddenSize;
        const F = bidi === "concat" ? 2 * H : H;
        flow = { rank: r.returnSequences ? 3 : 2, F };
        break;
      }
      case "Dense":
      case "TimeDistributed": {
        let dc = c;
        if (l.className === "TimeDistributed") {
          const w = opt(c, "layer");
          if (!isObject(w) || w.class_name !== "Dense" || !isObject(w.config)) {
            throw new Error(`${source}: ${l.where} wraps ${isObject(w) ? text(w.class_name) : "nothing"}; unroll supports TimeDistributed(Dense) only`);
          }
          needSequence(l, flow);
          dc = w.config;
        }
        if (flow === undefined) {
          const I = declared?.length === 2 ? declared[1] : null;
          if (I === null) throw new Error(`${source}: ${l.where} as the first layer needs a declared (time, features) input shape; unroll models read sequences`);
          featuresInput(I);
          flow = { rank: 3, F: I };
        }
        const dense = parseDense(l, dc, flow.F, store, dtype);
        layers.push(dense);
        flow = { rank: flow.rank, F: dense.O };
        break;
      }
      case "Activation":
        if (flow === undefined) throw new Error(`${source}: ${l.where} cannot be the first layer`);
        layers.push({ kind: "activation", name: l.name, activation: denseActivation(l, opt(c, "activation"), source) });
        break;
      default:
        throw new Error(
          `${source}: ${l.where} is not supported; unroll imports ${SUPPORTED_LAYERS.join(", ")} (TimeDistributed of Dense, Bidirectional of SimpleRNN/LSTM/GRU). Run this model with TensorFlow.js itself`,
        );
    }
  }
  if (input === undefined || layers.length === 0) throw new Error(`${source}: the model has no layers unroll can run`);
  const unused = manifest.weights.filter((w) => !store.used.has(w.name)).map((w) => w.name);
  if (unused.length > 0) {
    throw new Error(`${source}: the weights manifest holds weights no layer uses: ${unused.join(", ")}; the model.json and its weights do not belong together — re-save the model`);
  }
  return { kind: "keras-model", source, name, dtype, input, layers, skipped };
}

/** In place: y (N, F) ← act(y), row-wise for softmax. */
function activate(act: KerasActivation, y: FloatArray, N: number, F: number): void {
  if (act === "softmax") softmaxRows(y, N, F);
  else if (act === "relu") for (let i = 0; i < y.length; i++) y[i] = y[i] > 0 ? y[i] : 0;
  else if (act === "tanh") for (let i = 0; i < y.length; i++) y[i] = Math.tanh(y[i]);
  else if (act === "sigmoid") for (let i = 0; i < y.length; i++) y[i] = 1 / (1 + Math.exp(-y[i]));
}

/** (N, 2H) rows [forward, backward] → (N, H) merged by `mode` (not concat). */
function mergeHalves(x: FloatArray, N: number, H: number, mode: Exclude<MergeMode, "concat">, dtype: DType): FloatArray {
  const out = allocate(dtype, N * H);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < H; j++) {
      const a = x[n * 2 * H + j];
      const b = x[n * 2 * H + H + j];
      out[n * H + j] = mode === "sum" ? a + b : mode === "mul" ? a * b : 0.5 * (a + b);
    }
  }
  return out;
}

/** (T, B, F) → the same with time reversed. */
function reverseTime(x: FloatArray, T: number, BF: number): FloatArray {
  const out = allocate(x instanceof Float64Array ? "float64" : "float32", x.length);
  for (let t = 0; t < T; t++) out.set(x.subarray(t * BF, (t + 1) * BF), (T - 1 - t) * BF);
  return out;
}

/** One recurrent layer on x (B, T, I), batch-first → (B, T, F) or (B, F). */
function runRecurrent(backend: Backend, r: KerasRecurrent, dtype: DType, x: FloatArray, B: number, T: number): { data: FloatArray; shape: number[] } {
  const { inputSize: I, hiddenSize: H } = r.config;
  let xt = transposeTB(x, B, T, I); // (T, B, I)
  if (r.goBackwards) xt = reverseTime(xt, T, B * I);
  const pass = recurrentForward(backend, bindRecurrent(r.config, r.params), dtype, xt, T, B, null, null);
  const D = r.config.bidirectional ? 2 : 1;
  if (r.returnSequences) {
    let y = pass.y; // (T, B, D·H), both directions time-aligned
    if (D === 2 && r.mergeMode !== "concat") y = mergeHalves(y, T * B, H, r.mergeMode, dtype);
    const F = D === 2 && r.mergeMode === "concat" ? 2 * H : H;
    return { data: transposeTB(y, T, B, F), shape: [B, T, F] };
  }
  if (D === 1) return { data: pass.hN.slice(), shape: [B, H] };
  // Last outputs: h_T of the forward direction, h after reading x_0 of the backward one.
  const both = allocate(dtype, B * 2 * H);
  for (let b = 0; b < B; b++) {
    both.set(pass.hN.subarray(b * H, (b + 1) * H), b * 2 * H);
    both.set(pass.hN.subarray(B * H + b * H, B * H + (b + 1) * H), b * 2 * H + H);
  }
  if (r.mergeMode === "concat") return { data: both, shape: [B, 2 * H] };
  return { data: mergeHalves(both, B, H, r.mergeMode, dtype), shape: [B, H] };
}

/**
 * Runs `model` on a batch, as TF.js's `model.predict`: `input` is token ids (B, T) for a model
 * starting with an Embedding, else features (B, T, I), batch-first. Returns the model's output,
 * batch-first, in the model's dtype: (B, F) after a recurrent layer without return_sequences,
 * (B, T, F) otherwise.
 */
export function runKerasModel(
  model: KerasModel,
  input: Float32Array | Float64Array | Int32Array,
  shape: readonly number[],
  backend: Backend = getBackend(),
): { data: FloatArray; shape: number[] } {
  const { input: spec, dtype, source } = model;
  const want = spec.kind === "ids" ? `(batch, ${spec.T ?? "time"})` : `(batch, ${spec.T ?? "time"}, ${spec.I})`;
  const rank = spec.kind === "ids" ? 2 : 3;
  if (shape.length !== rank || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${source}: input shape ${formatShape(shape)} does not fit the model, which reads ${spec.kind === "ids" ? "token ids" : "features"} ${want}, batch-first`);
  }
  if (input.length !== sizeOf(shape)) throw new Error(`${source}: input has shape ${formatShape(shape)} but ${input.length} values`);
  const [B, T] = shape;
  if (spec.T !== null && T !== spec.T) throw new Error(`${source}: the model was built for sequences of length ${spec.T}, got input shape ${formatShape(shape)}; pad or cut the sequences to ${spec.T} steps`);
  if (spec.kind === "features" && shape[2] !== spec.I) throw new Error(`${source}: input shape ${formatShape(shape)}: the model reads ${spec.I} features per step, expected ${want}`);

  let x: FloatArray;
  let dims: number[];
  if (spec.kind === "ids") {
    checkTokenIds(input, spec.V, "token id");
    x = allocate(dtype, 0);
    dims = [B, T];
  } else {
    checkFinite(input, "input");
    x = input instanceof Int32Array || dtype !== (input instanceof Float64Array ? "float64" : "float32") ? fromValues(dtype, input) : input;
    dims = [...shape];
  }
  for (const l of model.layers) {
    switch (l.kind) {
      case "embedding": {
        const ids = input instanceof Int32Array ? input : Int32Array.from(input);
        if (l.maskZero && ids.includes(0)) {
          throw new Error(`${source}: layer "${l.name}" (Embedding) has mask_zero: true and the input holds id 0 (padding); unroll does not implement Keras masking — pass sequences without padding, or re-create the layer with mask_zero: false`);
        }
        x = allocate(dtype, ids.length * l.E);
        embeddingForward(view(l.params, "weight"), ids, l.E, x);
        dims = [B, T, l.E];
        break;
      }
      case "recurrent": {
        const out = runRecurrent(backend, l, dtype, x, dims[0], dims[1]);
        x = out.data;
        dims = out.shape;
        break;
      }
      case "dense": {
        const N = x.length / l.I;
        const y = allocate(dtype, N * l.O);
        linearForward(backend, view(l.params, "weight"), view(l.params, "bias"), x, N, l.I, l.O, y);
        activate(l.activation, y, N, l.O);
        x = y;
        dims = [...dims.slice(0, -1), l.O];
        break;
      }
      case "activation":
        activate(l.activation, x, x.length / dims[dims.length - 1], dims[dims.length - 1]);
        break;
    }
  }
  return { data: x, shape: dims };
}

/** A Keras recurrent layer as an unroll `RecurrentLayer`, with the Keras options it keeps. */
export interface KerasRecurrentLayer {
  readonly name: string;
  /** Its parameters copied; `forward`/`backward` run it (and train it) like any unroll layer. */
  readonly layer: RecurrentLayer;
  /** Keras returns the whole sequence (else the last output: h_N, or [h_N fwd, h_N bwd] merged). */
  readonly returnSequences: boolean;
  /** Keras feeds it the time-reversed sequence and returns outputs in that order. */
  readonly goBackwards: boolean;
  /** How Keras merges the two directions; unroll's bidirectional output is "concat". */
  readonly mergeMode: MergeMode;
}

/**
 * The recurrent layers of `model` as unroll `RecurrentLayer`s (parameters copied), for use with
 * `forward` / `backward` / training. What a `RecurrentLayer` does not model — go_backwards,
 * merge modes other than concat, returning only the last output — is returned alongside.
 */
export function kerasToRecurrentLayers(model: KerasModel, backend?: string): KerasRecurrentLayer[] {
  return model.layers.flatMap((l) => {
    if (l.kind !== "recurrent") return [];
    const { cell, inputSize, hiddenSize, bidirectional } = l.config;
    const layer = recurrentLayer({ cell, inputSize, hiddenSize, bidirectional, dtype: model.dtype, backend });
    layer.params.data.set(l.params.data); // same specs, same layout
    return [{ name: l.name, layer, returnSequences: l.returnSequences, goBackwards: l.goBackwards, mergeMode: l.mergeMode }];
  });
}
