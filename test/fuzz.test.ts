// Property-based fuzzing (fast-check, fixed seeds) of every reader of outside data: checkpoints,
// task checkpoints, safetensors and the PyTorch import on top of it, ONNX inspection, TF.js
// model.json + shards, and the text / CSV / JSONL / CoNLL / CMUdict corpora. Each property starts
// from valid files written by unroll's own writers (or committed fixtures), mutates them —
// truncation, bit flips, 4/8-byte windows overwritten with huge values, inserted and deleted
// bytes, huge varints, header JSON values replaced with huge / negative / wrongly typed ones,
// fully random bytes — and requires of every call:
//
//   - it returns, or throws an Error whose constructor is exactly Error (the library's own
//     message: not a RangeError / TypeError / SyntaxError leaking out, nor one wrapped as a
//     cause), with a non-empty message that names the source where the API takes one;
//   - it takes at most 2 s (no hang);
//   - it allocates no more than 64 MB of array buffers (a header that claims a huge tensor is
//     refused before anything is allocated), and the whole property run leaves neither
//     arrayBuffers nor (for inputs of kilobytes) rss more than 64 MB above where it started.
//
// Besides the random properties: headers claiming 2^31…2^53 elements, every header field replaced
// by each of a list of hostile values, values nested 12,000+ levels deep, and one regression case
// per crash found. A summary line per reader is printed after the last test ("safetensors: 1000
// mutated files, … 0 crashes, 0 hangs, max 0.2 ms, …").
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { recurrentLayer } from "../src/api/recurrent-layer.js";
import { parseCell } from "../src/cells/cell.js";
import { parseTfjsModel, readTfjsManifest } from "../src/io/keras.js";
import { describeOnnx, exportOnnx, exportRecurrentOnnx } from "../src/io/onnx.js";
import { importLanguageModel, importLinear, importRecurrentLayer, type PyTorchCellName } from "../src/io/pytorch.js";
import { readSafetensors, writeSafetensors } from "../src/io/safetensors.js";
import { crc32, decodeCheckpoint, encodeCheckpoint } from "../src/model/checkpoint-codec.js";
import type { Checkpoint } from "../src/model/checkpoint.js";
import { createLanguageModel, type LanguageModelConfig } from "../src/model/language-model.js";
import type { TrainedModel } from "../src/model/trained.js";
import { decodeUtf8, readData } from "../src/node/corpus.js";
import { parseRecords, parseTagged, type RecordFormat, type TaggedFormat } from "../src/node/records.js";
import { loadTfjsModel } from "../src/node/tfjs-files.js";
import { parseCmudict } from "../src/tasks/cmudict.js";
import { decodeTaskCheckpoint, encodeTaskCheckpoint } from "../src/tasks/task-checkpoint.js";
import type { DType, FloatArray } from "../src/tensor/dtype.js";
import { Rng } from "../src/tensor/random.js";
import { buildCharVocabulary, buildVocabulary, encodeText, type Vocabulary } from "../src/text/vocab.js";
import { initLanguageModel } from "../src/train/init-model.js";

// Fixed, so that CI is deterministic; FUZZ_SEED and FUZZ_SCALE (a multiplier of every numRuns) explore further.
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_607);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const MAX_MS = 2000;
const MB = 1024 * 1024;
const MEMORY_LIMIT = 64 * MB;
const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

// ---------------------------------------------------------------------------------------------
// The harness: one call of a reader, timed and measured, its error judged

/** Messages of JavaScript's own failures, which a library error must not merely pass on. */
const LEAKED = /Cannot read properties|Cannot convert|is not a function|is not iterable|is not defined|Invalid typed array length|Invalid array length|Array buffer allocation failed|Maximum call stack|out of memory|Offset is outside the bounds|Start offset|Invalid DataView/;

/** Why `e` is not one of the library's own clear errors, or null when it is. */
function notLibraryError(e: unknown, source: string | undefined): string | null {
  if (!(e instanceof Error)) return `threw a non-Error ${typeof e}: ${String(e)}`;
  if (e.constructor !== Error) return `threw a ${e.constructor.name}: ${e.message}\n${e.stack ?? ""}`;
  if (e.message.trim() === "") return `threw an Error with an empty message\n${e.stack ?? ""}`;
  if (source !== undefined && !e.message.includes(source)) return `the message does not name the source "${source}": ${e.message}`;
  for (let c: unknown = e.cause; c instanceof Error; c = c.cause) {
    if (c.constructor !== Error) return `wraps a ${c.constructor.name} (${c.message}) as its cause: ${e.message}\n${c.stack ?? ""}`;
  }
  if (LEAKED.test(e.message)) return `passes on a JavaScript failure: ${e.message}\n${e.stack ?? ""}`;
  return null;
}

/** What one reader's property saw, for its summary line. */
class Tally {
  calls = 0;
  threw = 0;
  maxMs = 0;
  maxGrowth = 0;
  private readonly ab0 = process.memoryUsage().arrayBuffers;
  private readonly rss0 = process.memoryUsage().rss;

  constructor(
    readonly name: string,
    readonly what: string,
  ) {}

  private measure(ms: number, growth: number, threw: boolean, error: unknown, source: string | undefined): void {
    this.calls++;
    if (threw) this.threw++;
    this.maxMs = Math.max(this.maxMs, ms);
    this.maxGrowth = Math.max(this.maxGrowth, growth);
    if (ms > MAX_MS) throw new Error(`${this.name}: one call took ${ms.toFixed(0)} ms (limit ${MAX_MS} ms)`);
    if (growth > MEMORY_LIMIT) throw new Error(`${this.name}: one call grew arrayBuffers by ${(growth / MB).toFixed(1)} MB (limit ${MEMORY_LIMIT / MB} MB)`);
    if (threw) {
      const why = notLibraryError(error, source);
      if (why !== null) throw new Error(`${this.name}: ${why}`);
    }
  }

  /** Calls `f`; throws (failing the property) on a crash, a hang or an allocation beyond the limit. */
  call(f: () => unknown, source?: string): void {
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    let threw = false;
    let error: unknown;
    try {
      f();
    } catch (e) {
      threw = true;
      error = e;
    }
    this.measure(performance.now() - t0, process.memoryUsage().arrayBuffers - before, threw, error, source);
  }

  async callAsync(f: () => Promise<unknown>, source?: string): Promise<void> {
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    let threw = false;
    let error: unknown;
    try {
      await f();
    } catch (e) {
      threw = true;
      error = e;
    }
    this.measure(performance.now() - t0, process.memoryUsage().arrayBuffers - before, threw, error, source);
  }

  /** Checks the growth over the whole run and prints the summary line; `rss` false for inputs of megabytes, whose own strings grow the heap. */
  done(inputs: number, rss = true): void {
    const m = process.memoryUsage();
    const ab = (m.arrayBuffers - this.ab0) / MB;
    const rssGrowth = (m.rss - this.rss0) / MB;
    const line =
      `${this.name}: ${inputs} ${this.what}, ${this.calls} calls (${this.threw} clear errors), 0 crashes, 0 hangs, ` +
      `max ${this.maxMs.toFixed(1)} ms, max +${(this.maxGrowth / MB).toFixed(2)} MB per call, ${signed(ab)} MB arrayBuffers, ${signed(rssGrowth)} MB rss over the run`;
    summaries.push(line); // printed together, after the last test
    expect(ab, "arrayBuffers growth over the run (MB)").toBeLessThan(MEMORY_LIMIT / MB);
    if (rss) expect(rssGrowth, "rss growth over the run (MB)").toBeLessThan(MEMORY_LIMIT / MB);
  }
}

const signed = (x: number) => `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(1)}`;
const summaries: string[] = [];
afterAll(() => {
  if (summaries.length > 0) console.log(`fuzz summary:\n  ${summaries.join("\n  ")}`);
});

// ---------------------------------------------------------------------------------------------
// Mutations of bytes

type ByteOp =
  | { readonly op: "truncate"; readonly at: number }
  | { readonly op: "flip"; readonly bits: readonly { readonly pos: number; readonly bit: number }[] }
  | { readonly op: "overwrite"; readonly pos: number; readonly head: boolean; readonly width: 4 | 8; readonly value: bigint }
  | { readonly op: "varint"; readonly pos: number; readonly value: bigint; readonly insert: boolean }
  | { readonly op: "insert"; readonly pos: number; readonly bytes: Uint8Array }
  | { readonly op: "delete"; readonly pos: number; readonly len: number }
  | { readonly op: "random"; readonly bytes: Uint8Array };

/** Values a length or offset field must survive: around 2^31, 2^32, 2^53, 2^64, and negative. */
const HUGE: readonly bigint[] = [
  0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 32n, (1n << 32n) + 8n, 1n << 40n, 1n << 53n, (1n << 53n) + 1n, 1n << 62n, 1n << 63n, (1n << 64n) - 1n, -1n, -8n, -(1n << 31n), -(1n << 53n),
];

const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("flip" as const), bits: fc.array(fc.record({ pos: fc.nat(), bit: fc.nat(7) }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant("overwrite" as const), pos: fc.nat(), head: fc.boolean(), width: fc.constantFrom(4 as const, 8 as const), value: fc.constantFrom(...HUGE) }),
  fc.record({ op: fc.constant("varint" as const), pos: fc.nat(), value: fc.constantFrom(...HUGE), insert: fc.boolean() }),
  fc.record({ op: fc.constant("insert" as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ op: fc.constant("delete" as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant("random" as const), bytes: fc.uint8Array({ maxLength: 2048 }) }),
);

function varint(v: bigint): number[] {
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    const b = Number(u & 0x7fn);
    u >>= 7n;
    out.push(u > 0n ? b | 0x80 : b);
  } while (u > 0n);
  return out;
}

function splice(b: Uint8Array, pos: number, del: number, ins: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(b.length - del + ins.length);
  out.set(b.subarray(0, pos), 0);
  out.set(ins, pos);
  out.set(b.subarray(pos + del), pos + ins.length);
  return out;
}

function applyByteOp(b: Uint8Array, o: ByteOp): Uint8Array {
  const n = b.length;
  switch (o.op) {
    case "truncate":
      return b.slice(0, o.at % (n + 1));
    case "flip": {
      const out = b.slice();
      if (n > 0) for (const { pos, bit } of o.bits) out[pos % n] ^= 1 << bit;
      return out;
    }
    case "overwrite": {
      const out = b.slice();
      if (n < o.width) return out;
      const room = n - o.width + 1;
      const pos = (o.head ? o.pos % Math.min(room, 32) : o.pos % room) & (o.head ? ~3 : ~0);
      const dv = new DataView(out.buffer);
      if (o.width === 8) dv.setBigUint64(pos, BigInt.asUintN(64, o.value), true);
      else dv.setUint32(pos, Number(BigInt.asUintN(32, o.value)), true);
      return out;
    }
    case "varint": {
      const v = varint(o.value);
      const pos = o.pos % (n + 1);
      return splice(b, pos, o.insert ? 0 : Math.min(v.length, n - pos), v);
    }
    case "insert":
      return splice(b, o.pos % (n + 1), 0, o.bytes);
    case "delete": {
      const pos = o.pos % (n + 1);
      return splice(b, pos, Math.min(o.len, n - pos), []);
    }
    case "random":
      return o.bytes.slice();
  }
}

const applyByteOps = (b: Uint8Array, ops: readonly ByteOp[]) => ops.reduce(applyByteOp, b);

/** A file's last 4 bytes set to the CRC-32 of the rest, so that mutations reach past the checksum. */
function fixCrc(b: Uint8Array): Uint8Array {
  if (b.length < 4) return b;
  const out = b.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mutations of JSON headers

/** Values a header field must survive: huge, negative, fractional, wrongly typed, hostile to String(). */
const NASTY: readonly unknown[] = [
  2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e308, -1, -(2 ** 31), -(2 ** 53), 0, 0.5, 1, 3, 1e6, 1e9,
  "", "F32", "F16", "BF16", "I64", "BOOL", "U32", "float32", "float64", "int32", "bool", "uint8", "complex64", "string",
  "lstm", "gru", "rnn", "rnn-relu", "char", "word", "Sequential", "Model", "LSTM", "Dense", "Embedding", "Bidirectional",
  "x".repeat(300), "\ud800", "<unk>", null, true, false, [], {}, [0], [-1], [1.5], ["1"], [2 ** 31], [2 ** 53], [2 ** 31, 2 ** 31], [0, 2 ** 53],
  [2 ** 53, 2 ** 53], [0, 2 ** 32], [-8, 8], [2 ** 16, 2 ** 16, 2 ** 16], [1e308, 1e308, 0], [0, 1e308, 1e308], [null, 2 ** 31], [null, 0], [null, 6, 2 ** 31],
  { toString: 1 }, { valueOf: 1, toString: 1 }, { class_name: { toString: 1 } }, { class_name: "LSTM", config: {} }, { name: "x", shape: [2 ** 31], dtype: "float32" },
  { dtype: "F32", shape: [2 ** 31], data_offsets: [0, 2 ** 33] }, { kind: "char", tokens: ["a"] },
];

/** Keys to rename a field to: prototype names, reserved names, names the readers look for. */
const KEYS: readonly string[] = [
  "__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "", "__metadata__", "weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "lstm.weight_ih_l0",
  "embedding.weight", "linear.weight", "params", "units", "shape", "dtype", "data_offsets", "tensors", "length", "offset", "config", "layers", "class_name",
  "weightsManifest", "paths", "weights", "name", "activation", "recurrent_activation", "layer", "merge_mode", "inbound_nodes", "input_layers", "output_layers",
  "batch_input_shape", "input_dim", "output_dim", "use_bias", "reset_after", "return_sequences", "go_backwards", "quantization", "modelTopology", "format",
  "model", "cell", "kind", "vocab", "tokens", "numLayers", "hiddenSize", "vocabSize", "embedSize", "training", "task", "version", "vocab_size", "hidden_size",
  "num_layers", "embedding_dim", "dropout", "nonlinearity",
];

/** Values no field can hold and that String() throws on, or that are of every wrong type: for the sweep of every field. */
const HOSTILE: readonly unknown[] = [{ toString: 1 }, { valueOf: 1, toString: 1 }, { class_name: { toString: 1 } }, [{ toString: 1 }], null, [], {}, -1, 2 ** 31, 2 ** 53, 1e308, 0.5, "", "x", true];

const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(0, 1, 3, 2 ** 31, 2 ** 32, 2 ** 53, -1, 1e308), { maxLength: 4 }) },
);

interface JsonOp {
  readonly path: number;
  /** replace / delete / rename / duplicate the node at `path`; replaceKey: the value of every field named `key` */
  readonly action: "replace" | "replaceKey" | "delete" | "rename" | "duplicate";
  readonly value: unknown;
  readonly key: string;
}

const jsonOp: fc.Arbitrary<JsonOp> = fc.record({
  path: fc.nat(),
  action: fc.constantFrom("replace" as const, "replace" as const, "replaceKey" as const, "replaceKey" as const, "delete" as const, "rename" as const, "duplicate" as const),
  value: nastyValue,
  key: fc.constantFrom(...KEYS),
});

type Path = readonly (string | number)[];

/** Paths of the nodes of `doc`, depth first (at most `max`); [] is the root. */
function pathsOf(doc: unknown, max = 5000): Path[] {
  const out: Path[] = [];
  const visit = (v: unknown, p: Path) => {
    if (out.length >= max) return;
    out.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => visit(x, [...p, i]));
    else if (typeof v === "object" && v !== null) for (const k of Object.keys(v)) visit((v as Record<string, unknown>)[k], [...p, k]);
  };
  visit(doc, []);
  return out;
}

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** `doc` (unchanged) with one node replaced, deleted, renamed or duplicated. */
function applyJsonOp(doc: unknown, op: JsonOp): unknown {
  const root: unknown = structuredClone(doc);
  const paths = pathsOf(root);
  if (op.action === "replaceKey") {
    for (const q of paths.reverse()) {
      // Deepest first, so that replacing a node never strands the paths below it.
      if (q[q.length - 1] !== op.key) continue;
      let o = root as Record<string | number, unknown>;
      for (const k of q.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
      if (Array.isArray(o)) o[q[q.length - 1] as number] = op.value;
      else setOwn(o, op.key, op.value);
    }
    return root;
  }
  const p = paths[op.path % paths.length];
  if (p.length === 0) return op.action === "replace" ? op.value : root;
  let parent = root as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const key = p[p.length - 1];
  if (Array.isArray(parent)) {
    const i = key as number;
    if (op.action === "replace") parent[i] = op.value;
    else if (op.action === "delete") parent.splice(i, 1);
    else if (op.action === "duplicate") parent.splice(i, 0, structuredClone(parent[i]));
    else parent[i] = [parent[i]];
    return root;
  }
  const k = key as string;
  if (op.action === "replace") setOwn(parent, k, op.value);
  else if (op.action === "delete") delete parent[k];
  else {
    const v = parent[k];
    if (op.action === "rename") delete parent[k];
    setOwn(parent, op.key, op.action === "duplicate" ? structuredClone(v) : v);
  }
  return root;
}

const applyJsonOps = (doc: unknown, ops: readonly JsonOp[]) => ops.reduce(applyJsonOp, doc);

/** A file with a JSON header: taken apart into the header's value and the rest, and put back together. */
interface Container {
  split(bytes: Uint8Array): { doc: unknown; rest: Uint8Array };
  /** With `deep`, every DEEP string in `doc` is written as that JSON text instead (a value nested too deep for JSON.stringify). */
  join(doc: unknown, rest: Uint8Array, deep?: string): Uint8Array;
}

/** Placeholder of a deeply nested value, which the test itself cannot clone or stringify. */
const DEEP = "\u0000deep\u0000";

/** JSON text of `doc`, DEEP strings written as `deep`. */
function stringify(doc: unknown, deep?: string): string {
  const text = JSON.stringify(doc) ?? "";
  return deep === undefined ? text : text.split(JSON.stringify(DEEP)).join(deep);
}

/** JSON text nested `depth` levels deep: arrays, objects, or Keras-like {class_name} objects in arrays. */
function deepJson(kind: "array" | "object" | "keras", depth: number): string {
  if (kind === "array") return "[".repeat(depth) + "]".repeat(depth);
  if (kind === "object") return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  return '[{"class_name":"x","config":'.repeat(depth) + "{}" + "}]".repeat(depth);
}

/** Which deep value (built in the property, so that a counterexample prints short). */
const deepValue = fc.record({ kind: fc.constantFrom("array" as const, "object" as const, "keras" as const), depth: fc.constantFrom(12_000, 30_000) });

/** `doc` with the node at `path` (or every field named `key`) replaced by DEEP. */
const withDeep = (doc: unknown, path: number, key: string | null) => applyJsonOp(doc, { path, action: key === null ? "replace" : "replaceKey", value: DEEP, key: key ?? "" });

const utf8 = new TextEncoder();

/** UNROLLCK / UNROLLTK: magic, version, header length, header, padding, payload, CRC-32. */
function unrollContainer(magic: string): Container {
  return {
    split(b) {
      const N = new DataView(b.buffer, b.byteOffset).getUint32(12, true);
      const P = Math.ceil((16 + N) / 8) * 8;
      return { doc: JSON.parse(new TextDecoder().decode(b.subarray(16, 16 + N))), rest: b.slice(P, b.length - 4) };
    },
    join(doc, rest, deep) {
      const h = utf8.encode(stringify(doc, deep));
      const P = Math.ceil((16 + h.length) / 8) * 8;
      const out = new Uint8Array(P + rest.length + 4);
      out.set(utf8.encode(magic), 0);
      const dv = new DataView(out.buffer);
      dv.setUint32(8, 1, true);
      dv.setUint32(12, h.length, true);
      out.set(h, 16);
      out.set(rest, P);
      return fixCrc(out);
    },
  };
}

const safetensorsContainer: Container = {
  split(b) {
    const N = new DataView(b.buffer, b.byteOffset).getUint32(0, true);
    return { doc: JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + N))), rest: b.slice(8 + N) };
  },
  join(doc, rest, deep) {
    const h = utf8.encode(stringify(doc, deep));
    const out = new Uint8Array(8 + h.length + rest.length);
    new DataView(out.buffer).setUint32(0, h.length, true);
    out.set(h, 8);
    out.set(rest, 8 + h.length);
    return out;
  },
};

/**
 * A PyTorch file of unroll's: safetensors whose `__metadata__` "config" and "vocab" are JSON text,
 * taken apart too (as {JSON_TEXT: value}), so that mutations reach inside them.
 */
const JSON_TEXT = "\u0000json";
const interopContainer: Container = {
  split(b) {
    const { doc, rest } = safetensorsContainer.split(b);
    const m = (doc as Record<string, unknown>).__metadata__ as Record<string, unknown> | undefined;
    for (const k of ["config", "vocab"]) if (m && typeof m[k] === "string") m[k] = { [JSON_TEXT]: JSON.parse(m[k] as string) };
    return { doc, rest };
  },
  join(doc, rest, deep) {
    const d = structuredClone(doc);
    const m = typeof d === "object" && d !== null ? (d as Record<string, unknown>).__metadata__ : undefined;
    if (typeof m === "object" && m !== null) {
      for (const [k, v] of Object.entries(m)) {
        if (typeof v === "object" && v !== null && JSON_TEXT in v) (m as Record<string, unknown>)[k] = stringify((v as Record<string, unknown>)[JSON_TEXT], deep);
      }
    }
    return safetensorsContainer.join(d, rest, deep);
  },
};

interface FileMutation {
  readonly base: number;
  readonly json: readonly JsonOp[];
  readonly bytes: readonly ByteOp[];
  readonly crc: boolean;
}

/** A mutation of one of `count` base files: header JSON ops, then byte ops (either may be empty). */
function fileMutation(count: number): fc.Arbitrary<FileMutation> {
  return fc.record({
    base: fc.nat(count - 1),
    json: fc.oneof(fc.constant([]), fc.array(jsonOp, { minLength: 1, maxLength: 3 })),
    bytes: fc.oneof(fc.constant([]), fc.array(byteOp, { minLength: 1, maxLength: 3 })),
    crc: fc.boolean(),
  });
}

function mutateFile(bases: readonly Uint8Array[], c: Container | null, m: FileMutation, withCrc: boolean): Uint8Array {
  let b = bases[m.base];
  if (c !== null && m.json.length > 0) {
    const { doc, rest } = c.split(b);
    b = c.join(applyJsonOps(doc, m.json), rest);
  }
  b = applyByteOps(b, m.bytes);
  return withCrc && m.crc && m.bytes.length > 0 ? fixCrc(b) : b;
}

// ---------------------------------------------------------------------------------------------
// Valid files to start from

function trainedModel(cell: string, vocab: Vocabulary, embedSize: number, hiddenSize: number, numLayers: number, dtype: DType, seed: number): TrainedModel {
  const config: LanguageModelConfig = { vocabSize: vocab.tokens.length, embedSize, cell: parseCell(cell), hiddenSize, numLayers, dropout: 0.1 };
  const model = createLanguageModel(config, dtype);
  initLanguageModel(model, Rng.seeded(seed));
  return { model, vocab };
}

const charVocab = buildCharVocabulary("hello, wörld 🙂\n");
const wordVocab = buildVocabulary("the cat sat .\nthe dog ran !\n", { level: "word" });
const lms = [trainedModel("lstm", charVocab, 3, 4, 2, "float32", 1), trainedModel("gru", wordVocab, 0, 3, 1, "float64", 2), trainedModel("rnn-relu", charVocab, 2, 3, 1, "float32", 3)];

function checkpointOf(lm: TrainedModel, withTraining: boolean): Checkpoint {
  const P = lm.model.params.data.length;
  const dtype = lm.model.params.data instanceof Float64Array ? "float64" : "float32";
  const m = lm.model.params.data.map((x) => x / 2);
  return {
    model: lm.model.config,
    dtype,
    vocab: lm.vocab,
    tensors: new Map<string, FloatArray>(withTraining ? [["params", lm.model.params.data], ["optimizer.m", m], ["carry.h", lm.model.params.data.slice(0, Math.min(P, 12))]] : [["params", lm.model.params.data]]),
    training: withTraining
      ? {
          options: { lr: 0.002, batch: 3, seqLen: 16, optimizer: "adam", data: "corpus.txt" },
          progress: { step: 12, epoch: 1, position: 7, bestValLoss: 1.25, elapsedMs: 987.5 },
          rng: [1, 2, 3, 4],
          optimizer: { kind: "adam", t: 12 },
          schedule: { kind: "plateau", best: 1.5, bad: 2 },
          carry: true,
        }
      : null,
  };
}

const checkpoints = [encodeCheckpoint(checkpointOf(lms[0], true)), encodeCheckpoint(checkpointOf(lms[1], false)), encodeCheckpoint(checkpointOf(lms[2], true))];

const taskCheckpoints = [
  encodeTaskCheckpoint({
    task: "classify",
    dtype: "float32",
    config: { cell: "lstm", hiddenSize: 4, numLayers: 1, bidirectional: true, pooling: "last", classes: 2 },
    meta: { vocab: charVocab, labels: ["ham", "spam"] },
    tensors: new Map<string, FloatArray>([["params", Float32Array.from({ length: 40 }, (_, i) => Math.sin(i))], ["optimizer.m", new Float32Array(40)]]),
    training: { step: 3, epoch: 0 },
  }),
  encodeTaskCheckpoint({
    task: "seq2seq",
    dtype: "float64",
    config: { cell: "gru", hiddenSize: 3, attention: "dot" },
    meta: { source: charVocab, target: wordVocab },
    tensors: new Map<string, FloatArray>([["params", Float64Array.from({ length: 24 }, (_, i) => i / 7)]]),
    training: null,
  }),
];

const readFixture = (...p: string[]) => new Uint8Array(readFileSync(join(fixtures, ...p)));

/** Every committed safetensors fixture (PyTorch's and unroll's), and one of every dtype written here. */
const safetensorsFiles = [
  ...["torch", "unroll"].flatMap((d) =>
    readdirSync(join(fixtures, "pytorch", d))
      .filter((f) => f.endsWith(".safetensors"))
      .sort()
      .map((f) => readFixture("pytorch", d, f)),
  ),
  writeSafetensors(
    {
      f64: { shape: [2, 2], data: Float64Array.of(1, 2, 3, 4) },
      i64: { shape: [3], data: BigInt64Array.of(1n, -2n, 3n) },
      u8: { shape: [2, 1, 2], data: Uint8Array.of(0, 1, 2, 255) },
      empty: { shape: [0, 5], data: new Float32Array(0) },
      scalar: { shape: [], data: Float32Array.of(7) },
    },
    { note: "fuzz" },
  ),
];

/** Language-model files for importLanguageModel; layer files with their cell for importRecurrentLayer. */
const lmFiles = ["lm_lstm", "lm_gru_onehot", "lm_rnn_relu_word"].map((f) => readFixture("pytorch", "unroll", `${f}.safetensors`)).concat([readFixture("pytorch", "torch", "char_lm.safetensors")]);
const layerFiles: readonly [Uint8Array, PyTorchCellName][] = [
  [readFixture("pytorch", "unroll", "layer_lstm_bidir2.safetensors"), "lstm"],
  [readFixture("pytorch", "unroll", "layer_gru_bidir_f64.safetensors"), "gru"],
  [readFixture("pytorch", "unroll", "layer_rnn2.safetensors"), "rnn"],
  [readFixture("pytorch", "torch", "gru2.safetensors"), "gru"],
  [readFixture("pytorch", "torch", "lstm_bidir2.safetensors"), "lstm"],
  [readFixture("pytorch", "torch", "rnn_relu_bidir.safetensors"), "rnn-relu"],
];

const onnxFiles = [
  exportOnnx(lms[0], { probs: true }),
  exportOnnx(lms[1], { opset: 13 }),
  exportRecurrentOnnx(recurrentLayer({ cell: "gru", inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, backend: "js" })),
];

/** The TF.js fixtures (written by TF.js 4.22): model.json parsed, and the shards concatenated. */
const tfjsModels = readdirSync(join(fixtures, "tfjs"), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()
  .map((name) => {
    const json = JSON.parse(readFileSync(join(fixtures, "tfjs", name, "model.json"), "utf8")) as { weightsManifest: { paths: string[] }[] };
    const parts = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFixture("tfjs", name, p)));
    const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
    return { name, json, data };
  });

// ---------------------------------------------------------------------------------------------
// Binary readers

describe("fuzz: binary readers", () => {
  it("the base files are valid", () => {
    for (const b of checkpoints) decodeCheckpoint(b, "base");
    for (const b of taskCheckpoints) decodeTaskCheckpoint(b, "base");
    for (const b of safetensorsFiles) readSafetensors(b, "base");
    for (const b of lmFiles) importLanguageModel(b, "base");
    for (const [b, cell] of layerFiles) importRecurrentLayer(b, cell, { source: "base", backend: "js" });
    for (const b of onnxFiles) describeOnnx(b);
    for (const m of tfjsModels) parseTfjsModel(m.json, m.data, m.name);
  });

  it("checkpoint: decodeCheckpoint", () => {
    const source = "fuzz/run.ck";
    const t = new Tally("checkpoint", "mutated files");
    const c = unrollContainer("UNROLLCK");
    let n = 0;
    fc.assert(
      fc.property(fileMutation(checkpoints.length), (m) => {
        n++;
        const b = mutateFile(checkpoints, c, m, true);
        t.call(() => decodeCheckpoint(b, source), source);
      }),
      { numRuns: 700 * SCALE, seed: SEED },
    );
    t.done(n);
  });

  it("task checkpoint: decodeTaskCheckpoint", () => {
    const source = "fuzz/task.ck";
    const t = new Tally("task checkpoint", "mutated files");
    const c = unrollContainer("UNROLLTK");
    let n = 0;
    fc.assert(
      fc.property(fileMutation(taskCheckpoints.length), (m) => {
        n++;
        const b = mutateFile(taskCheckpoints, c, m, true);
        t.call(() => decodeTaskCheckpoint(b, source), source);
      }),
      { numRuns: 600 * SCALE, seed: SEED },
    );
    t.done(n);
  });

  it("safetensors: readSafetensors", () => {
    const source = "fuzz/weights.safetensors";
    const t = new Tally("safetensors", "mutated files");
    let n = 0;
    fc.assert(
      fc.property(fileMutation(safetensorsFiles.length), (m) => {
        n++;
        const b = mutateFile(safetensorsFiles, safetensorsContainer, m, false);
        t.call(() => readSafetensors(b, source), source);
      }),
      { numRuns: 1000 * SCALE, seed: SEED },
    );
    t.done(n);
  });

  it("pytorch: importLanguageModel and importRecurrentLayer", () => {
    const source = "fuzz/model.safetensors";
    const t = new Tally("pytorch import", "mutated files");
    const layers = layerFiles.map(([b]) => b);
    let n = 0;
    fc.assert(
      fc.property(fc.boolean(), fileMutation(lmFiles.length * layerFiles.length), fc.constantFrom<PyTorchCellName>("lstm", "gru", "rnn", "rnn-relu"), fc.boolean(), (lm, m, otherCell, sameCell) => {
        n++;
        if (lm) {
          const b = mutateFile(lmFiles, interopContainer, { ...m, base: m.base % lmFiles.length }, false);
          t.call(() => importLanguageModel(b, source, sameCell ? {} : { cell: otherCell }), source);
        } else {
          const i = m.base % layerFiles.length;
          const b = mutateFile(layers, interopContainer, { ...m, base: i }, false);
          t.call(() => importRecurrentLayer(b, sameCell ? layerFiles[i][1] : otherCell, { source, backend: "js" }), source);
        }
      }),
      { numRuns: 600 * SCALE, seed: SEED },
    );
    t.done(n);
  });

  it("onnx: describeOnnx", () => {
    const t = new Tally("onnx inspect", "mutated files");
    let n = 0;
    fc.assert(
      fc.property(fileMutation(onnxFiles.length), (m) => {
        n++;
        const b = mutateFile(onnxFiles, null, { ...m, bytes: m.bytes.length > 0 ? m.bytes : [{ op: "truncate", at: m.base * 977 }] }, false);
        t.call(() => describeOnnx(b));
      }),
      { numRuns: 800 * SCALE, seed: SEED },
    );
    t.done(n);
  });

  it("tfjs: readTfjsManifest and parseTfjsModel", () => {
    const source = "fuzz/model.json";
    const t = new Tally("tfjs", "mutated models");
    let n = 0;
    fc.assert(
      fc.property(fc.nat(tfjsModels.length - 1), fc.array(jsonOp, { maxLength: 3 }), fc.array(byteOp, { maxLength: 2 }), (i, json, bytes) => {
        n++;
        const doc = applyJsonOps(tfjsModels[i].json, json);
        const data = applyByteOps(tfjsModels[i].data, bytes);
        t.call(() => readTfjsManifest(doc, source), source);
        t.call(() => parseTfjsModel(doc, data, source), source);
      }),
      { numRuns: 800 * SCALE, seed: SEED },
    );
    t.done(n);
  });

  it("tfjs: loadTfjsModel reads model.json text and shards from disk", () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-fuzz-tfjs-"));
    const t = new Tally("tfjs files", "mutated model folders");
    let n = 0;
    try {
      fc.assert(
        fc.property(fc.nat(tfjsModels.length - 1), fc.array(jsonOp, { maxLength: 2 }), fc.array(byteOp, { maxLength: 2 }), fc.array(byteOp, { maxLength: 2 }), (i, json, textOps, shardOps) => {
          n++;
          const { name, json: base } = tfjsModels[i];
          const doc = applyJsonOps(base, json) as { weightsManifest?: unknown };
          const text = applyByteOps(utf8.encode(JSON.stringify(doc) ?? ""), textOps);
          writeFileSync(join(dir, `${n}.json`), text);
          // The fixture's shards, mutated, next to the mutated model.json.
          const paths = base.weightsManifest.flatMap((g) => g.paths);
          paths.forEach((p, k) => writeFileSync(join(dir, p), k === 0 ? applyByteOps(readFixture("tfjs", name, p), shardOps) : readFixture("tfjs", name, p)));
          const path = join(dir, `${n}.json`);
          t.call(() => loadTfjsModel(path), path);
        }),
        { numRuns: 150 * SCALE, seed: SEED },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    t.done(n);
  });
});

// ---------------------------------------------------------------------------------------------
// Headers that claim huge tensors: refused before anything is allocated

describe("fuzz: huge lengths are refused before allocating", () => {
  const CLAIMS = [2 ** 31, 2 ** 31 + 8, 2 ** 32, 2 ** 40, 2 ** 50, 2 ** 53 - 8, 2 ** 53];

  it("checkpoint and task checkpoint tensors of 2^31…2^53 elements", () => {
    const t = new Tally("checkpoint huge", "headers");
    let n = 0;
    for (const [bases, c, read] of [
      [checkpoints, unrollContainer("UNROLLCK"), decodeCheckpoint],
      [taskCheckpoints, unrollContainer("UNROLLTK"), decodeTaskCheckpoint],
    ] as const) {
      for (const base of bases) {
        const { doc, rest } = c.split(base);
        const h = doc as { tensors: { length: number; offset: number }[]; model?: Record<string, number> };
        for (const claim of CLAIMS) {
          for (const field of ["length", "offset"] as const) {
            n++;
            const d = structuredClone(h);
            d.tensors[0][field] = claim;
            t.call(() => read(c.join(d, rest), "fuzz/huge.ck"), "fuzz/huge.ck");
          }
          if (h.model) {
            for (const field of ["numLayers", "hiddenSize", "embedSize", "vocabSize"]) {
              n++;
              const d = structuredClone(h);
              d.model![field] = claim;
              t.call(() => read(c.join(d, rest), "fuzz/huge.ck"), "fuzz/huge.ck");
            }
          }
        }
      }
    }
    t.done(n);
  });

  it("safetensors shapes and data_offsets of 2^31…2^53, and header lengths up to 2^64", () => {
    const source = "fuzz/huge.safetensors";
    const t = new Tally("safetensors huge", "headers");
    let n = 0;
    for (const base of [...safetensorsFiles, ...lmFiles]) {
      const { doc, rest } = safetensorsContainer.split(base);
      const h = doc as Record<string, { shape: number[]; data_offsets: number[] }>;
      const name = Object.keys(h).find((k) => k !== "__metadata__")!;
      for (const claim of CLAIMS) {
        for (const edit of [
          (e: { shape: number[]; data_offsets: number[] }) => (e.shape = [claim]),
          (e: { shape: number[]; data_offsets: number[] }) => (e.shape = [claim, claim, 0]),
          (e: { shape: number[]; data_offsets: number[] }) => (e.data_offsets = [0, claim]),
          (e: { shape: number[]; data_offsets: number[] }) => (e.data_offsets = [claim, claim + 4]),
          (e: { shape: number[]; data_offsets: number[] }) => ((e.shape = [claim / 4]), (e.data_offsets = [0, claim])),
        ]) {
          n++;
          const d = structuredClone(h);
          edit(d[name]);
          const b = safetensorsContainer.join(d, rest);
          t.call(() => readSafetensors(b, source), source);
          t.call(() => importRecurrentLayer(b, "lstm", { source, backend: "js" }), source);
        }
        for (const v of [BigInt(claim), 1n << 63n, (1n << 64n) - 1n]) {
          n++;
          const b = base.slice();
          new DataView(b.buffer).setBigUint64(0, v, true);
          t.call(() => readSafetensors(b, source), source);
        }
      }
    }
    t.done(n);
  });

  it("PyTorch state dicts whose zero-size tensors claim huge layer sizes", () => {
    // weight_ih_l0 of shape (0, 2^k) holds no bytes but would make the input size 2^k; many
    // empty weight_ih_l<k> would make as many layers. Neither may allocate the layer first.
    const source = "fuzz/empty.safetensors";
    const t = new Tally("pytorch huge", "state dicts");
    let n = 0;
    const H = 4;
    const w = (shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, d) => a * d, 1)) });
    for (const claim of [2 ** 20, 2 ** 24, 2 ** 28, 2 ** 31, 2 ** 40, 2 ** 52]) {
      for (const cell of ["lstm", "gru", "rnn"] as const) {
        const G = cell === "lstm" ? 4 : cell === "gru" ? 3 : 1;
        n++;
        const wide = writeSafetensors({ weight_ih_l0: w([0, claim]), weight_hh_l0: w([G * H, H]), bias_ih_l0: w([G * H]), bias_hh_l0: w([G * H]) });
        t.call(() => importRecurrentLayer(wide, cell, { source, backend: "js" }), source);
      }
      // An nn.Linear whose (claim, 0) weight holds no bytes, with an empty bias.
      n++;
      t.call(() => importLinear(writeSafetensors({ weight: w([claim, 0]), bias: w([0]) }), { source }), source);
    }
    for (const layers of [1000, 5000]) {
      n++;
      const tensors: Record<string, { shape: number[]; data: Float32Array }> = { weight_ih_l0: w([4 * 24, 24]), weight_hh_l0: w([4 * 24, 24]) };
      for (let l = 1; l < layers; l++) tensors[`weight_ih_l${l}`] = w([0]);
      t.call(() => importRecurrentLayer(writeSafetensors(tensors), "lstm", { source, backend: "js" }), source);
    }
    t.done(n);
  });

  it("TF.js manifests and layer configs that claim huge weights or units", () => {
    const source = "fuzz/huge.json";
    const t = new Tally("tfjs huge", "model.json files");
    let n = 0;
    for (const m of tfjsModels) {
      const doc = m.json as unknown as { weightsManifest: { weights: { shape: number[]; dtype?: string }[] }[]; modelTopology: unknown };
      for (const claim of CLAIMS) {
        for (const shape of [[claim], [claim, claim], [claim, 0], [1e308, 1e308, 0]]) {
          n++;
          const d = structuredClone(doc);
          d.weightsManifest[0].weights[0].shape = shape;
          t.call(() => readTfjsManifest(d, source), source);
          t.call(() => parseTfjsModel(d, m.data, source), source);
        }
        // Every "units", "input_dim", "output_dim" and declared input size of the topology set to the claim.
        for (const key of ["units", "input_dim", "output_dim", "batch_input_shape"]) {
          n++;
          const d = structuredClone(doc);
          for (const p of pathsOf(d.modelTopology)) {
            if (p[p.length - 1] !== key) continue;
            let o = d.modelTopology as Record<string | number, unknown>;
            for (const k of p.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
            o[key] = key === "batch_input_shape" ? [null, 6, claim] : claim;
          }
          t.call(() => parseTfjsModel(d, m.data, source), source);
        }
      }
    }
    // A Dense layer reading 0 declared features: its (0, units) kernel holds no bytes.
    for (const claim of [2 ** 24, 2 ** 26, ...CLAIMS]) {
      n++;
      const d = {
        format: "layers-model",
        modelTopology: { class_name: "Sequential", config: { name: "s", layers: [{ class_name: "Dense", config: { name: "d", units: claim, use_bias: false, batch_input_shape: [null, 6, 0] } }] } },
        weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "d/kernel", shape: [0, claim], dtype: "float32" }] }],
      };
      t.call(() => parseTfjsModel(d, new Uint8Array(0), source), source);
    }
    t.done(n);
  });
});

// ---------------------------------------------------------------------------------------------
// Every field of every header replaced by each hostile value (systematic, not random)

/** The distinct field names of `doc`. */
function keysOf(doc: unknown): string[] {
  return [...new Set(pathsOf(doc).flatMap((p) => (typeof p[p.length - 1] === "string" ? [p[p.length - 1] as string] : [])))];
}

describe("fuzz: every header field × hostile values", () => {
  const sweep = (t: Tally, doc: unknown, read: (d: unknown) => void) => {
    let n = 0;
    for (const key of keysOf(doc)) {
      for (const value of HOSTILE) {
        n++;
        read(applyJsonOp(doc, { path: 0, action: "replaceKey", value, key }));
      }
    }
    return n;
  };

  it("checkpoint, task checkpoint, safetensors and PyTorch headers", () => {
    const t = new Tally("field sweep", "headers");
    const source = "fuzz/sweep";
    let n = 0;
    const kinds = [
      { bases: checkpoints, c: unrollContainer("UNROLLCK"), read: (b: Uint8Array) => decodeCheckpoint(b, source) },
      { bases: taskCheckpoints, c: unrollContainer("UNROLLTK"), read: (b: Uint8Array) => decodeTaskCheckpoint(b, source) },
      { bases: safetensorsFiles.slice(-3), c: safetensorsContainer, read: (b: Uint8Array) => readSafetensors(b, source) },
      { bases: lmFiles, c: interopContainer, read: (b: Uint8Array) => importLanguageModel(b, source) },
      { bases: layerFiles.slice(0, 3).map(([b]) => b), c: interopContainer, read: (b: Uint8Array) => importRecurrentLayer(b, "lstm", { source, backend: "js" }) },
    ];
    for (const { bases, c, read } of kinds) {
      for (const base of bases) {
        const { doc, rest } = c.split(base);
        n += sweep(t, doc, (d) => t.call(() => read(c.join(d, rest)), source));
      }
    }
    t.done(n);
  });

  it("TF.js model.json", () => {
    const t = new Tally("tfjs field sweep", "model.json files");
    const source = "fuzz/sweep.json";
    let n = 0;
    for (const m of tfjsModels) {
      n += sweep(t, m.json, (d) => {
        t.call(() => readTfjsManifest(d, source), source);
        t.call(() => parseTfjsModel(d, m.data, source), source);
      });
    }
    t.done(n);
  });
});

// ---------------------------------------------------------------------------------------------
// Values nested 12,000 or 30,000 levels deep (24…850 KB of JSON): JSON.parse takes them, but
// JSON.stringify and String() overflow the stack on them, so no error message may print one

describe("fuzz: deeply nested JSON values", () => {
  const deepOp = fc.record({ path: fc.nat(), key: fc.option(fc.constantFrom(...KEYS), { freq: 2 }), deep: deepValue });

  it("checkpoint, task checkpoint, safetensors and PyTorch headers", () => {
    const t = new Tally("deep headers", "headers");
    let n = 0;
    const kinds = [
      { bases: checkpoints, c: unrollContainer("UNROLLCK"), read: (b: Uint8Array, s: string) => decodeCheckpoint(b, s) },
      { bases: taskCheckpoints, c: unrollContainer("UNROLLTK"), read: (b: Uint8Array, s: string) => decodeTaskCheckpoint(b, s) },
      { bases: safetensorsFiles, c: safetensorsContainer, read: (b: Uint8Array, s: string) => readSafetensors(b, s) },
      { bases: lmFiles, c: interopContainer, read: (b: Uint8Array, s: string) => importLanguageModel(b, s) },
      { bases: layerFiles.map(([b]) => b), c: interopContainer, read: (b: Uint8Array, s: string) => importRecurrentLayer(b, "lstm", { source: s, backend: "js" }) },
    ];
    fc.assert(
      fc.property(fc.nat(kinds.length - 1), fc.nat(), deepOp, (k, base, { path, key, deep }) => {
        n++;
        const { bases, c, read } = kinds[k];
        const { doc, rest } = c.split(bases[base % bases.length]);
        const b = c.join(withDeep(doc, path, key), rest, deepJson(deep.kind, deep.depth));
        t.call(() => read(b, "fuzz/deep"), "fuzz/deep");
      }),
      { numRuns: 250 * SCALE, seed: SEED },
    );
    t.done(n, false); // inputs of up to 850 KB: their parse grows the heap
  });

  it("TF.js model.json", () => {
    const source = "fuzz/deep.json";
    const t = new Tally("deep tfjs", "model.json files");
    let n = 0;
    fc.assert(
      fc.property(fc.nat(tfjsModels.length - 1), deepOp, (i, { path, key, deep }) => {
        n++;
        const doc: unknown = JSON.parse(stringify(withDeep(tfjsModels[i].json, path, key), deepJson(deep.kind, deep.depth)));
        t.call(() => readTfjsManifest(doc, source), source);
        t.call(() => parseTfjsModel(doc, tfjsModels[i].data, source), source);
      }),
      { numRuns: 150 * SCALE, seed: SEED },
    );
    t.done(n, false); // inputs of up to 850 KB: their parse grows the heap
  });

  it("JSONL records and tagged sentences", () => {
    const t = new Tally("deep jsonl", "files");
    let n = 0;
    const lines = [{ text: "a", label: "b", extra: 1 }, { tokens: ["the", "cat"], tags: ["DET", "NOUN"] }];
    fc.assert(
      fc.property(fc.nat(lines.length - 1), fc.nat(), deepValue, (i, path, deep) => {
        n++;
        const text = `${stringify(withDeep(lines[i], path, null), deepJson(deep.kind, deep.depth))}\n`;
        t.call(() => parseRecords(text, "jsonl", ["text", "label"], "fuzz/deep.jsonl"), "fuzz/deep.jsonl");
        t.call(() => parseTagged(text, "jsonl", "fuzz/deep.jsonl"), "fuzz/deep.jsonl");
      }),
      { numRuns: 60 * SCALE, seed: SEED },
    );
    t.done(n, false); // inputs of up to 850 KB: their parse grows the heap
  });
});

// ---------------------------------------------------------------------------------------------
// Regressions: one small case of each crash the properties above found, with the error it gives now

describe("fuzz regressions", () => {
  /** The error `f` throws, checked to be the library's own; and that it allocated under 64 MB. */
  const clearError = (f: () => unknown, source?: string): string => {
    const before = process.memoryUsage().arrayBuffers;
    let error: unknown;
    try {
      f();
    } catch (e) {
      error = e;
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(MEMORY_LIMIT);
    expect(error, "it throws").toBeInstanceOf(Error);
    expect(notLibraryError(error, source)).toBeNull();
    return (error as Error).message;
  };
  const w = (shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, d) => a * d, 1)) });
  const tfjs = (layers: unknown[], weights: unknown[]) => ({
    format: "layers-model",
    modelTopology: { class_name: "Sequential", config: { name: "s", layers } },
    weightsManifest: [{ paths: ["w.bin"], weights }],
  });

  it("task checkpoint: a first word that is not UTF-8 (was a TypeError from TextDecoder)", () => {
    const b = taskCheckpoints[0].slice();
    b.fill(0xff, 0, 4);
    expect(clearError(() => decodeTaskCheckpoint(b, "t.ck"), "t.ck")).toMatch(/not an unroll task checkpoint/);
  });

  it("checkpoint: a header claiming 2^31 layers (was a heap out of memory listing their tensors)", () => {
    const c = unrollContainer("UNROLLCK");
    const { doc, rest } = c.split(checkpoints[0]);
    (doc as { model: { numLayers: number } }).model.numLayers = 2 ** 31;
    const t0 = performance.now();
    expect(clearError(() => decodeCheckpoint(c.join(doc, rest), "c.ck"), "c.ck")).toMatch(/2147483648 layers\) has over \d+ parameters, but the payload holds at most \d+ values/);
    expect(performance.now() - t0).toBeLessThan(MAX_MS);
  });

  it("pytorch: zero-size tensors claiming 2^20 inputs, 5,000 layers or a 2^28 bias (were 128 MB … 1 GB allocations, RangeError at 2^31)", () => {
    const wide = writeSafetensors({ weight_ih_l0: w([0, 2 ** 20]), weight_hh_l0: w([16, 4]), bias_ih_l0: w([16]), bias_hh_l0: w([16]) });
    expect(clearError(() => importRecurrentLayer(wide, "lstm", { source: "l.safetensors", backend: "js" }), "l.safetensors")).toMatch(/"weight_ih_l0" has shape \(0, 1048576\) but the model expects \(16, 1048576\)/);
    const deep: Record<string, { shape: number[]; data: Float32Array }> = { weight_ih_l0: w([96, 24]), weight_hh_l0: w([96, 24]) };
    for (let l = 1; l < 5000; l++) deep[`weight_ih_l${l}`] = w([0]);
    expect(clearError(() => importRecurrentLayer(writeSafetensors(deep), "lstm", { source: "l.safetensors", backend: "js" }), "l.safetensors")).toMatch(/state dict does not match the model: missing tensors: bias_ih_l0/);
    const linear = writeSafetensors({ weight: w([2 ** 28, 0]), bias: w([0]) });
    expect(clearError(() => importLinear(linear, { source: "lin.safetensors" }), "lin.safetensors")).toMatch(/"bias" has shape \(0\) but the model expects \(268435456\)/);
  });

  it("tfjs: units 2^53 (was a RangeError allocating the layer before its weights were found)", () => {
    const m = structuredClone(tfjsModels.find((x) => x.name === "lstm_stack")!.json) as unknown as { modelTopology: { config: { layers: { config: { units?: number } }[] } } };
    m.modelTopology.config.layers[1].config.units = 2 ** 53;
    expect(clearError(() => parseTfjsModel(m, tfjsModels.find((x) => x.name === "lstm_stack")!.data, "m.json"), "m.json")).toMatch(/needs weight "kernel" of shape|has shape .* but the layer's config needs/);
  });

  it("tfjs: a Dense layer of 0 input features and 2^26 units without bias (was a 512 MB allocation from a 300-byte model.json)", () => {
    const doc = tfjs([{ class_name: "Dense", config: { name: "d", units: 2 ** 26, use_bias: false, activation: "linear", batch_input_shape: [null, 6, 0] } }], [{ name: "d/kernel", shape: [0, 2 ** 26], dtype: "float32" }]);
    expect(clearError(() => parseTfjsModel(doc, new Uint8Array(0), "m.json"), "m.json")).toMatch(/reads 0 input features; declare at least 1/);
  });

  it("tfjs: values String() throws on, a functional model without layers, dtype \"constructor\" (were TypeErrors, and NaN byte lengths)", () => {
    const base = tfjsModels.find((x) => x.name === "lstm_stack")!;
    const at = (f: (d: any) => void) => {
      const d = structuredClone(base.json) as any;
      f(d);
      return clearError(() => parseTfjsModel(d, base.data, "m.json"), "m.json");
    };
    expect(at((d) => (d.modelTopology.config.layers[3].config.activation = { toString: 1 }))).toMatch(/uses activation "\{"toString":1\}"/);
    expect(at((d) => (d.modelTopology.config.layers[1].config.activation = { toString: 1 }))).toMatch(/"activation" is \{"toString":1\}, not an activation name/);
    expect(at((d) => (d.modelTopology.config.layers[1].config.recurrent_activation = { toString: 1 }))).toMatch(/"recurrent_activation" is \{"toString":1\}, not an activation name/);
    expect(at((d) => (d.modelTopology.class_name = { toString: 1 }))).toMatch(/the model class "\{"toString":1\}" is not supported/);
    expect(at((d) => Object.assign(d.modelTopology, { class_name: "Model", config: { name: "f", layers: [], input_layers: [["a"]], output_layers: [["a"]] } }))).toMatch(/not a single chain of layers \(it has no layers\)/);
    expect(at((d) => (d.weightsManifest[0].weights[0].dtype = "constructor"))).toMatch(/has dtype "constructor", which unroll cannot read/);
  });

  it("deep nesting: headers and JSONL fields nested 12,000 levels (were RangeErrors from JSON.stringify / String in messages)", () => {
    const deep = deepJson("array", 12_000);
    const inHeader = (c: Container, base: Uint8Array, key: string) => {
      const { doc, rest } = c.split(base);
      return c.join(withDeep(doc, 0, key), rest, deep);
    };
    expect(clearError(() => decodeCheckpoint(inHeader(unrollContainer("UNROLLCK"), checkpoints[0], "cell"), "c.ck"), "c.ck")).toMatch(/model.cell must be an object, got a list nested too deep to print/);
    expect(clearError(() => decodeTaskCheckpoint(inHeader(unrollContainer("UNROLLTK"), taskCheckpoints[0], "task"), "t.ck"), "t.ck")).toMatch(/unknown task a list nested too deep to print/);
    expect(clearError(() => readSafetensors(inHeader(safetensorsContainer, safetensorsFiles.at(-1)!, "shape"), "s.safetensors"), "s.safetensors")).toMatch(/has shape a list nested too deep to print/);
    expect(clearError(() => importLanguageModel(inHeader(interopContainer, lmFiles[0], "dropout"), "lm.safetensors"), "lm.safetensors")).toMatch(/has dropout a list nested too deep to print/);
    const base = tfjsModels.find((x) => x.name === "lstm_stack")!;
    const doc = JSON.parse(stringify(withDeep(base.json, 0, "units"), deep));
    expect(clearError(() => parseTfjsModel(doc, base.data, "m.json"), "m.json")).toMatch(/"units" must be a positive integer, got a list nested too deep to print/);
    const functional = tfjsModels.find((x) => x.name === "functional")!;
    const f = JSON.parse(stringify(withDeep(functional.json, 0, "inbound_nodes"), `[{"args": ${deep}}]`));
    expect(clearError(() => parseTfjsModel(f, functional.data, "m.json"), "m.json")).toMatch(/not a single chain of layers/);
    expect(clearError(() => parseRecords(`{"text": "a", "label": "b", "x": ${deep}}\n`, "jsonl", ["text", "label"], "r.jsonl"), "r.jsonl")).toMatch(/r.jsonl:1: field "x" is nested too deep/);
    expect(clearError(() => parseTagged(`{"tokens": ["a"], "tags": [${deep}]}\n`, "jsonl", "t.jsonl"), "t.jsonl")).toMatch(/t.jsonl:1: field "tags\[0\]" is nested too deep/);
  });

  it("onnx: subgraphs nested 3,000 deep in a 30 KB file (the error passed on \"Maximum call stack size exceeded\")", () => {
    // ModelProto.graph, then 3,000 × GraphProto.node → NodeProto.attribute → AttributeProto.g, around an empty graph:
    // the length-delimited headers, innermost first.
    const heads: number[][] = [];
    let len = 0;
    for (let i = 0; i < 3000; i++) {
      for (const tag of [6, 5, 1]) {
        heads.push([(tag << 3) | 2, ...varint(BigInt(len))]);
        len += heads[heads.length - 1].length;
      }
    }
    const bytes = Uint8Array.from([0x08, 0x07, (7 << 3) | 2, ...varint(BigInt(len)), ...heads.reverse().flat()]);
    expect(clearError(() => describeOnnx(bytes))).toMatch(/not an ONNX model \(its subgraphs are nested too deep to read\)/);
  });

  it("vocabulary: one line of 300,000 punctuation marks (was a RangeError from push(...tokens))", () => {
    expect(buildVocabulary("!".repeat(300_000), { level: "word" }).tokens).toEqual(["<unk>", "<eos>", "!"]);
    expect(encodeText(wordVocab, "!".repeat(300_000)).ids.length).toBe(300_000);
  });
});

// ---------------------------------------------------------------------------------------------
// Text readers

/** Pieces that break text formats: delimiters, quotes, line ends, NUL, BOM, lone surrogates, astral characters. */
const PIECES = [
  ",", "\t", " ", '"', '""', "'", "\n", "\r\n", "\r", "\n\n", "\0", "\uFEFF", "\ud800", "\udfff", "\udc00\ud800", "🙂", "é", "e\u0301", "\u2028", "{", "}", "[", "]", ":",
  "text", "label", "tokens", "tags", '"text"', '"label"', '{"text": "a", "label": "b"}', '{"tokens": ["a"], "tags": ["B"]}', "#", ";;;", "AH0", "K", "(1)", "WORD", "  ", "null", "1e999", "\\", "\\u0000",
];

/** Code units of any value (lone surrogates included), pieces of the formats, and binary code points. */
const textUnit = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PIECES) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 4 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 8 }) },
);
const anyText = fc.oneof(
  fc.string({ unit: textUnit, maxLength: 120 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 100 }),
);

/** Valid files of each format, mutated as strings: pieces inserted, a cut, a line repeated. */
const VALID_TEXT: Readonly<Record<string, string>> = {
  csv: 'text,label\n"hello, world",greet\nbye,part\n"a ""quoted"" line\nover two",other\n',
  tsv: "text\tlabel\nhello world\tgreet\nbye\tpart\n",
  jsonl: '{"text": "hello", "label": "greet"}\n\n{"text": "bye 🙂", "label": "part", "n": 3}\r\n',
  taggedJsonl: '{"tokens": ["the", "cat"], "tags": ["DET", "NOUN"]}\n{"tokens": ["sat"], "tags": ["VERB"]}\n',
  conll: "# a comment\nthe DET\ncat\tNOUN\n\nsat VERB\n",
  cmudict: ";;; comment\nHELLO  HH AH0 L OW1\nHELLO(1)  HH EH0 L OW1\nWORLD  W ER1 L D\nA.  EY1\n",
};

const mutatedText = (base: string) =>
  fc.record({ at: fc.nat(), piece: fc.string({ unit: textUnit, maxLength: 12 }), cut: fc.option(fc.nat()), repeat: fc.boolean() }).map(({ at, piece, cut, repeat }) => {
    const i = at % (base.length + 1);
    let s = base.slice(0, i) + piece + base.slice(i);
    if (cut !== null) s = s.slice(0, cut % (s.length + 1));
    return repeat ? s + s : s;
  });

const textFor = (base: string) => fc.oneof(anyText, mutatedText(base), mutatedText(base));

describe("fuzz: text readers", () => {
  it("decodeUtf8: invalid UTF-8 byte sequences", () => {
    const source = "fuzz/corpus.txt";
    const t = new Tally("utf-8", "byte strings");
    let n = 0;
    const valid = utf8.encode("héllo wörld 🙂 — 中文 \u2028 e\u0301\n");
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.array(byteOp, { minLength: 1, maxLength: 3 }).map((ops) => applyByteOps(valid, ops))), (b) => {
        n++;
        t.call(() => decodeUtf8(b, source), source);
      }),
      { numRuns: 600 * SCALE, seed: SEED },
    );
    t.done(n);
  });

  it("readData: --data files of random bytes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unroll-fuzz-data-"));
    const t = new Tally("readData", "files");
    let n = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 512 }), anyText.map((s) => utf8.encode(s))), async (b) => {
          n++;
          const path = join(dir, `${n}.txt`);
          writeFileSync(path, b);
          await t.callAsync(() => readData(path), path);
        }),
        { numRuns: 150 * SCALE, seed: SEED },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    t.done(n);
  });

  it("records: CSV, TSV and JSONL of arbitrary text", () => {
    const source = "fuzz/examples";
    const t = new Tally("records", "texts");
    let n = 0;
    const base = (f: RecordFormat) => VALID_TEXT[f];
    fc.assert(
      fc.property(
        fc.constantFrom<RecordFormat>("csv", "tsv", "jsonl").chain((f) => fc.tuple(fc.constant(f), textFor(base(f)))),
        ([format, text]) => {
          n++;
          t.call(() => parseRecords(text, format, ["text", "label"], source), source);
        },
      ),
      { numRuns: 800 * SCALE, seed: SEED },
    );
    t.done(n);
  });

  it("tagged: JSONL and CoNLL of arbitrary text", () => {
    const source = "fuzz/tagged";
    const t = new Tally("tagged", "texts");
    let n = 0;
    fc.assert(
      fc.property(
        fc.constantFrom<TaggedFormat>("jsonl", "conll").chain((f) => fc.tuple(fc.constant(f), textFor(f === "jsonl" ? VALID_TEXT.taggedJsonl : VALID_TEXT.conll))),
        ([format, text]) => {
          n++;
          t.call(() => parseTagged(text, format, source), source);
        },
      ),
      { numRuns: 600 * SCALE, seed: SEED },
    );
    t.done(n);
  });

  it("cmudict: arbitrary dictionary text", () => {
    const source = "fuzz/dict.txt";
    const t = new Tally("cmudict", "texts");
    let n = 0;
    fc.assert(
      fc.property(textFor(VALID_TEXT.cmudict), (text) => {
        n++;
        t.call(() => parseCmudict(text, source), source);
      }),
      { numRuns: 500 * SCALE, seed: SEED },
    );
    t.done(n);
  });

  it("vocabulary: buildVocabulary and encodeText on arbitrary Unicode", () => {
    const t = new Tally("vocab", "text pairs");
    let n = 0;
    fc.assert(
      fc.property(anyText, anyText, fc.constantFrom("char" as const, "word" as const), fc.boolean(), (a, b, level, lower) => {
        n++;
        let v: Vocabulary | undefined;
        t.call(() => (v = buildVocabulary(a, { level, lowercase: lower, minCount: 1 })));
        for (const vocab of [v, charVocab, wordVocab]) {
          if (vocab !== undefined) for (const skip of [false, true]) t.call(() => encodeText(vocab, b, skip));
        }
      }),
      { numRuns: 500 * SCALE, seed: SEED },
    );
    t.done(n);
  });

  it("huge lines: one line of 300,000 tokens or 2,000,000 characters", () => {
    const t = new Tally("huge lines", "texts");
    const texts = ["!".repeat(300_000), "a ".repeat(300_000), `${"x".repeat(2_000_000)}\n`, `${"ab,".repeat(200_000)}\n`, `${"\ud800".repeat(200_000)}`];
    for (const text of texts) {
      t.call(() => buildVocabulary(text, { level: "word" }));
      t.call(() => buildVocabulary(text, { level: "char" }));
      for (const v of [charVocab, wordVocab]) t.call(() => encodeText(v, text, true));
      t.call(() => parseRecords(`text,label\n"${text.replace(/"/g, "")}",x\n`, "csv", ["text", "label"], "fuzz/huge.csv"), "fuzz/huge.csv");
      t.call(() => parseTagged(text, "conll", "fuzz/huge.conll"), "fuzz/huge.conll");
      t.call(() => parseCmudict(text, "fuzz/huge.dict"), "fuzz/huge.dict");
    }
    t.done(texts.length, false);
  });
});
