/**
 * Conformance against reference vectors (the format of test/fixtures/reference/README.md):
 * builds the module a file describes from its PyTorch-named tensors, runs forward and backward
 * with the file's upstream gradients, and compares every output and gradient with
 * |a − b| ≤ atol + rtol·|b|. Users porting a model from PyTorch run the same check on vectors
 * they generate themselves (`unroll conformance FILE`).
 */
import type { Backend } from "../backend/backend.js";
import type { CellConfig } from "../cells/cell.js";
import { checkTokenIds } from "../layers/embedding.js";
import { loadStateDict, recurrentFromStateDict, type NamedTensor, type StateDict } from "../api/state-dict.js";
import {
  createGradients,
  createLanguageModel,
  languageModelBackward,
  languageModelForward,
  languageModelLoss,
} from "../model/language-model.js";
import { bindRecurrent, directions, recurrentBackward, recurrentForward, transposeTB } from "../sequence/recurrent.js";
import { mirrorArena, view } from "../tensor/arena.js";
import { fromValues, formatShape, sizeOf, type DType, type FloatArray } from "../tensor/dtype.js";

/** Tolerances of the reference README, per dtype. */
export const TOLERANCE: Readonly<Record<DType, { readonly rtol: number; readonly atol: number }>> = {
  float64: { rtol: 1e-9, atol: 1e-12 },
  float32: { rtol: 1e-4, atol: 1e-5 },
};

/** One reference file, parsed and validated. */
export interface ReferenceCase {
  readonly name: string;
  readonly module: "RNN" | "LSTM" | "GRU";
  readonly config: {
    readonly input_size: number;
    readonly hidden_size: number;
    readonly num_layers: number;
    readonly bidirectional: boolean;
    readonly nonlinearity: "tanh" | "relu" | null;
    readonly batch_first: boolean;
    readonly batch_size: number;
    readonly seq_len: number;
    readonly vocab_size?: number;
    readonly embedding_dim?: number;
  };
  readonly tensors: StateDict;
}

/** How far one compared tensor is from the reference. */
export interface TensorReport {
  readonly name: string;
  readonly count: number;
  /** max |a − b| */
  readonly maxAbsError: number;
  /** max |a − b| / |b| over elements with b ≠ 0 */
  readonly maxRelError: number;
  /** max |a − b| / (atol + rtol·|b|): ≤ 1 passes */
  readonly worstRatio: number;
  readonly pass: boolean;
}

/** The result of one reference case. */
export interface ConformanceReport {
  readonly case: string;
  readonly dtype: DType;
  readonly backend: string;
  readonly rtol: number;
  readonly atol: number;
  readonly tensors: readonly TensorReport[];
  /** the tensor with the largest `worstRatio` */
  readonly worst: TensorReport;
  readonly pass: boolean;
}

/** Validates a parsed JSON document as a reference case; `source` names it in errors. */
export function parseReference(doc: unknown, source: string): ReferenceCase {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what} (see the format in test/fixtures/reference/README.md)`);
  };
  if (typeof doc !== "object" || doc === null) fail("not a JSON object");
  const d = doc as Record<string, unknown>;
  const module = d.module;
  if (module !== "RNN" && module !== "LSTM" && module !== "GRU") fail(`"module" must be "RNN", "LSTM" or "GRU", got ${JSON.stringify(module)}`);
  const config = d.config as Record<string, unknown> | undefined;
  if (typeof config !== "object" || config === null) fail(`missing "config" object`);
  for (const k of ["input_size", "hidden_size", "num_layers", "batch_size", "seq_len"]) {
    const v = config![k];
    if (!Number.isInteger(v) || (v as number) < 1) fail(`config.${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (config!.bias === false) fail("config.bias = false is not supported: export the module with bias=True");
  if (module === "RNN" && config!.nonlinearity !== "tanh" && config!.nonlinearity !== "relu") fail(`config.nonlinearity must be "tanh" or "relu" for an RNN`);
  const raw = d.tensors;
  if (typeof raw !== "object" || raw === null) fail(`missing "tensors" object`);
  const tensors: Record<string, NamedTensor> = {};
  for (const [name, t] of Object.entries(raw as Record<string, unknown>)) {
    const tt = t as { shape?: unknown; data?: unknown };
    if (!Array.isArray(tt?.shape) || !tt.shape.every((s) => Number.isInteger(s) && s >= 0)) fail(`tensor "${name}" has no valid "shape"`);
    if (!Array.isArray(tt.data) || !tt.data.every((v) => typeof v === "number")) fail(`tensor "${name}" has no numeric "data" array`);
    const shape = tt.shape as number[];
    const data = tt.data as number[];
    if (data.length !== sizeOf(shape)) fail(`tensor "${name}" has shape ${formatShape(shape)} but ${data.length} values`);
    tensors[name] = { shape, data };
  }
  return {
    name: typeof d.case === "string" ? d.case : source,
    module: module as ReferenceCase["module"],
    config: { batch_first: true, bidirectional: false, nonlinearity: null, ...config } as ReferenceCase["config"],
    tensors,
  };
}

function cellOf(ref: ReferenceCase): CellConfig {
  if (ref.module === "LSTM") return { kind: "lstm", peephole: false, coupled: false };
  if (ref.module === "GRU") return { kind: "gru", resetAfter: true };
  return { kind: "rnn", nonlinearity: ref.config.nonlinearity === "relu" ? "relu" : "tanh" };
}

/** Runs one reference case in `dtype` on `backend` and compares everything the file holds. */
export function runReference(ref: ReferenceCase, dtype: DType, backend: Backend): ConformanceReport {
  const results = ref.config.vocab_size !== undefined ? runLanguageModel(ref, dtype, backend) : runRecurrent(ref, dtype, backend);
  const { rtol, atol } = TOLERANCE[dtype];
  const tensors: TensorReport[] = [];
  for (const [name, actual] of results) {
    const expected = ref.tensors[name];
    if (!expected) continue; // the file does not hold this one
    tensors.push(compare(name, actual, expected.data, rtol, atol));
  }
  if (tensors.length === 0) throw new Error(`${ref.name}: nothing to compare: the file holds none of the outputs or gradients`);
  const worst = tensors.reduce((a, b) => (b.worstRatio > a.worstRatio ? b : a));
  return { case: ref.name, dtype, backend: backend.name, rtol, atol, tensors, worst, pass: tensors.every((t) => t.pass) };
}

function compare(name: string, a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): TensorReport {
  if (a.length !== b.length) throw new Error(`${name}: computed ${a.length} values but the reference holds ${b.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - b[i]);
    const ratio = Number.isNaN(err) ? Infinity : err / (atol + rtol * Math.abs(b[i]));
    maxAbs = Math.max(maxAbs, err);
    if (b[i] !== 0) maxRel = Math.max(maxRel, err / Math.abs(b[i]));
    worst = Math.max(worst, ratio);
  }
  return { name, count: a.length, maxAbsError: maxAbs, maxRelError: maxRel, worstRatio: worst, pass: worst <= 1 };
}

function need(ref: ReferenceCase, name: string): NamedTensor {
  const t = ref.tensors[name];
  if (!t) throw new Error(`${ref.name}: missing tensor "${name}"`);
  return t;
}

/** A tensor of the file in `dtype` (float32 rounds, as the README asks). */
function load(ref: ReferenceCase, name: string, dtype: DType): FloatArray {
  return fromValues(dtype, need(ref, name).data);
}

/** RNN / LSTM / GRU modules: forward, then backward from gy, gh, gc. */
function runRecurrent(ref: ReferenceCase, dtype: DType, backend: Backend): Map<string, FloatArray | number[]> {
  const cfg = ref.config;
  const cell = cellOf(ref);
  const params: StateDict = Object.fromEntries(Object.entries(ref.tensors).filter(([k]) => /^(weight|bias)_/.test(k)));
  const { config, params: arena } = recurrentFromStateDict(params, cell, dtype);
  if (config.numLayers !== cfg.num_layers || config.hiddenSize !== cfg.hidden_size || config.bidirectional !== cfg.bidirectional) {
    throw new Error(`${ref.name}: the tensors describe ${config.numLayers} layer(s) of hidden size ${config.hiddenSize}${config.bidirectional ? ", bidirectional" : ""}, but the config says otherwise`);
  }
  const grads = mirrorArena(arena);
  const r = bindRecurrent(config, arena);
  const g = bindRecurrent(config, grads);
  const B = cfg.batch_size;
  const T = cfg.seq_len;
  const H = cfg.hidden_size;
  const DH = directions(config) * H;
  const tm = (a: FloatArray, F: number) => (cfg.batch_first ? transposeTB(a, B, T, F) : a);
  const x = tm(load(ref, "x", dtype), cfg.input_size);
  const hasC = r.cell.hasC;
  const h0 = ref.tensors.h0 ? load(ref, "h0", dtype) : null;
  const c0 = hasC && ref.tensors.c0 ? load(ref, "c0", dtype) : null;
  const pass = recurrentForward(backend, r, dtype, x, T, B, h0, c0);
  const gy = ref.tensors.gy ? tm(load(ref, "gy", dtype), DH) : null;
  const gh = ref.tensors.gh ? load(ref, "gh", dtype) : null;
  const gc = hasC && ref.tensors.gc ? load(ref, "gc", dtype) : null;
  const { dx, dh0, dc0 } = recurrentBackward(backend, r, g, dtype, pass, gy, gh, gc);
  const bt = (a: FloatArray, F: number) => (cfg.batch_first ? transposeTB(a, T, B, F) : a);
  let L = 0;
  if (gy) for (let i = 0; i < pass.y.length; i++) L += pass.y[i] * gy[i];
  if (gh) for (let i = 0; i < pass.hN.length; i++) L += pass.hN[i] * gh[i];
  if (gc) for (let i = 0; i < pass.cN.length; i++) L += pass.cN[i] * gc[i];
  const out = new Map<string, FloatArray | number[]>([
    ["y", bt(pass.y, DH)],
    ["h_n", pass.hN],
    ["L", [L]],
    ["grad.x", bt(dx, cfg.input_size)],
    ["grad.h0", dh0],
  ]);
  if (hasC) {
    out.set("c_n", pass.cN);
    out.set("grad.c0", dc0);
  }
  for (const spec of grads.specs) out.set(`grad.${spec.name}`, view(grads, spec.name));
  return out;
}

/** Embedding → LSTM → Linear → cross-entropy (the char-LM case). */
function runLanguageModel(ref: ReferenceCase, dtype: DType, backend: Backend): Map<string, FloatArray | number[]> {
  const cfg = ref.config;
  const cell = cellOf(ref);
  const V = cfg.vocab_size!;
  const model = createLanguageModel(
    { vocabSize: V, embedSize: cfg.embedding_dim ?? cfg.input_size, cell, hiddenSize: cfg.hidden_size, numLayers: cfg.num_layers, dropout: 0 },
    dtype,
  );
  const params: Record<string, NamedTensor> = {};
  for (const s of model.params.specs) params[s.name] = need(ref, s.name);
  loadStateDict(model.params, params);
  const B = cfg.batch_size;
  const T = cfg.seq_len;
  const toTimeMajor = (name: string): Int32Array => {
    const ids = need(ref, name).data;
    checkTokenIds(ids, V, `${name} id`);
    const out = new Int32Array(T * B);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[t * B + b] = cfg.batch_first ? ids[b * T + t] : ids[t * B + b];
    return out;
  };
  const tokens = toTimeMajor("tokens");
  const targets = toTimeMajor("targets");
  const h0 = ref.tensors.h0 ? load(ref, "h0", dtype) : null;
  const c0 = ref.tensors.c0 ? load(ref, "c0", dtype) : null;
  const pass = languageModelForward(backend, model, tokens, T, B, h0 ? { h: h0, c: c0 } : null);
  const dlogits = fromValues(dtype, new Array(pass.logits.length).fill(0));
  const loss = languageModelLoss(model, pass, targets, dlogits);
  const grads = createGradients(model);
  languageModelBackward(backend, model, grads, pass, dlogits);
  const bt = (a: FloatArray, F: number) => (cfg.batch_first ? transposeTB(a, T, B, F) : a);
  const out = new Map<string, FloatArray | number[]>([
    ["logits", bt(pass.logits, V)],
    ["loss", [loss]],
    ["grad.logits", bt(dlogits, V)],
    ["h_n", pass.state.h],
  ]);
  if (pass.state.c) out.set("c_n", pass.state.c);
  for (const spec of grads.specs) out.set(`grad.${spec.name}`, view(grads, spec.name));
  return out;
}
