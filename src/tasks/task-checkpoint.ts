/**
 * The checkpoint format of the task models (classifier, tagger, conditional LM, seq2seq): the
 * container of language-model checkpoints (src/model/checkpoint-codec.ts) with its own magic, so
 * neither reader mistakes the other's file. Browser-safe.
 *
 *   offset  size  field
 *   0       8     magic "UNROLLTK"
 *   8       4     format version, u32 little-endian (TASK_CHECKPOINT_VERSION)
 *   12      4     header byte length N, u32 little-endian
 *   16      N     header, UTF-8 JSON: { task, dtype, config, meta, training,
 *                                       tensors: [{ name, dtype, length, offset }] }
 *   …             zero padding: the payload starts at P = align8(16 + N)
 *   P       …     tensor payloads, raw little-endian float32/float64; offsets from P, multiples of 8
 *   end−4   4     CRC-32 (IEEE) of every byte before it, u32 little-endian
 *
 * `config` is the model's config, `meta` what a task needs besides (vocabularies, labels), and
 * `training` the state of an unfinished run (null when none). The decoder checks the container
 * (magic, version, checksum, bounds, finite values); the task checks `config` and `meta` when it
 * builds the model from them (`src/tasks/task-io.ts`).
 */
import { crc32 } from "../model/checkpoint-codec.js";
import { dtypeOf, type DType, type FloatArray } from "../tensor/dtype.js";
import { decodeUtf8, encodeUtf8 } from "../text/utf8.js";

export const TASK_CHECKPOINT_MAGIC = "UNROLLTK";
export const TASK_CHECKPOINT_VERSION = 1;
const MAGIC = Array.from(TASK_CHECKPOINT_MAGIC, (ch) => ch.charCodeAt(0));
const PREAMBLE = 16;
const TRAILER = 4;

export type TaskName = "classify" | "tag" | "conditional" | "seq2seq";
export const TASK_NAMES: readonly TaskName[] = ["classify", "tag", "conditional", "seq2seq"];

/** A task checkpoint as plain data. */
export interface TaskCheckpoint {
  readonly task: TaskName;
  readonly dtype: DType;
  readonly config: Readonly<Record<string, unknown>>;
  readonly meta: Readonly<Record<string, unknown>>;
  /** "params" (the model arena), "optimizer.<buffer>" */
  readonly tensors: ReadonlyMap<string, FloatArray>;
  readonly training: Readonly<Record<string, unknown>> | null;
}

const align8 = (n: number) => (n + 7) & ~7;

/** JSON.stringify(v) for a message; a header value nested too deep for it (JSON.parse takes any depth) is described instead. */
function show(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return `a ${Array.isArray(v) ? "list" : typeof v} nested too deep to print`;
  }
}

function rejectNonFinite(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`a header value is ${value}; checkpoints hold finite numbers only`);
  return value;
}

/** The bytes of `ck`. */
export function encodeTaskCheckpoint(ck: TaskCheckpoint): Uint8Array {
  if (!TASK_NAMES.includes(ck.task)) throw new Error(`unknown task "${ck.task}"`);
  if (!ck.tensors.has("params")) throw new Error(`a task checkpoint needs a "params" tensor`);
  const entries: { name: string; dtype: DType; length: number; offset: number }[] = [];
  const arrays: FloatArray[] = [];
  let payload = 0;
  for (const [name, a] of ck.tensors) {
    if (!(a instanceof Float32Array || a instanceof Float64Array)) throw new Error(`tensor "${name}" must be a Float32Array or Float64Array`);
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) throw new Error(`tensor "${name}" holds a non-finite value at ${i}: the run diverged; lower the learning rate`);
    entries.push({ name, dtype: dtypeOf(a), length: a.length, offset: payload });
    arrays.push(a);
    payload += align8(a.byteLength);
  }
  const header = { task: ck.task, dtype: ck.dtype, config: ck.config, meta: ck.meta, training: ck.training, tensors: entries };
  const json = encodeUtf8(JSON.stringify(header, rejectNonFinite));
  const P = align8(PREAMBLE + json.length);
  const total = P + payload + TRAILER;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  dv.setUint32(8, TASK_CHECKPOINT_VERSION, true);
  dv.setUint32(12, json.length, true);
  out.set(json, PREAMBLE);
  entries.forEach((e, i) => {
    const a = arrays[i];
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), P + e.offset);
  });
  dv.setUint32(total - TRAILER, crc32(out.subarray(0, total - TRAILER)), true);
  return out;
}

/** Whether `bytes` start like a task checkpoint (rather than a language-model one). */
export function isTaskCheckpoint(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((m, i) => bytes[i] === m);
}

/** Reads and validates the container; errors name `source` and what to do. */
export function decodeTaskCheckpoint(bytes: Uint8Array, source: string): TaskCheckpoint {
  const fail = (what: string) => new Error(`${source}: corrupt task checkpoint: ${what}; use an earlier checkpoint or retrain`);
  if (!isTaskCheckpoint(bytes)) {
    if (bytes.length >= 8 && decodeUtf8(bytes.subarray(0, 8), false) === "UNROLLCK") throw new Error(`${source}: this is a language-model checkpoint; use it with "unroll sample" or "unroll eval"`);
    throw new Error(`${source}: not an unroll task checkpoint; give a file written by "unroll train --task …"`);
  }
  const n = bytes.length;
  if (n < PREAMBLE + TRAILER) throw new Error(`${source}: truncated (${n} bytes); the write was interrupted — use an earlier checkpoint`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version > TASK_CHECKPOINT_VERSION) throw new Error(`${source}: written by a newer unroll (task checkpoint version ${version}; this one reads up to ${TASK_CHECKPOINT_VERSION}); upgrade unroll`);
  if (version < 1) throw fail(`invalid version ${version}`);
  if (dv.getUint32(n - TRAILER, true) !== crc32(bytes.subarray(0, n - TRAILER))) throw fail("checksum mismatch (the file was damaged or cut short after it was written)");
  const N = dv.getUint32(12, true);
  const P = align8(PREAMBLE + N);
  if (P + TRAILER > n) throw fail(`the header length ${N} runs past the end of the file`);
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(decodeUtf8(bytes.subarray(PREAMBLE, PREAMBLE + N))) as Record<string, unknown>;
  } catch (e) {
    throw fail(`the header is not JSON (${(e as Error).message})`);
  }
  const obj = (v: unknown, what: string) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw fail(`${what} must be an object`);
    return v as Record<string, unknown>;
  };
  obj(h, "the header");
  const task = h.task as TaskName;
  if (!TASK_NAMES.includes(task)) throw fail(`unknown task ${show(h.task)}`);
  const dtype = h.dtype;
  if (dtype !== "float32" && dtype !== "float64") throw fail(`dtype must be "float32" or "float64", got ${show(dtype)}`);
  const config = obj(h.config, "config");
  const meta = obj(h.meta, "meta");
  const training = h.training === null ? null : obj(h.training, "training");
  if (!Array.isArray(h.tensors)) throw fail("tensors must be a list");
  const payload = n - TRAILER - P;
  const tensors = new Map<string, FloatArray>();
  for (const raw of h.tensors) {
    const e = obj(raw, "a tensor entry");
    const name = e.name;
    const dt = e.dtype;
    const length = e.length;
    const offset = e.offset;
    if (typeof name !== "string" || name === "" || tensors.has(name)) throw fail(`a tensor name is missing or repeated (${show(name)})`);
    if (dt !== "float32" && dt !== "float64") throw fail(`tensor "${name}" has dtype ${show(dt)}`);
    if (!Number.isInteger(length) || (length as number) < 0 || !Number.isInteger(offset) || (offset as number) < 0 || (offset as number) % 8 !== 0) throw fail(`tensor "${name}" has an invalid length or offset`);
    const bytesLen = (length as number) * (dt === "float64" ? 8 : 4);
    if ((offset as number) + bytesLen > payload) throw fail(`tensor "${name}" lies outside the payload`);
    const out = dt === "float64" ? new Float64Array(length as number) : new Float32Array(length as number);
    new Uint8Array(out.buffer).set(bytes.subarray(P + (offset as number), P + (offset as number) + bytesLen));
    for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) throw fail(`tensor "${name}" holds a non-finite value at ${i}`);
    tensors.set(name, out);
  }
  const params = tensors.get("params");
  if (!params) throw fail(`no "params" tensor`);
  if (dtypeOf(params) !== dtype) throw fail(`"params" is ${dtypeOf(params)} but the header says ${dtype}`);
  return { task, dtype, config, meta, tensors, training };
}
