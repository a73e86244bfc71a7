/**
 * The safetensors file format (Hugging Face; what PyTorch users share weights in), read and written
 * with every rule of the format checked. Browser-safe: Uint8Array, DataView, TextEncoder/Decoder.
 *
 *   offset  size  field
 *   0       8     header byte length N, u64 little-endian (at most 100 MB)
 *   8       N     header, UTF-8 JSON object starting with "{", optionally padded with spaces:
 *                   { "<tensor name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] },
 *                     …,
 *                     "__metadata__": { "<key>": "<string value>", … } }   (optional)
 *   8 + N   …     the byte buffer: tensors row-major, little-endian; `begin`, `end` are byte offsets
 *                 into it, and the tensors cover it exactly, with no gap and no overlap
 *
 * The reader trusts nothing: a header length beyond the file, a header that is not a JSON object,
 * duplicate keys, unknown dtypes, shapes whose size disagrees with their byte range, offsets out of
 * bounds, overlapping or leaving gaps, and non-string metadata each give an error that names the
 * source and the problem. Tensors are copied out (never views into `bytes`); F16 and BF16 are
 * widened to float32 as they are read.
 */

import { decodeUtf8, encodeUtf8 } from "../text/utf8.js";

/** Element types unroll reads. */
export type SafetensorsDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** A tensor's values: F64 → Float64Array; F32, F16, BF16 → Float32Array; I64 → BigInt64Array; BOOL → Uint8Array of 0/1. */
export type SafetensorsData = Float64Array | Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** One tensor as read: its stored dtype, its shape, and its values in row-major order. */
export interface SafetensorsTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: SafetensorsData;
}

/** The contents of a safetensors file. Both records have no prototype, so any name is safe as a key. */
export interface Safetensors {
  readonly tensors: Readonly<Record<string, SafetensorsTensor>>;
  /** The header's `__metadata__` (string keys to string values); empty when absent. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** A tensor to write; its dtype follows from the array type (Float32Array → F32, BigInt64Array → I64, …). */
export interface WritableTensor {
  readonly shape: readonly number[];
  readonly data: Float64Array | Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
}

/** The largest header the format allows (as the reference implementation: 100 MB). */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

/** Bytes per element of every dtype the format defines; those outside `SafetensorsDType` are recognised but not read. */
const DTYPE_SIZE: Readonly<Record<string, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
  U64: 8, U32: 4, U16: 2, F8_E4M3: 1, F8_E5M2: 1,
};
const READABLE: readonly string[] = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"];

const METADATA = "__metadata__";

// ---------------------------------------------------------------------------------------------
// Reading

/** A tensor entry of the header, checked. */
interface Entry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

/**
 * The tensors and metadata of the safetensors file `bytes`, fully validated. `source` (a file
 * name) starts every error message.
 */
export function readSafetensors(bytes: Uint8Array, source = "safetensors"): Safetensors {
  const fail = (what: string, todo = DAMAGED) => new Error(`${source}: ${what}; ${todo}`);
  if (!(bytes instanceof Uint8Array)) throw new Error(`${source}: readSafetensors takes the file's bytes as a Uint8Array (a Node Buffer is one), got ${typeof bytes}`);
  const n = bytes.length;
  if (n < 8) {
    throw fail(n === 0 ? "the file is empty" : `the file holds ${n} bytes, too few for the 8-byte header length a safetensors file starts with`, TRUNCATED);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const N = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32; // exact below 2^53, and too large above
  if (N > SAFETENSORS_MAX_HEADER) {
    throw fail(`the header length field says ${N} bytes, more than the 100 MB the format allows (bytes 0…7: ${hexBytes(bytes, 0, 8)})`, NOT_SAFETENSORS);
  }
  if (8 + N > n) throw fail(`the header length field says ${N} bytes, but the file holds only ${n - 8} after it`, TRUNCATED_OR_NOT);
  if (N === 0) throw fail("the header length field is 0, but a header is at least {}", NOT_SAFETENSORS);
  if (bytes[8] !== 0x7b) throw fail(`the header does not start with "{" (it starts with bytes ${hexBytes(bytes, 8, 8 + Math.min(N, 8))})`, NOT_SAFETENSORS);

  let text: string;
  try {
    text = decodeUtf8(bytes.subarray(8, 8 + N));
  } catch {
    throw fail("the header is not valid UTF-8");
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(doc)) throw fail(`the header must be a JSON object {name: {dtype, shape, data_offsets}}, got ${show(doc)}`);
  const dup = duplicateKey(text);
  if (dup) {
    throw fail(dup.parent === null ? `tensor "${dup.key}" appears twice in the header` : `key "${dup.key}" appears twice in the header entry of "${dup.parent}"`);
  }

  const metadata: Record<string, string> = Object.create(null);
  if (METADATA in doc) {
    const m = doc[METADATA];
    if (!isRecord(m)) throw fail(`"${METADATA}" must be an object of strings, got ${show(m)}`);
    for (const k of Object.keys(m)) {
      if (typeof m[k] !== "string") throw fail(`metadata "${k}" must be a string (the format allows only string values), got ${show(m[k])}`);
      metadata[k] = m[k] as string;
    }
  }

  const size = n - 8 - N; // of the byte buffer
  const entries: Entry[] = [];
  for (const name of Object.keys(doc)) {
    if (name !== METADATA) entries.push(checkEntry(name, doc[name], size, fail));
  }

  // The tensors tile the byte buffer: sorted by position, each starts where the one before ends.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: Entry | null = null;
  for (const e of sorted) {
    if (e.begin < at) throw fail(`tensor "${e.name}" (bytes ${e.begin}…${e.end}) overlaps tensor "${prev!.name}" (bytes ${prev!.begin}…${prev!.end})`);
    if (e.begin > at) throw fail(`bytes ${at}…${e.begin} of the buffer belong to no tensor (the next, "${e.name}", starts at ${e.begin}); tensors must cover the buffer without gaps`);
    at = e.end;
    prev = e;
  }
  if (at !== size) {
    throw fail(at < size ? `the buffer holds ${size} bytes but the tensors cover only ${at}; ${size - at} bytes at its end belong to no tensor` : `the tensors end at byte ${at}, past the buffer of ${size}`);
  }

  const tensors: Record<string, SafetensorsTensor> = Object.create(null);
  const base = 8 + N;
  for (const e of entries) {
    // A copy, in a buffer of its own (not `bytes.slice`: a Node Buffer's slice is a view of its pool).
    const own = new Uint8Array(e.end - e.begin);
    own.set(bytes.subarray(base + e.begin, base + e.end));
    const data = decodeData(e.dtype, own);
    if (e.dtype === "BOOL") {
      const bad = (data as Uint8Array).findIndex((x) => x > 1);
      if (bad >= 0) throw fail(`BOOL tensor "${e.name}" holds byte ${data[bad]} at flat index ${bad}; booleans are 0 or 1`);
    }
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data };
  }
  return { tensors, metadata };
}

const DAMAGED = "the file is damaged, or was not written as safetensors";
const TRUNCATED = "the file is truncated, or is not a safetensors file";
const TRUNCATED_OR_NOT = "the file is truncated (was the download or copy interrupted?), or is not a safetensors file";
const NOT_SAFETENSORS = "this is not a safetensors file (or its first bytes are damaged)";

function checkEntry(name: string, v: unknown, size: number, fail: (what: string, todo?: string) => Error): Entry {
  const what = `tensor "${name}"`;
  if (!isRecord(v)) throw fail(`${what} must be described by {dtype, shape, data_offsets}, got ${show(v)}`);
  const dtype = v.dtype;
  if (typeof dtype !== "string" || !Object.prototype.hasOwnProperty.call(DTYPE_SIZE, dtype)) {
    throw fail(`${what} has unknown dtype ${show(dtype)} (the format defines ${Object.keys(DTYPE_SIZE).join(", ")})`);
  }
  if (!READABLE.includes(dtype)) {
    throw fail(`${what} has dtype ${dtype}, which unroll does not read (it reads ${READABLE.join(", ")})`, "convert it before saving, e.g. tensor.float() in PyTorch");
  }
  const shape = v.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw fail(`${what} has shape ${show(shape)}; a shape is an array of integers ≥ 0`);
  }
  const off = v.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isSafeInteger(x) && x >= 0)) {
    throw fail(`${what} has data_offsets ${show(off)}; they are [begin, end], two byte offsets ≥ 0`);
  }
  const [begin, end] = off as [number, number];
  if (begin > end) throw fail(`${what} has data_offsets [${begin}, ${end}]: begin after end`);
  if (end > size) throw fail(`${what} (bytes ${begin}…${end}) lies outside the buffer of ${size} bytes`, TRUNCATED_OR_NOT);
  const bytesPer = DTYPE_SIZE[dtype];
  let count = 1;
  for (const d of shape as number[]) count *= d;
  if (count * bytesPer !== end - begin) {
    throw fail(`${what} has shape (${shape.join(", ")}) of ${dtype}, ${count} values of ${bytesPer} bytes = ${count * bytesPer} bytes, but its data_offsets span ${end - begin}`);
  }
  return { name, dtype: dtype as SafetensorsDType, shape: [...(shape as number[])], begin, end };
}

/** A tensor's values from its own little-endian bytes (a fresh copy, so every view is aligned). */
function decodeData(dtype: SafetensorsDType, b: Uint8Array): SafetensorsData {
  if (!LITTLE_ENDIAN) swapToNative(b, DTYPE_SIZE[dtype]);
  const buf = b.buffer;
  switch (dtype) {
    case "F64":
      return new Float64Array(buf);
    case "F32":
      return new Float32Array(buf);
    case "F16":
      return Float32Array.from(new Uint16Array(buf), halfToFloat);
    case "BF16": {
      // bfloat16 is the top half of a float32
      const u = new Uint16Array(buf);
      const w = new Uint32Array(u.length);
      for (let i = 0; i < u.length; i++) w[i] = u[i] << 16;
      return new Float32Array(w.buffer);
    }
    case "I64":
      return new BigInt64Array(buf);
    case "I32":
      return new Int32Array(buf);
    case "I16":
      return new Int16Array(buf);
    case "I8":
      return new Int8Array(buf);
    case "U8":
    case "BOOL":
      return new Uint8Array(buf);
  }
}

/** IEEE 754 binary16 bits → its value (exactly representable in float32). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * The first duplicate key of any object in `text`, which JSON.parse has accepted (so the scan
 * only tracks strings, brackets, commas and colons); `parent` is the key holding that object,
 * null at the top level. JSON.parse would silently keep the last of two equal keys.
 */
function duplicateKey(text: string): { key: string; parent: string | null } | null {
  const stack: { keys: Set<string> | null; expectKey: boolean; parent: string | null }[] = [];
  let lastKey: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return { key, parent: stack.length === 1 ? null : top.parent };
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
      i = j;
    } else if (ch === 0x7b) {
      stack.push({ keys: new Set(), expectKey: true, parent: lastKey });
    } else if (ch === 0x5b) {
      stack.push({ keys: null, expectKey: false, parent: lastKey });
    } else if (ch === 0x7d || ch === 0x5d) {
      stack.pop();
    } else if (ch === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * The bytes of a safetensors file holding `tensors` and, when given, `metadata` as `__metadata__`.
 * Header keys are sorted by name; in the buffer, tensors are ordered by element size (largest
 * first), then name, so that each starts aligned to its element size; the header is padded with
 * spaces to a multiple of 8 bytes, as the format allows.
 */
export function writeSafetensors(tensors: Readonly<Record<string, WritableTensor>>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const fail = (what: string) => new Error(`writeSafetensors: ${what}; fix it before saving`);
  if (!isRecord(tensors)) throw fail(`tensors must be an object of {shape, data} by name, got ${show(tensors)}`);
  const names = Object.keys(tensors).sort(byCodeUnits);
  const items = names.map((name) => {
    if (name === METADATA) throw fail(`"${METADATA}" is reserved for the metadata and cannot name a tensor`);
    const t = tensors[name];
    const dtype = t && typeof t === "object" ? dtypeOfArray(t.data) : null;
    if (dtype === null) throw fail(`tensor "${name}" must be {shape, data} with data a Float64Array, Float32Array, BigInt64Array, Int32Array, Int16Array, Int8Array or Uint8Array`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw fail(`tensor "${name}" has shape ${show(t.shape)}; a shape is an array of integers ≥ 0`);
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.data.length) throw fail(`tensor "${name}" has shape (${t.shape.join(", ")}) of ${count} values but holds ${t.data.length}`);
    return { name, dtype, shape: [...t.shape], data: t.data, begin: 0, end: 0 };
  });
  const meta: Record<string, string> = Object.create(null);
  if (metadata !== undefined) {
    if (!isRecord(metadata)) throw fail(`metadata must be an object of strings, got ${show(metadata)}`);
    for (const k of Object.keys(metadata)) {
      if (typeof metadata[k] !== "string") throw fail(`metadata "${k}" must be a string, got ${show(metadata[k])} (JSON.stringify it first)`);
      meta[k] = metadata[k];
    }
  }

  let at = 0;
  for (const it of [...items].sort((a, b) => DTYPE_SIZE[b.dtype] - DTYPE_SIZE[a.dtype] || byCodeUnits(a.name, b.name))) {
    it.begin = at;
    at += it.data.byteLength;
    it.end = at;
  }
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`${JSON.stringify(METADATA)}:{${Object.keys(meta).sort(byCodeUnits).map((k) => `${JSON.stringify(k)}:${JSON.stringify(meta[k])}`).join(",")}}`);
  for (const it of items) parts.push(`${JSON.stringify(it.name)}:{"dtype":"${it.dtype}","shape":[${it.shape.join(",")}],"data_offsets":[${it.begin},${it.end}]}`);
  const json = encodeUtf8(`{${parts.join(",")}}`);
  const N = Math.ceil(json.length / 8) * 8;
  if (N > SAFETENSORS_MAX_HEADER) throw fail(`the header would take ${N} bytes, more than the 100 MB the format allows (too many tensors, or too much metadata)`);

  const out = new Uint8Array(8 + N + at);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, N, true);
  dv.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + N);
  for (const it of items) {
    const b = new Uint8Array(it.data.buffer, it.data.byteOffset, it.data.byteLength);
    out.set(b, 8 + N + it.begin);
    if (!LITTLE_ENDIAN) swapToNative(out.subarray(8 + N + it.begin, 8 + N + it.end), DTYPE_SIZE[it.dtype]);
  }
  return out;
}

function dtypeOfArray(a: unknown): SafetensorsDType | null {
  if (a instanceof Float64Array) return "F64";
  if (a instanceof Float32Array) return "F32";
  if (a instanceof BigInt64Array) return "I64";
  if (a instanceof Int32Array) return "I32";
  if (a instanceof Int16Array) return "I16";
  if (a instanceof Int8Array) return "I8";
  if (a instanceof Uint8Array) return "U8";
  return null;
}

// ---------------------------------------------------------------------------------------------
// Bytes and text

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Reverses each `size`-byte element in place (little-endian ↔ big-endian). */
function swapToNative(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= b.length; i += size) b.subarray(i, i + size).reverse();
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function hexBytes(b: Uint8Array, from: number, to: number): string {
  return [...b.subarray(from, to)].map((x) => x.toString(16).padStart(2, "0")).join(" ");
}

function show(v: unknown): string {
  if (v === undefined) return "nothing (missing)";
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = `a ${Array.isArray(v) ? "list" : typeof v} nested too deep to print`; // JSON.parse takes nesting JSON.stringify (and String) overflow the stack on
  }
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}
