/**
 * The checkpoint file format: a `Checkpoint` to bytes and back, validating everything on the way
 * in. Browser-safe (Uint8Array, DataView, TextEncoder/TextDecoder only); files are a Node edge
 * (`src/node/checkpoint-file.ts`).
 *
 *   offset  size  field
 *   0       8     magic "UNROLLCK"
 *   8       4     format version, u32 little-endian (CHECKPOINT_VERSION)
 *   12      4     header byte length N, u32 little-endian
 *   16      N     header, UTF-8 JSON: { model, dtype, vocab, training,
 *                                       tensors: [{ name, dtype, length, offset }] }
 *   …             zero padding to a multiple of 8: the payload starts at P = align8(16 + N)
 *   P       …     tensor payloads, raw little-endian float32/float64 exactly as stored; a tensor's
 *                 `offset` is in bytes from P, a multiple of 8; zero padding between tensors and
 *                 after the last one up to a multiple of 8
 *   end−4   4     CRC-32 (IEEE, as zlib and PNG) of every byte before it, u32 little-endian
 *
 * The decoder trusts nothing: a wrong magic, a newer version, a truncated or corrupt file, an
 * ill-formed header, tensors out of bounds or overlapping, parameters that do not fit the model
 * or hold non-finite values each give an error naming the source and what to do next.
 */
import { CHECKPOINT_VERSION, type Checkpoint, type TrainingProgress, type TrainingSnapshot } from "./checkpoint.js";
import { languageModelSpecs, type LanguageModelConfig } from "./language-model.js";
import type { CellConfig, Gate, Nonlinearity } from "../cells/cell.js";
import { dtypeOf, sizeOf, type DType, type FloatArray } from "../tensor/dtype.js";
import { checkVocabulary, type Vocabulary } from "../text/vocab.js";
import { decodeUtf8, encodeUtf8 } from "../text/utf8.js";

/** The 8 ASCII bytes every checkpoint file starts with. */
export const CHECKPOINT_MAGIC = "UNROLLCK";
const MAGIC: readonly number[] = Array.from(CHECKPOINT_MAGIC, (ch) => ch.charCodeAt(0));

/** One tensor's entry in the header. */
interface TensorEntry {
  readonly name: string;
  readonly dtype: DType;
  /** Element count. */
  readonly length: number;
  /** Byte offset from the start of the payload; a multiple of 8. */
  readonly offset: number;
}

const PREAMBLE = 16; // magic, version, header length
const TRAILER = 4; // CRC-32

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * The bytes of `ck` in the checkpoint format. Checks first that `ck` would decode: a "params"
 * tensor of the model's size and dtype with finite values, a vocabulary of `vocabSize` tokens,
 * JSON-safe metadata.
 */
export function encodeCheckpoint(ck: Checkpoint): Uint8Array {
  const ctx = encodingCtx;
  if (ck.dtype !== "float32" && ck.dtype !== "float64") throw ctx.fail(`dtype must be "float32" or "float64", got ${show(ck.dtype)}`);
  const model = checkModel(ck.model, ctx);
  const vocab = checkVocabulary(ck.vocab, ctx.source);
  checkVocabSize(model, vocab, ctx);
  const training = ck.training === null ? null : checkTraining(ck.training, ctx);
  const entries: TensorEntry[] = [];
  const arrays: FloatArray[] = [];
  let payload = 0;
  for (const [name, a] of ck.tensors) {
    if (typeof name !== "string" || name.length === 0) throw ctx.fail(`tensor names must be non-empty strings, got ${show(name)}`);
    if (!(a instanceof Float32Array || a instanceof Float64Array)) throw ctx.fail(`tensor "${name}" must be a Float32Array or Float64Array`);
    entries.push({ name, dtype: dtypeOf(a), length: a.length, offset: payload });
    arrays.push(a);
    payload += align8(a.byteLength);
  }
  const params = ck.tensors.get("params");
  if (params === undefined) throw ctx.fail(`no "params" tensor (the model arena's data)`);
  checkParams(model, ck.dtype, dtypeOf(params), params, ctx);

  const header = { model, dtype: ck.dtype, vocab, training, tensors: entries };
  const json = encodeUtf8(JSON.stringify(header, rejectNonFinite));
  if (json.length > 0xffffffff) throw ctx.fail(`the header is too large (${json.length} bytes)`);
  const P = align8(PREAMBLE + json.length);
  const total = P + payload + TRAILER;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  dv.setUint32(8, CHECKPOINT_VERSION, true);
  dv.setUint32(12, json.length, true);
  out.set(json, PREAMBLE);
  for (let i = 0; i < entries.length; i++) writeFloats(out, dv, P + entries[i].offset, arrays[i]);
  dv.setUint32(total - TRAILER, crc32(out.subarray(0, total - TRAILER)), true);
  return out;
}

/** JSON.stringify replacer: NaN and ±Infinity would silently become null, so refuse them. */
function rejectNonFinite(key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new Error(`encodeCheckpoint: metadata field "${key}" is ${value}, which JSON cannot store; use null or a finite number`);
  }
  return value;
}

/** Copies `a` as little-endian bytes into `out` at byte `at`, bit for bit. */
function writeFloats(out: Uint8Array, dv: DataView, at: number, a: FloatArray): void {
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
  } else if (a instanceof Float64Array) {
    for (let i = 0; i < a.length; i++) dv.setFloat64(at + 8 * i, a[i], true);
  } else {
    for (let i = 0; i < a.length; i++) dv.setFloat32(at + 4 * i, a[i], true);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * The checkpoint in `bytes`, validated. `source` names where the bytes came from (a path, a URL)
 * in error messages. Every tensor is a fresh copy, never a view of `bytes`.
 */
export function decodeCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  const ctx = decodingCtx(source);
  const n = bytes.length;
  // Magic: is this our file at all?
  const head = Math.min(n, MAGIC.length);
  for (let i = 0; i < head; i++) {
    if (bytes[i] !== MAGIC[i]) throw new Error(`${source}: not an unroll checkpoint (${sniff(bytes)}); give a checkpoint file written by unroll`);
  }
  if (n < PREAMBLE + TRAILER) {
    throw new Error(n === 0 ? `${source}: not an unroll checkpoint (the file is empty); the write was probably interrupted — use an earlier checkpoint` : truncated(source, n, `a checkpoint needs at least ${PREAMBLE + TRAILER}`));
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version > CHECKPOINT_VERSION) {
    throw new Error(`${source}: written by a newer unroll (checkpoint format version ${version}; this unroll reads versions up to ${CHECKPOINT_VERSION}); upgrade unroll to read it`);
  }
  if (version < 1) throw new Error(`${source}: corrupt: invalid checkpoint format version ${version}; use an earlier checkpoint or a backup`);
  const N = dv.getUint32(12, true);
  const P = align8(PREAMBLE + N);

  // Checksum. On a mismatch, say "truncated" when the header declares more bytes than there are.
  const stored = dv.getUint32(n - TRAILER, true);
  const computed = crc32(bytes.subarray(0, n - TRAILER));
  if (P + TRAILER > n) {
    if (stored === computed) throw ctx.fail(`the header length ${N} runs past the end of the ${n}-byte file`);
    throw new Error(truncated(source, n, `its header length alone needs at least ${P + TRAILER}`));
  }
  if (stored !== computed) {
    const declared = declaredLength(bytes.subarray(PREAMBLE, PREAMBLE + N), P);
    if (declared !== null && declared > n) throw new Error(truncated(source, n, `its header declares ${declared}`));
    throw new Error(
      `${source}: corrupt: checksum mismatch (stored CRC-32 ${hex32(stored)}, computed ${hex32(computed)}); ` +
        "the file was damaged after it was written — use an earlier checkpoint or a backup",
    );
  }

  // Header.
  let doc: unknown;
  try {
    doc = JSON.parse(decodeUtf8(bytes.subarray(PREAMBLE, PREAMBLE + N)));
  } catch (e) {
    throw new Error(`${source}: corrupt: the checkpoint header is not valid UTF-8 JSON (${(e as Error).message}); use an earlier checkpoint`);
  }
  const h = record(doc, "the header", ctx);
  const dtype = h.dtype;
  if (dtype !== "float32" && dtype !== "float64") throw ctx.fail(`dtype must be "float32" or "float64", got ${show(dtype)}`);
  const model = checkModel(h.model, ctx, (n - TRAILER - P) / 4);
  const vocab = checkVocabulary(h.vocab, `${source}: in the checkpoint header`);
  checkVocabSize(model, vocab, ctx);
  if (h.training === undefined) throw ctx.fail("training is missing (null when the checkpoint holds no training state)");
  const training = h.training === null ? null : checkTraining(h.training, ctx);
  const entries = checkEntries(h.tensors, ctx);

  // Layout: every tensor inside the payload, aligned, disjoint; the payload ends where they do.
  const payload = n - TRAILER - P;
  let end = 0;
  const byteLength = (e: TensorEntry) => e.length * bytesPer(e.dtype);
  for (const e of [...entries].sort((a, b) => a.offset - b.offset || byteLength(a) - byteLength(b))) {
    const bytesLen = byteLength(e);
    if (e.offset < end) throw ctx.fail(`tensor "${e.name}" (bytes ${e.offset}…) overlaps the tensor before it (which ends at byte ${end})`);
    if (e.offset + bytesLen > payload) {
      throw ctx.fail(`tensor "${e.name}" (bytes ${e.offset}…${e.offset + bytesLen}) lies outside the payload of ${payload} bytes`);
    }
    end = e.offset + bytesLen;
  }
  if (align8(end) !== payload) throw ctx.fail(`the payload holds ${payload} bytes but its tensors account for ${align8(end)}`);

  if (!entries.some((e) => e.name === "params")) throw ctx.fail(`no "params" tensor (it holds: ${entries.map((e) => e.name).join(", ") || "none"})`);
  const tensors = new Map<string, FloatArray>();
  for (const e of entries) tensors.set(e.name, readFloats(bytes, dv, P + e.offset, e.dtype, e.length));
  const params = tensors.get("params")!;
  checkParams(model, dtype, dtypeOf(params), params, ctx);
  return { model, dtype, vocab, tensors, training };
}

/** A fresh typed array of `length` elements read from `bytes` at byte `at`, bit for bit. */
function readFloats(bytes: Uint8Array, dv: DataView, at: number, dtype: DType, length: number): FloatArray {
  const out = dtype === "float64" ? new Float64Array(length) : new Float32Array(length);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes.subarray(at, at + out.byteLength));
  } else if (out instanceof Float64Array) {
    for (let i = 0; i < length; i++) out[i] = dv.getFloat64(at + 8 * i, true);
  } else {
    for (let i = 0; i < length; i++) out[i] = dv.getFloat32(at + 4 * i, true);
  }
  return out;
}

/** The total file length a (possibly damaged) header declares, or null if it cannot be read. */
function declaredLength(header: Uint8Array, P: number): number | null {
  try {
    const tensors = (JSON.parse(decodeUtf8(header)) as { tensors?: unknown }).tensors;
    if (!Array.isArray(tensors)) return null;
    let end = 0;
    for (const t of tensors as { dtype?: unknown; length?: unknown; offset?: unknown }[]) {
      const size = t?.dtype === "float64" ? 8 : t?.dtype === "float32" ? 4 : NaN;
      const e = (t.offset as number) + (t.length as number) * size;
      if (!Number.isFinite(e)) return null;
      end = Math.max(end, e);
    }
    return P + align8(end) + TRAILER;
  } catch {
    return null;
  }
}

function truncated(source: string, n: number, expected: string): string {
  return `${source}: truncated: the file holds ${n} bytes but ${expected}; the write was probably interrupted — use an earlier checkpoint`;
}

function invalid(source: string, what: string): Error {
  return new Error(`${source}: invalid checkpoint header: ${what}; the file was not written by a compatible unroll, or is damaged`);
}

// ---------------------------------------------------------------------------------------------
// Validation, shared by encoder and decoder

/** How validation reports a problem: the decoder blames the file, the encoder its caller. */
interface Ctx {
  readonly source: string;
  readonly decoding: boolean;
  fail(what: string): Error;
}

function decodingCtx(source: string): Ctx {
  return { source, decoding: true, fail: (what) => invalid(source, what) };
}

const encodingCtx: Ctx = {
  source: "encodeCheckpoint",
  decoding: false,
  fail: (what) => new Error(`encodeCheckpoint: invalid checkpoint: ${what}; fix it before saving`),
};

function record(v: unknown, what: string, ctx: Ctx): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw ctx.fail(`${what} must be an object, got ${show(v)}`);
  return v as Record<string, unknown>;
}

function integer(v: unknown, what: string, ctx: Ctx, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw ctx.fail(`${what} must be an integer ≥ ${min}, got ${show(v)}`);
  return v;
}

function finite(v: unknown, what: string, ctx: Ctx): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw ctx.fail(`${what} must be a finite number, got ${show(v)}`);
  return v;
}

function bool(v: unknown, what: string, ctx: Ctx): boolean {
  if (typeof v !== "boolean") throw ctx.fail(`${what} must be true or false, got ${show(v)}`);
  return v;
}

const NONLINEARITIES: readonly Nonlinearity[] = ["tanh", "sigmoid", "relu"];

const GATES: readonly Gate[] = ["sigmoid", "hard-sigmoid"];

/** An LSTM/GRU cell's `gate`: absent (checkpoints written before it existed) or "sigmoid" → nothing (the default), "hard-sigmoid" kept. */
function gate(v: unknown, ctx: Ctx): { gate?: Gate } {
  if (v === undefined || v === "sigmoid") return {};
  if (!GATES.includes(v as Gate)) throw ctx.fail(`model.cell.gate must be one of ${GATES.join(", ")} (or absent: sigmoid), got ${show(v)}`);
  return { gate: v as Gate };
}

function checkCell(v: unknown, ctx: Ctx): CellConfig {
  const c = record(v, "model.cell", ctx);
  switch (c.kind) {
    case "rnn":
      if (!NONLINEARITIES.includes(c.nonlinearity as Nonlinearity)) {
        throw ctx.fail(`model.cell.nonlinearity must be one of ${NONLINEARITIES.join(", ")}, got ${show(c.nonlinearity)}`);
      }
      return { kind: "rnn", nonlinearity: c.nonlinearity as Nonlinearity };
    case "lstm":
      return { kind: "lstm", peephole: bool(c.peephole, "model.cell.peephole", ctx), coupled: bool(c.coupled, "model.cell.coupled", ctx), ...gate(c.gate, ctx) };
    case "gru":
      return { kind: "gru", resetAfter: bool(c.resetAfter, "model.cell.resetAfter", ctx), ...gate(c.gate, ctx) };
    default:
      throw ctx.fail(`model.cell.kind must be "rnn", "lstm" or "gru", got ${show(c.kind)}`);
  }
}

/**
 * A clean copy of a model config, checked field by field and then by `languageModelSpecs`.
 * `maxParams` (decoding: the most float32 values the payload can hold) refuses a config that
 * cannot fit before `languageModelSpecs` lists its tensors (a header claiming 2^31 layers).
 */
function checkModel(v: unknown, ctx: Ctx, maxParams = Infinity): LanguageModelConfig {
  const m = record(v, "model", ctx);
  const model: LanguageModelConfig = {
    vocabSize: integer(m.vocabSize, "model.vocabSize", ctx, 1),
    embedSize: integer(m.embedSize, "model.embedSize", ctx, 0),
    cell: checkCell(m.cell, ctx),
    hiddenSize: integer(m.hiddenSize, "model.hiddenSize", ctx, 1),
    numLayers: integer(m.numLayers, "model.numLayers", ctx, 1),
    dropout: finite(m.dropout, "model.dropout", ctx),
  };
  // At least H·(H + 2) parameters per layer, and V·(H + 1) in the output layer.
  const least = model.numLayers * model.hiddenSize * (model.hiddenSize + 2) + model.vocabSize * (model.hiddenSize + 1);
  if (least > maxParams) {
    throw ctx.fail(`the model (vocabulary ${model.vocabSize}, hidden ${model.hiddenSize}, ${model.numLayers} layers) has over ${least} parameters, but the payload holds at most ${Math.floor(maxParams)} values`);
  }
  try {
    languageModelSpecs(model);
  } catch (e) {
    throw ctx.fail(`bad model configuration: ${(e as Error).message}`);
  }
  return model;
}

function checkVocabSize(model: LanguageModelConfig, vocab: Vocabulary, ctx: Ctx): void {
  if (vocab.tokens.length !== model.vocabSize) {
    throw ctx.fail(`the vocabulary has ${vocab.tokens.length} tokens but model.vocabSize is ${model.vocabSize}`);
  }
}

/** "params": the model arena, in the checkpoint's dtype, of the model's size, all finite. */
function checkParams(model: LanguageModelConfig, dtype: DType, paramsDtype: DType, params: FloatArray, ctx: Ctx): void {
  if (paramsDtype !== dtype) throw ctx.fail(`"params" is ${paramsDtype} but the checkpoint's dtype is ${dtype}`);
  const expected = languageModelSpecs(model).reduce((n, s) => n + sizeOf(s.shape), 0);
  if (params.length !== expected) {
    throw ctx.fail(`"params" holds ${params.length} values but this model (hidden ${model.hiddenSize}, ${model.numLayers} layers, ${model.cell.kind}) has ${expected} parameters`);
  }
  for (let i = 0; i < params.length; i++) {
    if (!Number.isFinite(params[i])) {
      const what = `the parameters hold a non-finite value (${params[i]}) at flat index ${i}`;
      throw new Error(
        ctx.decoding
          ? `${ctx.source}: ${what}; training diverged before this checkpoint — use an earlier one`
          : `${ctx.source}: ${what}; training diverged — lower the learning rate or clip gradients, and resume from an earlier checkpoint`,
      );
    }
  }
}

function checkTraining(v: unknown, ctx: Ctx): TrainingSnapshot {
  const t = record(v, "training", ctx);
  const p = record(t.progress, "training.progress", ctx);
  const progress: TrainingProgress = {
    step: integer(p.step, "training.progress.step", ctx, 0),
    epoch: integer(p.epoch, "training.progress.epoch", ctx, 0),
    position: integer(p.position, "training.progress.position", ctx, 0),
    bestValLoss: p.bestValLoss === null ? null : finite(p.bestValLoss, "training.progress.bestValLoss", ctx),
    elapsedMs: finite(p.elapsedMs, "training.progress.elapsedMs", ctx),
  };
  if (!Array.isArray(t.rng) || !t.rng.every((x) => Number.isSafeInteger(x))) throw ctx.fail(`training.rng must be an array of integers, got ${show(t.rng)}`);
  const o = record(t.optimizer, "training.optimizer", ctx);
  if (typeof o.kind !== "string") throw ctx.fail(`training.optimizer.kind must be a string, got ${show(o.kind)}`);
  const schedule = t.schedule === null ? null : record(t.schedule, "training.schedule", ctx);
  return {
    options: record(t.options, "training.options", ctx),
    progress,
    rng: [...(t.rng as number[])],
    optimizer: { kind: o.kind, t: integer(o.t, "training.optimizer.t", ctx, 0) },
    schedule,
    carry: bool(t.carry, "training.carry", ctx),
  };
}

function checkEntries(v: unknown, ctx: Ctx): TensorEntry[] {
  if (!Array.isArray(v)) throw ctx.fail(`tensors must be an array, got ${show(v)}`);
  const seen = new Set<string>();
  return v.map((x, i) => {
    const e = record(x, `tensors[${i}]`, ctx);
    if (typeof e.name !== "string" || e.name.length === 0) throw ctx.fail(`tensors[${i}].name must be a non-empty string, got ${show(e.name)}`);
    if (seen.has(e.name)) throw ctx.fail(`tensor "${e.name}" appears twice`);
    seen.add(e.name);
    if (e.dtype !== "float32" && e.dtype !== "float64") throw ctx.fail(`tensor "${e.name}" has unknown dtype ${show(e.dtype)} (expected "float32" or "float64")`);
    const offset = integer(e.offset, `tensors[${i}].offset`, ctx, 0);
    if (offset % 8 !== 0) throw ctx.fail(`tensor "${e.name}" starts at byte ${offset}, not a multiple of 8`);
    return { name: e.name, dtype: e.dtype, length: integer(e.length, `tensors[${i}].length`, ctx, 0), offset };
  });
}

// ---------------------------------------------------------------------------------------------
// Bytes

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function bytesPer(dtype: DType): number {
  return dtype === "float64" ? 8 : 4;
}

function hex32(x: number): string {
  return x.toString(16).padStart(8, "0");
}

function show(v: unknown): string {
  if (v === undefined) return "nothing (missing)";
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = `a ${Array.isArray(v) ? "list" : typeof v} nested too deep to print`; // JSON.parse takes nesting JSON.stringify overflows the stack on
  }
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}


/** What a file that is not a checkpoint seems to be, from its first bytes. */
function sniff(b: Uint8Array): string {
  const starts = (...xs: number[]) => xs.every((x, i) => b[i] === x);
  const first = [...b.subarray(0, 8)].map((x) => x.toString(16).padStart(2, "0")).join(" ");
  let i = starts(0xef, 0xbb, 0xbf) ? 3 : 0; // UTF-8 byte order mark
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  if (b[i] === 0x7b || b[i] === 0x5b) return "it looks like a JSON file; unroll checkpoints are binary — for PyTorch-named weights use loadStateDict";
  if (b.length >= 9 && b[8] === 0x7b && b[5] === 0 && b[6] === 0 && b[7] === 0) {
    return "it looks like a safetensors file; `unroll import FILE --out CKPT` turns a PyTorch state dict into a checkpoint";
  }
  if (starts(0x50, 0x4b, 0x03, 0x04) || starts(0x50, 0x4b, 0x05, 0x06)) {
    return "it looks like a zip archive, such as a PyTorch .pt/.pth file; save its state_dict with safetensors (safetensors.torch.save_file) and run `unroll import`";
  }
  if (b[0] === 0x80 && b[1] >= 2 && b[1] <= 5) return "it looks like a Python pickle, such as an old PyTorch file; save its state_dict with safetensors (safetensors.torch.save_file) and run `unroll import`";
  if (b[0] === 0x08 && b[1] < 0x80 && [0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42].includes(b[2])) {
    return "it looks like an ONNX model (protobuf); unroll writes ONNX but does not read it (`unroll inspect` describes it)";
  }
  if (starts(0x89, 0x48, 0x44, 0x46)) return "it looks like an HDF5 file, such as a Keras .h5 model";
  if (starts(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)) return "it looks like a NumPy .npy array";
  if (starts(0x1f, 0x8b)) return "it looks like a gzip file; decompress it first";
  if (b.length > 0 && [...b.subarray(0, 64)].every((x) => x === 0x09 || x === 0x0a || x === 0x0d || (x >= 0x20 && x < 0x7f))) {
    return "it looks like a text file";
  }
  return `it starts with bytes ${first}, not "UNROLLCK"`;
}

// ---------------------------------------------------------------------------------------------
// CRC-32

/** Table of the reflected CRC-32 (IEEE 802.3, as zlib, PNG, gzip): polynomial 0xEDB88320. */
const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE) of `bytes`, as an unsigned 32-bit integer; crc32("123456789") = 0xcbf43926. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
