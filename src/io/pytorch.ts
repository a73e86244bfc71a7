/**
 * PyTorch interoperability through safetensors files. unroll's parameters already carry PyTorch's
 * names and shapes (`io/state-dict.ts`), so a language model exported here is the state dict of
 *
 *   class LM(nn.Module):
 *       def __init__(self, V, E, H, L):
 *           super().__init__()
 *           self.embedding = nn.Embedding(V, E)    # absent when E = 0: the input is F.one_hot(x, V).float()
 *           self.lstm = nn.LSTM(E or V, H, L, batch_first=True)   # or self.gru = nn.GRU(…), self.rnn = nn.RNN(…)
 *           self.linear = nn.Linear(H, V)
 *       def forward(self, x, state=None):          # x (B, T) token ids
 *           y, state = self.lstm(self.embedding(x), state)
 *           return self.linear(y), state           # logits (B, T, V)
 *
 * (`model.load_state_dict(tensors)` takes it as is), and such a state dict saved by PyTorch loads
 * here. The file's `__metadata__` says what the tensors cannot: `format` ("unroll-lm"), `version`,
 * `config` (JSON: cell, module, vocab_size, embedding_dim, hidden_size, num_layers, dropout,
 * batch_first, and nonlinearity for an RNN) and `vocab` (JSON: the vocabulary). Bare recurrent
 * layers (`nn.LSTM`, `nn.GRU`, `nn.RNN`, any depth, bidirectional or not), `nn.Embedding` and
 * `nn.Linear` travel the same way.
 *
 * Cell variants PyTorch has no module for (lstm-peephole, lstm-coupled, gru-cho, rnn-sigmoid, and
 * the hard-sigmoid `-hard` cells) are refused: under PyTorch's names their weights would load
 * without complaint and compute something else.
 */
import { loadLayerWeights, recurrentLayer, type RecurrentLayer } from "../api/recurrent-layer.js";
import { checkTensor, tensor, type Tensor } from "../api/tensor.js";
import { cellName, parseCell, type CellConfig } from "../cells/cell.js";
import { createLanguageModel, languageModelSpecs, recurrentPrefix, type LanguageModelConfig } from "../model/language-model.js";
import type { TrainedModel } from "../model/trained.js";
import { createArena, view, type Arena } from "../tensor/arena.js";
import { formatShape, type DType } from "../tensor/dtype.js";
import { checkVocabulary, type Vocabulary } from "../text/vocab.js";
import { readSafetensors, writeSafetensors, type Safetensors, type WritableTensor } from "./safetensors.js";
import { checkStateDict, inferRecurrentConfig, loadStateDict, type NamedTensor, type StateDict } from "../api/state-dict.js";
import { recurrentSpecs } from "../sequence/recurrent.js";

/** `__metadata__.format` of a language model file. */
export const LM_FORMAT = "unroll-lm";
/** `__metadata__.format` of a bare recurrent layer file. */
export const LAYER_FORMAT = "unroll-recurrent";
/** `__metadata__.version` written; readers refuse newer ones. */
export const INTEROP_VERSION = 1;

/** The cells PyTorch has a module for. */
export const PYTORCH_CELLS = ["lstm", "gru", "rnn", "rnn-relu"] as const;
/** A cell PyTorch has a module for: nn.LSTM, nn.GRU, nn.RNN (tanh), nn.RNN(nonlinearity="relu"). */
export type PyTorchCellName = (typeof PYTORCH_CELLS)[number];

/** Why a variant has no PyTorch module. */
const NO_MODULE: Readonly<Record<string, string>> = {
  "lstm-peephole": "nn.LSTM has no peephole connections",
  "lstm-coupled": "nn.LSTM always has its own input gate",
  "lstm-peephole-coupled": "nn.LSTM has neither peephole connections nor a coupled input gate",
  "gru-cho": "nn.GRU applies the reset gate after the recurrent product, Cho et al.'s GRU before it",
  "rnn-sigmoid": "nn.RNN's nonlinearity is tanh or relu",
  ...Object.fromEntries(
    ["lstm", "lstm-peephole", "lstm-coupled", "lstm-peephole-coupled", "gru", "gru-cho"].map((n) => [
      `${n}-hard`,
      `its gates are the hard sigmoid; nn.${n.startsWith("lstm") ? "LSTM" : "GRU"}'s are the logistic sigmoid`,
    ]),
  ),
};

/** The PyTorch module of a cell; throws for the variants PyTorch lacks. */
export function pytorchModule(cell: CellConfig, who = "export"): "LSTM" | "GRU" | "RNN" {
  const name = cellName(cell);
  if (name === "lstm") return "LSTM";
  if (name === "gru") return "GRU";
  if (name === "rnn" || name === "rnn-relu") return "RNN";
  throw new Error(
    `${who}: PyTorch has no module for the "${name}" cell (${NO_MODULE[name] ?? "it is not one of lstm, gru, rnn, rnn-relu"}), ` +
      `so its weights cannot be exported under PyTorch's names; train with --cell ${PYTORCH_CELLS.join(", ")} to exchange models with PyTorch, or keep the unroll checkpoint`,
  );
}

/** The config of a cell PyTorch has; refuses other names. */
function pytorchCell(name: unknown, where: string): CellConfig {
  if (typeof name !== "string" || !(PYTORCH_CELLS as readonly string[]).includes(name)) {
    const variant = typeof name === "string" && name in NO_MODULE ? ` (${NO_MODULE[name]})` : "";
    throw new Error(`${where} names the cell ${show(name)}${variant}; PyTorch's modules are ${PYTORCH_CELLS.join(", ")}`);
  }
  return parseCell(name);
}

// ---------------------------------------------------------------------------------------------
// Language models

/** Options of `importLanguageModel`, for files whose metadata lacks something. */
export interface LanguageModelImportOptions {
  /** The vocabulary, for a state dict saved without unroll's metadata (overrides the file's). */
  readonly vocab?: Vocabulary;
  /** The cell, when the metadata does not name it: needed for an `nn.RNN` ("rnn" is tanh, "rnn-relu"). */
  readonly cell?: PyTorchCellName;
  /** Parameter dtype; default float64 when every tensor is F64, else float32. */
  readonly dtype?: DType;
}

/**
 * A safetensors file of `lm`: its parameters under PyTorch's names, in its dtype (F32 or F64),
 * with the config and vocabulary as metadata. Throws for cells PyTorch has no module for.
 */
export function exportLanguageModel(lm: TrainedModel): Uint8Array {
  const who = "exportLanguageModel";
  const c = lm.model.config;
  const module = pytorchModule(c.cell, who);
  const vocab = checkVocabulary(lm.vocab, who);
  if (vocab.tokens.length !== c.vocabSize) throw new Error(`${who}: the vocabulary has ${vocab.tokens.length} tokens but the model ${c.vocabSize}; they do not belong together`);
  const config = {
    cell: cellName(c.cell),
    module,
    vocab_size: c.vocabSize,
    embedding_dim: c.embedSize,
    hidden_size: c.hiddenSize,
    num_layers: c.numLayers,
    dropout: c.dropout,
    batch_first: true,
    ...(c.cell.kind === "rnn" ? { nonlinearity: c.cell.nonlinearity } : {}),
  };
  const metadata = { format: LM_FORMAT, version: String(INTEROP_VERSION), config: JSON.stringify(config), vocab: JSON.stringify(vocab) };
  return writeSafetensors(arenaTensors(lm.model.params, who), metadata);
}

/**
 * The language model in a safetensors file: exported by `exportLanguageModel`, or a PyTorch
 * state dict with tensors `embedding.weight` (optional: one-hot input), `lstm.*`|`gru.*`|`rnn.*`,
 * `linear.weight`, `linear.bias`. Checks every tensor's presence, shape and values, and the
 * metadata against them; `source` (a file name) starts every error.
 */
export function importLanguageModel(bytes: Uint8Array, source = "safetensors", opts: LanguageModelImportOptions = {}): TrainedModel {
  const file = readSafetensors(bytes, source);
  return withSource(source, () => {
    const meta = unrollMetadata(file, LM_FORMAT);
    if (meta === null && file.metadata.format === LAYER_FORMAT) {
      throw new Error("this file holds a bare recurrent layer (exportRecurrentLayer), not a language model; load it with importRecurrentLayer");
    }
    const cfg = meta?.config ?? null;

    // The cell: the recurrent module's name prefix says LSTM, GRU or RNN; the metadata or the caller the variant.
    const found = ["lstm.", "gru.", "rnn."].filter((p) => `${p}weight_ih_l0` in file.tensors);
    if (found.length === 0) {
      throw new Error(`no recurrent module: a language model has tensors lstm.weight_ih_l0, gru.weight_ih_l0 or rnn.weight_ih_l0, and this file holds ${listNames(file)}`);
    }
    if (found.length > 1) throw new Error(`the file holds ${found.length} recurrent modules (${found.map((p) => `${p}*`).join(", ")}); a language model has one`);
    const kind = found[0].slice(0, -1);
    if (opts.cell !== undefined && cfg?.cell !== undefined && opts.cell !== cfg.cell) {
      throw new Error(`the cell "${opts.cell}" was asked for, but the file's metadata says ${show(cfg.cell)}`);
    }
    const named = opts.cell ?? cfg?.cell;
    if (named === undefined && kind === "rnn") {
      throw new Error('an nn.RNN does not record its nonlinearity in its tensors: pass the cell, "rnn" (tanh) or "rnn-relu" (unroll import --cell)');
    }
    const cell = named === undefined ? parseCell(kind) : pytorchCell(named, opts.cell !== undefined ? "the caller" : 'the metadata "config"');
    if (cell.kind !== kind) throw new Error(`the cell is "${cellName(cell)}" but the tensors are those of an nn.${kind.toUpperCase()} (${kind}.*)`);
    const prefix = recurrentPrefix(cell);

    let vocab: Vocabulary;
    if (opts.vocab !== undefined) vocab = checkVocabulary(opts.vocab, "the vocabulary passed");
    else if (meta?.vocab !== undefined) vocab = checkVocabulary(parseJson(meta.vocab, 'metadata "vocab"'), 'metadata "vocab"');
    else {
      const why = meta ? 'the metadata has no "vocab"' : 'the file has no unroll metadata (format "unroll-lm" with "config" and "vocab"), as when a state dict is saved straight from PyTorch';
      throw new Error(`no vocabulary: ${why}; pass the vocabulary (unroll import --vocab FILE.json)`);
    }
    const V = vocab.tokens.length;

    const dict = floatDict(file);
    const rc = inferRecurrentConfig(dict, cell, prefix);
    if (rc.bidirectional) throw new Error(`${prefix}weight_ih_l0_reverse is present, but a language model's recurrent stack runs forward only`);
    const emb = dict["embedding.weight"];
    if (emb !== undefined && (emb.shape.length !== 2 || emb.shape[0] !== V)) {
      throw new Error(`embedding.weight has shape ${formatShape(emb.shape)} but the vocabulary has ${V} tokens, so it must be (${V}, embedding size); the vocabulary does not belong to these weights`);
    }
    const lin = dict["linear.weight"];
    if (lin !== undefined && (lin.shape.length !== 2 || lin.shape[0] !== V)) {
      throw new Error(`linear.weight has shape ${formatShape(lin.shape)} but the vocabulary has ${V} tokens, so it must be (${V}, ${rc.hiddenSize}); the vocabulary does not belong to these weights`);
    }
    const E = emb === undefined ? 0 : emb.shape[1];
    if (emb === undefined && rc.inputSize !== V) {
      throw new Error(`there is no embedding.weight, so the input is one-hot over the ${V} tokens, but ${prefix}weight_ih_l0 takes inputs of size ${rc.inputSize}; is embedding.weight missing?`);
    }
    const config: LanguageModelConfig = { vocabSize: V, embedSize: E, cell, hiddenSize: rc.hiddenSize, numLayers: rc.numLayers, dropout: cfg ? dropoutOf(cfg) : 0 };
    if (cfg) {
      const declared: [string, number][] = [["vocab_size", V], ["embedding_dim", E], ["hidden_size", rc.hiddenSize], ["num_layers", rc.numLayers]];
      for (const [key, actual] of declared) {
        if (cfg[key] !== undefined && cfg[key] !== actual) {
          throw new Error(`the metadata "config" says ${key} ${show(cfg[key])} but the tensors and vocabulary give ${actual}; the file is inconsistent`);
        }
      }
    }
    checkStateDict(languageModelSpecs(config), dict); // before allocating what the names and shapes claim
    const model = createLanguageModel(config, opts.dtype ?? defaultDtype(file));
    loadStateDict(model.params, dict);
    checkFiniteArena(model.params);
    return { model, vocab };
  });
}

// ---------------------------------------------------------------------------------------------
// Bare modules: nn.LSTM / nn.GRU / nn.RNN, nn.Embedding, nn.Linear

/** Options of the module importers. */
export interface ModuleImportOptions {
  /** Starts every error (a file name). */
  readonly source?: string;
  /**
   * Take the module's tensors from under this name prefix (e.g. "lstm." or "embedding." in a
   * language model's file), ignoring the others. Without one, every tensor must belong to it.
   */
  readonly prefix?: string;
  /** Parameter dtype; default float64 when every tensor is F64, else float32. */
  readonly dtype?: DType;
}

/** Options of `importRecurrentLayer`. */
export interface LayerImportOptions extends ModuleImportOptions {
  /** Backend name of the new layer (default: the fastest available). */
  readonly backend?: string;
}

/** A safetensors file of a bare `nn.LSTM` / `nn.GRU` / `nn.RNN` (names `weight_ih_l0`, …). */
export function exportRecurrentLayer(layer: RecurrentLayer): Uint8Array {
  const who = "exportRecurrentLayer";
  const c = layer.config;
  const module = pytorchModule(c.cell, who);
  const config = {
    cell: cellName(c.cell),
    module,
    input_size: c.inputSize,
    hidden_size: c.hiddenSize,
    num_layers: c.numLayers,
    bidirectional: c.bidirectional,
    dropout: c.dropout,
    ...(c.cell.kind === "rnn" ? { nonlinearity: c.cell.nonlinearity } : {}),
  };
  return writeSafetensors(arenaTensors(layer.params, who), { format: LAYER_FORMAT, version: String(INTEROP_VERSION), config: JSON.stringify(config) });
}

/**
 * A recurrent layer from the tensors of an `nn.LSTM` / `nn.GRU` / `nn.RNN` state dict; layer
 * count, direction and sizes are read off the names and shapes. `cell` says which module
 * ("rnn" is tanh, "rnn-relu"); a file exported by unroll must agree with it.
 */
export function importRecurrentLayer(bytes: Uint8Array, cell: PyTorchCellName, opts: LayerImportOptions = {}): RecurrentLayer {
  const source = opts.source ?? "safetensors";
  const file = readSafetensors(bytes, source);
  return withSource(source, () => {
    const config = pytorchCell(cell, "importRecurrentLayer");
    const prefix = opts.prefix ?? "";
    if (prefix === "" && file.metadata.format === LM_FORMAT) {
      const p = ["lstm.", "gru.", "rnn."].find((q) => `${q}weight_ih_l0` in file.tensors) ?? "lstm.";
      throw new Error(`this file holds a language model; take its recurrent layer with the prefix "${p}", or load it whole with importLanguageModel`);
    }
    const meta = prefix === "" ? unrollMetadata(file, LAYER_FORMAT) : null;
    const declared = meta?.config?.cell;
    if (declared !== undefined && declared !== cell) throw new Error(`the file's metadata says its cell is ${show(declared)}, but "${cell}" was asked for; pass ${show(declared)}`);
    const dict = floatDict(file, prefix);
    const rc = inferRecurrentConfig(dict, config);
    checkStateDict(recurrentSpecs(rc), dict); // before allocating what the names and shapes claim
    const layer = recurrentLayer({
      cell: config,
      inputSize: rc.inputSize,
      hiddenSize: rc.hiddenSize,
      numLayers: rc.numLayers,
      bidirectional: rc.bidirectional,
      dropout: meta?.config ? dropoutOf(meta.config) : 0,
      dtype: opts.dtype ?? defaultDtype(file),
      backend: opts.backend,
    });
    loadLayerWeights(layer, dict);
    checkFiniteArena(layer.params);
    return layer;
  });
}

/** A safetensors file of a bare `nn.Embedding`: `weight` (V, E). */
export function exportEmbedding(weight: Tensor): Uint8Array {
  checkTensor(weight, [null, null], "exportEmbedding: weight", "an embedding table is (V, E)");
  return writeSafetensors({ weight: { shape: weight.shape, data: weight.data } });
}

/** The (V, E) table of an `nn.Embedding` state dict (`weight`). */
export function importEmbedding(bytes: Uint8Array, opts: ModuleImportOptions = {}): Tensor {
  const { arena, shapes } = importModule(bytes, opts, "nn.Embedding", false);
  return tensor(view(arena, "weight"), shapes.weight);
}

/** A safetensors file of a bare `nn.Linear`: `weight` (O, I) and, unless null, `bias` (O). */
export function exportLinear(weight: Tensor, bias: Tensor | null = null): Uint8Array {
  checkTensor(weight, [null, null], "exportLinear: weight", "nn.Linear's weight is (out_features, in_features)");
  const tensors: Record<string, WritableTensor> = { weight: { shape: weight.shape, data: weight.data } };
  if (bias !== null) {
    checkTensor(bias, [weight.shape[0]], "exportLinear: bias", "nn.Linear's bias is (out_features)");
    tensors.bias = { shape: bias.shape, data: bias.data };
  }
  return writeSafetensors(tensors);
}

/** The weight (O, I) and bias (O, or null when absent) of an `nn.Linear` state dict. */
export function importLinear(bytes: Uint8Array, opts: ModuleImportOptions = {}): { weight: Tensor; bias: Tensor | null } {
  const { arena, shapes } = importModule(bytes, opts, "nn.Linear", true);
  return { weight: tensor(view(arena, "weight"), shapes.weight), bias: shapes.bias ? tensor(view(arena, "bias"), shapes.bias) : null };
}

/** `weight` (2-D) and, for a Linear, an optional `bias` (O), loaded and checked. */
function importModule(bytes: Uint8Array, opts: ModuleImportOptions, module: string, hasBias: boolean): { arena: Arena; shapes: Record<string, number[]> } {
  const source = opts.source ?? "safetensors";
  const file = readSafetensors(bytes, source);
  return withSource(source, () => {
    const dict = floatDict(file, opts.prefix ?? "");
    const w = dict.weight;
    if (w === undefined) throw new Error(`no tensor "${opts.prefix ?? ""}weight" (the ${module}'s); the file holds ${listNames(file)}${opts.prefix ? "" : " — pass the prefix of the module's tensors"}`);
    if (w.shape.length !== 2) throw new Error(`the ${module}'s weight has shape ${formatShape(w.shape)}; it must be a matrix`);
    const shapes: Record<string, number[]> = { weight: [...w.shape] };
    if (hasBias && dict.bias !== undefined) shapes.bias = [w.shape[0]];
    checkStateDict(Object.entries(shapes).map(([name, shape]) => ({ name, shape })), dict); // before allocating: a (2^28, 0) weight holds no bytes
    const arena = createArena(opts.dtype ?? defaultDtype(file), Object.entries(shapes).map(([name, shape]) => ({ name, shape })));
    loadStateDict(arena, dict);
    checkFiniteArena(arena);
    return { arena, shapes };
  });
}

// ---------------------------------------------------------------------------------------------
// Shared

/** Every tensor of an arena as a safetensors entry (views, no copies); refuses non-finite values. */
function arenaTensors(arena: Arena, who: string): Record<string, WritableTensor> {
  const out: Record<string, WritableTensor> = {};
  for (const s of arena.specs) {
    const data = view(arena, s.name);
    const bad = data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new Error(`${who}: tensor "${s.name}" holds ${data[bad]} at flat index ${bad}; training diverged — export an earlier checkpoint`);
    out[s.name] = { shape: s.shape, data };
  }
  return out;
}

/** The float tensors of a file under `prefix`, the prefix removed; integer tensors are refused. */
function floatDict(file: Safetensors, prefix = ""): StateDict {
  const out: Record<string, NamedTensor> = Object.create(null);
  for (const name of Object.keys(file.tensors)) {
    if (!name.startsWith(prefix)) continue;
    const t = file.tensors[name];
    if (!(t.data instanceof Float32Array || t.data instanceof Float64Array)) {
      throw new Error(`tensor "${name}" has dtype ${t.dtype}, but weights are floating point (F32, F64, F16 or BF16)`);
    }
    out[name.slice(prefix.length)] = { shape: t.shape, data: t.data };
  }
  return out;
}

/** float64 when every tensor is stored as F64, else float32. */
function defaultDtype(file: Safetensors): DType {
  const ts = Object.values(file.tensors);
  return ts.length > 0 && ts.every((t) => t.dtype === "F64") ? "float64" : "float32";
}

/** After loading: a value finite in the file can overflow float32. */
function checkFiniteArena(arena: Arena): void {
  const bad = arena.data.findIndex((x: number) => !Number.isFinite(x));
  if (bad < 0) return;
  let name = "";
  for (const [n, off] of arena.offsets) if (off <= bad) name = n;
  throw new Error(`tensor "${name}" has a value beyond the float32 range (flat index ${bad - arena.offsets.get(name)!}); import it as float64`);
}

/** unroll's metadata, when the file has the given format: config (parsed, an object) and vocab (JSON text). */
function unrollMetadata(file: Safetensors, format: string): { config: Record<string, unknown> | null; vocab: string | undefined } | null {
  const m = file.metadata;
  if (m.format !== format) return null;
  const v = m.version;
  if (v !== String(INTEROP_VERSION)) {
    if (v !== undefined && /^\d+$/.test(v) && Number(v) > INTEROP_VERSION) throw new Error(`written by a newer unroll (${format} version ${v}; this one reads version ${INTEROP_VERSION}); update unroll`);
    throw new Error(`metadata "version" must be "${INTEROP_VERSION}" for format "${format}", got ${JSON.stringify(v)}`);
  }
  let config: Record<string, unknown> | null = null;
  if (m.config !== undefined) {
    const c = parseJson(m.config, 'metadata "config"');
    if (typeof c !== "object" || c === null || Array.isArray(c)) throw new Error(`metadata "config" must be a JSON object, got ${m.config.slice(0, 60)}`);
    config = c as Record<string, unknown>;
  }
  return { config, vocab: m.vocab };
}

function dropoutOf(cfg: Record<string, unknown>): number {
  const p = cfg.dropout ?? 0;
  if (typeof p !== "number" || !(p >= 0 && p < 1)) throw new Error(`metadata "config" has dropout ${show(p)}; it must be a number in [0, 1)`);
  return p;
}

/** JSON.stringify(v) for a message; a metadata value nested too deep for it (JSON.parse takes any depth) is described instead. */
function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return `a ${Array.isArray(v) ? "list" : typeof v} nested too deep to print`;
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON (${(e as Error).message})`);
  }
}

function listNames(file: Safetensors): string {
  const names = Object.keys(file.tensors);
  if (names.length === 0) return "no tensors";
  return names.slice(0, 8).join(", ") + (names.length > 8 ? `, … (${names.length} tensors)` : "");
}

/** Runs `f`, starting any error's message with `source` (unless it already does). */
function withSource<R>(source: string, f: () => R): R {
  try {
    return f();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg.startsWith(`${source}:`)) throw e;
    throw new Error(`${source}: ${msg}`, { cause: e });
  }
}
