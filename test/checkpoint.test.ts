import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CHECKPOINT_VERSION, type Checkpoint } from "../src/model/checkpoint.js";
import { crc32, decodeCheckpoint, encodeCheckpoint } from "../src/model/checkpoint-codec.js";
import { createLanguageModel, type LanguageModelConfig } from "../src/model/language-model.js";
import { readCheckpointFile, writeCheckpointFile, type CheckpointFs } from "../src/node/checkpoint-file.js";
import { allocate, type DType, type FloatArray } from "../src/tensor/dtype.js";
import { Rng } from "../src/tensor/random.js";
import { buildCharVocabulary } from "../src/text/vocab.js";
import { initLanguageModel } from "../src/train/init-model.js";

const text = "hello, wörld — ünroll 🙂\nthe quick brown fox";

/** A real checkpoint: an initialised 2-layer LSTM, its vocabulary, a training snapshot, Adam moments and a carried state. */
function makeCheckpoint(dtype: DType, seed = 1): Checkpoint {
  const vocab = buildCharVocabulary(text);
  const config: LanguageModelConfig = {
    vocabSize: vocab.tokens.length,
    embedSize: 4,
    cell: { kind: "lstm", peephole: false, coupled: false },
    hiddenSize: 5,
    numLayers: 2,
    dropout: 0.25,
  };
  const model = createLanguageModel(config, dtype);
  const rng = Rng.seeded(seed);
  initLanguageModel(model, rng);
  const P = model.params.data.length;
  const m = allocate(dtype, P);
  const v = allocate(dtype, P);
  for (let i = 0; i < P; i++) {
    m[i] = rng.normal() * 1e-3;
    v[i] = rng.uniform() * 1e-6;
  }
  const L = config.numLayers;
  const B = 3;
  const H = config.hiddenSize;
  const h = allocate(dtype, L * B * H).map(() => rng.range(-1, 1));
  const c = allocate(dtype, L * B * H).map(() => rng.range(-2, 2));
  return {
    model: config,
    dtype,
    vocab,
    tensors: new Map<string, FloatArray>([
      ["params", model.params.data],
      ["optimizer.m", m],
      ["optimizer.v", v],
      ["carry.h", h],
      ["carry.c", c],
    ]),
    training: {
      options: { lr: 0.002, batch: 3, seqLen: 16, optimizer: "adam", data: "corpus.txt", split: [0.9, 0.05, 0.05] },
      progress: { step: 123, epoch: 2, position: 7, bestValLoss: 1.2345678901234567, elapsedMs: 98765.4321 },
      rng: rng.state(),
      optimizer: { kind: "adam", t: 123 },
      schedule: { kind: "plateau", best: 1.5, bad: 2 },
      carry: true,
    },
  };
}

function bytesOf(a: FloatArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function expectSameCheckpoint(got: Checkpoint, want: Checkpoint): void {
  expect(got.model).toEqual(want.model);
  expect(got.dtype).toBe(want.dtype);
  expect(got.vocab).toEqual(want.vocab);
  expect(got.training).toEqual(want.training);
  expect([...got.tensors.keys()]).toEqual([...want.tensors.keys()]);
  for (const [name, w] of want.tensors) {
    const g = got.tensors.get(name)!;
    expect(g.constructor, name).toBe(w.constructor);
    expect(g.length, name).toBe(w.length);
    expect(Buffer.from(bytesOf(g)).equals(Buffer.from(bytesOf(w))), `${name} bit-exact`).toBe(true);
  }
}

/** The header of encoded checkpoint bytes, parsed. */
function headerOf(bytes: Uint8Array): Record<string, any> {
  const N = new DataView(bytes.buffer, bytes.byteOffset).getUint32(12, true);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + N)));
}

/** Rebuilds a file around a replaced header (raw JSON text), keeping the payload, with a valid CRC. */
function withHeaderText(bytes: Uint8Array, json: string | Uint8Array): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const N = dv.getUint32(12, true);
  const payload = bytes.subarray(Math.ceil((16 + N) / 8) * 8, bytes.length - 4);
  const h = typeof json === "string" ? new TextEncoder().encode(json) : json;
  const P = Math.ceil((16 + h.length) / 8) * 8;
  const out = new Uint8Array(P + payload.length + 4);
  out.set(bytes.subarray(0, 12));
  new DataView(out.buffer).setUint32(12, h.length, true);
  out.set(h, 16);
  out.set(payload, P);
  return withValidCrc(out);
}

function withHeader(bytes: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const h = headerOf(bytes);
  edit(h);
  return withHeaderText(bytes, JSON.stringify(h));
}

function withValidCrc(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

/** The error message `decodeCheckpoint` throws (failing the test if it returns or throws a non-Error). */
function decodeError(bytes: Uint8Array, source = "run/ck.ckpt"): string {
  let thrown: unknown = undefined;
  try {
    decodeCheckpoint(bytes, source);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(Error);
  const msg = (thrown as Error).message;
  expect(msg).toContain(source);
  return msg;
}

describe("checkpoint codec", () => {
  it("computes the standard CRC-32 check value", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  for (const dtype of ["float32", "float64"] as const) {
    it(`round-trips a ${dtype} checkpoint bit for bit`, () => {
      const ck = makeCheckpoint(dtype);
      const bytes = encodeCheckpoint(ck);
      const back = decodeCheckpoint(bytes, "mem");
      expectSameCheckpoint(back, ck);
      // Encoding again gives the same bytes.
      expect(Buffer.from(encodeCheckpoint(back)).equals(Buffer.from(bytes))).toBe(true);
    });

    it(`keeps -0, subnormals, extremes and NaN payloads exactly (${dtype})`, () => {
      const ck = makeCheckpoint(dtype);
      const params = ck.tensors.get("params")!;
      const tiny = dtype === "float64" ? [5e-324, -5e-324, 2.2250738585072e-308, Number.MAX_VALUE] : [1.401298464324817e-45, -1.1754942106924411e-38, 3.4028234663852886e38];
      params[0] = -0;
      tiny.forEach((x, i) => (params[1 + i] = x));
      const m = ck.tensors.get("optimizer.m")!;
      m[0] = -0;
      m[1] = NaN;
      m[2] = Infinity;
      m[3] = -Infinity;
      // A NaN with a non-default payload, set through the bytes.
      const mb = bytesOf(m);
      if (dtype === "float64") new DataView(mb.buffer, mb.byteOffset).setUint32(4 * 8, 0x7ff00001, true);
      else new DataView(mb.buffer, mb.byteOffset).setUint32(4 * 4, 0x7fc01234, true);
      const back = decodeCheckpoint(encodeCheckpoint(ck), "mem");
      expectSameCheckpoint(back, ck);
      expect(Object.is(back.tensors.get("params")![0], -0)).toBe(true);
    });
  }

  it("aligns every tensor to 8 bytes and lays the file out as documented", () => {
    const ck = makeCheckpoint("float32");
    // An odd-length float32 tensor forces padding after it.
    const tensors = new Map(ck.tensors);
    tensors.set("optimizer.odd", Float32Array.of(1, 2, 3));
    tensors.set("empty", new Float32Array(0));
    tensors.set("carry.last", Float32Array.of(4));
    const bytes = encodeCheckpoint({ ...ck, tensors });
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe("UNROLLCK");
    const dv = new DataView(bytes.buffer);
    expect(dv.getUint32(8, true)).toBe(CHECKPOINT_VERSION);
    const N = dv.getUint32(12, true);
    const P = Math.ceil((16 + N) / 8) * 8;
    expect(P % 8).toBe(0);
    const h = headerOf(bytes);
    expect(Object.keys(h).sort()).toEqual(["dtype", "model", "tensors", "training", "vocab"]);
    for (const t of h.tensors) {
      expect(t.offset % 8).toBe(0);
      const a = tensors.get(t.name)!;
      expect(Buffer.from(bytes.subarray(P + t.offset, P + t.offset + a.byteLength)).equals(Buffer.from(bytesOf(a)))).toBe(true);
    }
    expect(dv.getUint32(bytes.length - 4, true)).toBe(crc32(bytes.subarray(0, bytes.length - 4)));
    expectSameCheckpoint(decodeCheckpoint(bytes, "mem"), { ...ck, tensors });
  });

  it("decodes into fresh arrays, not views of the input", () => {
    const ck = makeCheckpoint("float64");
    const bytes = encodeCheckpoint(ck);
    // Decode from an unaligned view inside a bigger buffer, as a Node Buffer pool may give.
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const input = big.subarray(3);
    const back = decodeCheckpoint(input, "mem");
    for (const a of back.tensors.values()) {
      expect(a.buffer).not.toBe(big.buffer);
      expect(a.byteOffset).toBe(0);
      expect(a.byteLength).toBe(a.buffer.byteLength);
    }
    const before = back.tensors.get("params")![0];
    big.fill(0);
    expect(back.tensors.get("params")![0]).toBe(before);
    expectSameCheckpoint(back, ck);
  });

  it("round-trips a checkpoint without training state, one-hot GRU, word vocabulary", () => {
    const vocab = { kind: "word" as const, tokens: ["<unk>", "<eos>", "a", "b", "c"], lowercase: true };
    const config: LanguageModelConfig = { vocabSize: 5, embedSize: 0, cell: { kind: "gru", resetAfter: false }, hiddenSize: 3, numLayers: 1, dropout: 0 };
    const model = createLanguageModel(config, "float32");
    initLanguageModel(model, Rng.seeded(3));
    const ck: Checkpoint = { model: config, dtype: "float32", vocab, tensors: new Map([["params", model.params.data]]), training: null };
    expectSameCheckpoint(decodeCheckpoint(encodeCheckpoint(ck), "mem"), ck);
  });

  it("round-trips hard-sigmoid cells (gate: \"hard-sigmoid\"); files without a gate, or gate \"sigmoid\", read as sigmoid", () => {
    for (const cell of [{ kind: "lstm", peephole: true, coupled: false, gate: "hard-sigmoid" }, { kind: "gru", resetAfter: false, gate: "hard-sigmoid" }] as const) {
      const ck = makeCheckpoint("float32");
      const model = createLanguageModel({ ...ck.model, cell }, "float32");
      initLanguageModel(model, Rng.seeded(4));
      const hard: Checkpoint = { ...ck, model: { ...ck.model, cell }, tensors: new Map([["params", model.params.data]]) };
      const bytes = encodeCheckpoint(hard);
      expect(headerOf(bytes).model.cell.gate).toBe("hard-sigmoid");
      expect(decodeCheckpoint(bytes, "mem").model.cell).toStrictEqual(cell);
    }
    // A checkpoint written before the field existed has no "gate": the logistic sigmoid.
    const old = encodeCheckpoint(makeCheckpoint("float32"));
    expect("gate" in headerOf(old).model.cell).toBe(false);
    expect(decodeCheckpoint(old, "mem").model.cell).toStrictEqual({ kind: "lstm", peephole: false, coupled: false });
    const explicit = withHeader(old, (h) => (h.model.cell.gate = "sigmoid"));
    expect(decodeCheckpoint(explicit, "mem").model.cell).toStrictEqual({ kind: "lstm", peephole: false, coupled: false });
    expect(decodeError(withHeader(old, (h) => (h.model.cell.gate = "relu6")))).toMatch(/model.cell.gate must be one of sigmoid, hard-sigmoid \(or absent: sigmoid\), got "relu6"/);
  });

  it("refuses to encode a checkpoint it could not read back", () => {
    const ck = makeCheckpoint("float32");
    const withParams = (p: FloatArray) => ({ ...ck, tensors: new Map([...ck.tensors, ["params", p]]) });
    const nan = ck.tensors.get("params")!.slice();
    nan[5] = NaN;
    expect(() => encodeCheckpoint(withParams(nan))).toThrow(/non-finite value \(NaN\) at flat index 5.*training diverged/);
    expect(() => encodeCheckpoint(withParams(new Float32Array(3)))).toThrow(/"params" holds 3 values but this model .* has \d+ parameters/);
    expect(() => encodeCheckpoint(withParams(new Float64Array(ck.tensors.get("params")!.length)))).toThrow(/"params" is float64 but the checkpoint's dtype is float32/);
    expect(() => encodeCheckpoint({ ...ck, tensors: new Map() })).toThrow(/no "params" tensor/);
    expect(() => encodeCheckpoint({ ...ck, vocab: { kind: "char", tokens: ["a"] } })).toThrow(/vocabulary has 1 tokens but model.vocabSize is/);
    expect(() => encodeCheckpoint({ ...ck, model: { ...ck.model, hiddenSize: 0 } })).toThrow(/encodeCheckpoint: invalid checkpoint: model.hiddenSize/);
    const t = ck.training!;
    expect(() => encodeCheckpoint({ ...ck, training: { ...t, progress: { ...t.progress, bestValLoss: Infinity } } })).toThrow(/bestValLoss/);
    expect(() => encodeCheckpoint({ ...ck, training: { ...t, options: { lr: NaN } } })).toThrow(/"lr" is NaN, which JSON cannot store/);
  });
});

describe("checkpoint decoding rejects damaged or foreign files with clear errors", () => {
  const good = encodeCheckpoint(makeCheckpoint("float32"));

  it("a flipped byte in the payload is a checksum error", () => {
    for (const at of [good.length >> 1, good.length - 20, 14 + 200, good.length - 2]) {
      const bad = good.slice();
      bad[at] ^= 0x10;
      expect(decodeError(bad)).toMatch(/corrupt: checksum mismatch .*use an earlier checkpoint/);
    }
  });

  it("a truncated file says so, at every length", () => {
    expect(decodeError(good.subarray(0, 0))).toMatch(/empty/);
    const N = new DataView(good.buffer).getUint32(12, true);
    const cuts = [3, 8, 12, 16, 19, 20, 16 + N - 1, 16 + N, 16 + N + 9, good.length >> 1, good.length - 5, good.length - 4, good.length - 1];
    for (const n of cuts) expect(decodeError(good.subarray(0, n)), `length ${n}`).toMatch(/truncated: the file holds \d+ bytes.*interrupted/);
    // Every length gives an Error, never anything else.
    for (let n = 0; n < good.length; n++) decodeError(good.subarray(0, n));
  });

  it("a file that is not a checkpoint says what it seems to be", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(decodeError(enc('{"model": {"vocabSize": 3}}'))).toMatch(/not an unroll checkpoint \(it looks like a JSON file/);
    expect(decodeError(enc('\n  [1, 2, 3]'))).toMatch(/not an unroll checkpoint \(it looks like a JSON file/);
    const st = new Uint8Array(64);
    new DataView(st.buffer).setUint32(0, 40, true);
    st.set(enc('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}').subarray(0, 56), 8);
    expect(decodeError(st)).toMatch(/safetensors/);
    expect(decodeError(Uint8Array.of(0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0))).toMatch(/zip archive.*PyTorch/);
    expect(decodeError(Uint8Array.of(0x08, 0x07, 0x12, 0x07, 0x70, 0x79, 0x74, 0x6f, 0x72, 0x63, 0x68))).toMatch(/ONNX/);
    expect(decodeError(Uint8Array.of(0x80, 0x02, 0x8a, 0x0a))).toMatch(/pickle/);
    expect(decodeError(enc("First Citizen:\nBefore we proceed any further"))).toMatch(/text file/);
    const wrong = good.slice();
    wrong.set(enc("UNROLLCX"));
    expect(decodeError(wrong)).toMatch(/not an unroll checkpoint \(it starts with bytes 55 4e 52 4f 4c 4c 43 58/);
  });

  it("a newer format version asks for an upgrade", () => {
    const v99 = good.slice();
    new DataView(v99.buffer).setUint32(8, 99, true);
    expect(decodeError(withValidCrc(v99))).toMatch(/written by a newer unroll \(checkpoint format version 99; this unroll reads versions up to 1\); upgrade/);
    expect(decodeError(v99)).toMatch(/newer unroll/); // even before the checksum
    const v0 = good.slice();
    new DataView(v0.buffer).setUint32(8, 0, true);
    expect(decodeError(withValidCrc(v0))).toMatch(/invalid checkpoint format version 0/);
  });

  it("a header that is not JSON, or not UTF-8, is corrupt", () => {
    expect(decodeError(withHeaderText(good, '{"model": '))).toMatch(/corrupt: the checkpoint header is not valid UTF-8 JSON/);
    expect(decodeError(withHeaderText(good, Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d)))).toMatch(/not valid UTF-8 JSON/);
    expect(decodeError(withHeaderText(good, "[]"))).toMatch(/invalid checkpoint header: the header must be an object/);
    expect(decodeError(withHeaderText(good, "null"))).toMatch(/the header must be an object/);
  });

  it("a header length running past the end (with a valid checksum) is rejected", () => {
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(12, good.length, true);
    expect(decodeError(withValidCrc(bad))).toMatch(/invalid checkpoint header: the header length \d+ runs past the end of the \d+-byte file/);
  });

  it("a header lying about its tensors (with a valid checksum) is rejected", () => {
    const find = (h: Record<string, any>, name: string) => h.tensors.find((t: { name: string }) => t.name === name);
    const cases: [string, (h: Record<string, any>) => void, RegExp][] = [
      ["params longer", (h) => (find(h, "params").length += 2), /tensor "optimizer.m" .* overlaps the tensor before it/],
      ["last tensor longer", (h) => (h.tensors.at(-1).length += 100), /tensor "carry.c" .* lies outside the payload/],
      ["offset past the end", (h) => (find(h, "carry.h").offset = 1 << 30), /lies outside the payload/],
      ["huge length", (h) => (find(h, "carry.h").length = 2 ** 52), /lies outside the payload/],
      ["misaligned offset", (h) => (find(h, "carry.h").offset += 4), /starts at byte \d+, not a multiple of 8/],
      ["negative offset", (h) => (find(h, "carry.h").offset = -8), /offset must be an integer ≥ 0, got -8/],
      ["fractional length", (h) => (find(h, "params").length = 1.5), /length must be an integer ≥ 0, got 1.5/],
      ["overlap", (h) => (find(h, "optimizer.v").offset = find(h, "optimizer.m").offset), /overlaps/],
      ["tensor dropped", (h) => h.tensors.pop(), /the payload holds \d+ bytes but its tensors account for \d+/],
      ["unknown dtype", (h) => (find(h, "optimizer.m").dtype = "bfloat16"), /tensor "optimizer.m" has unknown dtype "bfloat16"/],
      ["duplicate name", (h) => (find(h, "carry.c").name = "carry.h"), /tensor "carry.h" appears twice/],
      ["no params", (h) => (find(h, "params").name = "weights"), /no "params" tensor \(it holds: weights/],
      ["tensors missing", (h) => delete h.tensors, /tensors must be an array, got nothing \(missing\)/],
      ["model missing", (h) => delete h.model, /model must be an object, got nothing \(missing\)/],
      ["model field ill-typed", (h) => (h.model.hiddenSize = "5"), /model.hiddenSize must be an integer ≥ 1, got "5"/],
      ["unknown cell", (h) => (h.model.cell = { kind: "transformer" }), /model.cell.kind must be "rnn", "lstm" or "gru", got "transformer"/],
      ["cell field ill-typed", (h) => (h.model.cell.peephole = "yes"), /model.cell.peephole must be true or false/],
      ["bad dropout", (h) => (h.model.dropout = 1.5), /bad model configuration: dropout must be in \[0, 1\)/],
      ["params size ≠ model", (h) => (h.model.numLayers = 1), /"params" holds \d+ values but this model \(hidden 5, 1 layers, lstm\) has \d+ parameters/],
      ["vocab size ≠ model", (h) => h.vocab.tokens.pop(), /the vocabulary has \d+ tokens but model.vocabSize is \d+/],
      ["vocab ill-typed", (h) => (h.vocab = { kind: "char", tokens: [1, 2] }), /the vocabulary must be/],
      ["unknown top dtype", (h) => (h.dtype = "float16"), /dtype must be "float32" or "float64", got "float16"/],
      ["dtype ≠ params dtype", (h) => (h.dtype = "float64"), /"params" is float32 but the checkpoint's dtype is float64/],
      ["training missing", (h) => delete h.training, /training is missing/],
      ["negative step", (h) => (h.training.progress.step = -1), /training.progress.step must be an integer ≥ 0, got -1/],
      ["rng ill-typed", (h) => (h.training.rng = ["x"]), /training.rng must be an array of integers/],
      ["carry ill-typed", (h) => (h.training.carry = 1), /training.carry must be true or false, got 1/],
      ["optimizer missing", (h) => delete h.training.optimizer, /training.optimizer must be an object/],
    ];
    for (const [what, edit, want] of cases) {
      const msg = decodeError(withHeader(good, edit));
      expect(msg, what).toMatch(want);
    }
  });

  it("non-finite parameters are rejected, naming the index", () => {
    const ck = makeCheckpoint("float64");
    const bytes = encodeCheckpoint(ck);
    const h = headerOf(bytes);
    const N = new DataView(bytes.buffer).getUint32(12, true);
    const P = Math.ceil((16 + N) / 8) * 8;
    const at = P + h.tensors.find((t: { name: string }) => t.name === "params").offset + 8 * 7;
    const bad = bytes.slice();
    new DataView(bad.buffer).setFloat64(at, Infinity, true);
    expect(decodeError(withValidCrc(bad))).toMatch(/non-finite value \(Infinity\) at flat index 7; training diverged/);
  });

  it("fuzz: random mutations and truncations always decode or throw an Error", () => {
    const base = encodeCheckpoint(makeCheckpoint("float32"));
    const rng = Rng.seeded(20240607);
    let decoded = 0;
    for (let iter = 0; iter < 400; iter++) {
      let b: Uint8Array = base.slice();
      const edits = 1 + rng.int(4);
      for (let k = 0; k < edits; k++) {
        const r = rng.int(6);
        if (r === 0) b = b.subarray(0, rng.int(b.length + 1)).slice();
        else if (r === 1 && b.length > 0) b[rng.int(b.length)] ^= 1 << rng.int(8);
        else if (r === 2 && b.length > 0) b[rng.int(Math.min(b.length, 400))] = rng.int(256); // preamble and header
        else if (r === 3) {
          const at = rng.int(b.length + 1);
          const ins = Uint8Array.from({ length: 1 + rng.int(9) }, () => rng.int(256));
          b = Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
        } else if (r === 4 && b.length > 0) {
          const at = rng.int(b.length);
          b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + rng.int(9))]);
        } else if (b.length > 0) b[12 + rng.int(4)] = rng.int(256); // header length
      }
      // Half the time, make the checksum valid so the parser behind it is exercised too.
      if (rng.int(2) === 0 && b.length >= 4) b = withValidCrc(b);
      try {
        const ck = decodeCheckpoint(b, "fuzz.ckpt");
        expect(ck.tensors.get("params")).toBeDefined();
        decoded++;
      } catch (e) {
        expect(e, `iteration ${iter}`).toBeInstanceOf(Error);
        expect((e as Error).message).toContain("fuzz.ckpt");
      }
    }
    expect(decoded).toBeLessThan(400);
  });
});

describe("checkpoint files", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "unroll-ckpt-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes, overwrites and reads back", () => {
    const path = join(dir, "latest.ckpt");
    const a = makeCheckpoint("float32", 1);
    const b = makeCheckpoint("float32", 2);
    writeCheckpointFile(path, a);
    expectSameCheckpoint(readCheckpointFile(path), a);
    writeCheckpointFile(path, b);
    expectSameCheckpoint(readCheckpointFile(path), b);
    expect(readdirSync(dir)).toEqual(["latest.ckpt"]);
  });

  /** node:fs with `writeSync` replaced; records every path opened. */
  function fsWith(over: Partial<CheckpointFs>, opened: string[] = []): CheckpointFs {
    return {
      openSync: (p, flags, mode) => {
        opened.push(p);
        return fs.openSync(p, flags, mode);
      },
      writeSync: (fd, buf, off, len, pos) => fs.writeSync(fd, buf, off, len, pos),
      fsyncSync: fs.fsyncSync,
      closeSync: fs.closeSync,
      renameSync: fs.renameSync,
      unlinkSync: fs.unlinkSync,
      ...over,
    };
  }

  it("a crash midway through a write keeps the previous checkpoint byte-identical and leaves no temp file", () => {
    const path = join(dir, "best.ckpt");
    writeCheckpointFile(path, makeCheckpoint("float32", 1));
    const before = readFileSync(path);
    const opened: string[] = [];
    const crashing = fsWith(
      {
        writeSync: (fd, buf, off, len, pos) => {
          writeSync(fd, buf, off, len >> 1, pos); // half the bytes reach the disk…
          throw new Error("simulated crash"); // …then the process dies
        },
      },
      opened,
    );
    expect(() => writeCheckpointFile(path, makeCheckpoint("float32", 2), crashing)).toThrow(/best\.ckpt: cannot write the checkpoint \(any previous file there is unchanged\): simulated crash/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(["best.ckpt"]);
    // The target itself was never opened for writing: only a temp file beside it.
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatch(new RegExp(`^${path.replace(/[.\\]/g, "\\$&")}\\.tmp-${process.pid}-[0-9a-f]+$`));
    expectSameCheckpoint(readCheckpointFile(path), makeCheckpoint("float32", 1));
  });

  it("short writes are completed, and failures at fsync or rename also clean up", () => {
    const path = join(dir, "ck.ckpt");
    const short = fsWith({ writeSync: (fd, buf, off, len, pos) => fs.writeSync(fd, buf, off, Math.min(len, 1000), pos) });
    writeCheckpointFile(path, makeCheckpoint("float64", 1), short);
    expectSameCheckpoint(readCheckpointFile(path), makeCheckpoint("float64", 1));
    const before = readFileSync(path);
    const fail = (what: string) => () => {
      throw Object.assign(new Error(`${what} failed`), { code: "EIO" });
    };
    for (const broken of [fsWith({ fsyncSync: fail("fsync") }), fsWith({ renameSync: fail("rename") }), fsWith({ writeSync: () => 0 })]) {
      expect(() => writeCheckpointFile(path, makeCheckpoint("float64", 2), broken)).toThrow(/ck\.ckpt: cannot write the checkpoint/);
      expect(readFileSync(path).equals(before)).toBe(true);
      expect(readdirSync(dir)).toEqual(["ck.ckpt"]);
    }
  });

  it("an unwritable folder or an invalid checkpoint fails with the path and no leftovers", () => {
    const missing = join(dir, "no-such-folder", "ck.ckpt");
    expect(() => writeCheckpointFile(missing, makeCheckpoint("float32"))).toThrow(/no-such-folder.ck\.ckpt: cannot write the checkpoint/);
    const ck = makeCheckpoint("float32");
    const path = join(dir, "ck.ckpt");
    expect(() => writeCheckpointFile(path, { ...ck, tensors: new Map() })).toThrow(/ck\.ckpt: cannot save the checkpoint: .*no "params" tensor/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("reading names the path: missing, a folder, not a checkpoint, damaged", () => {
    const missing = join(dir, "nope.ckpt");
    expect(() => readCheckpointFile(missing)).toThrow(`no such checkpoint: ${missing}`);
    expect(() => readCheckpointFile(dir)).toThrow(/is a folder, not a checkpoint file/);
    const json = join(dir, "weights.json");
    writeFileSync(json, '{"lstm.weight_ih_l0": []}');
    expect(() => readCheckpointFile(json)).toThrow(`${json}: not an unroll checkpoint (it looks like a JSON file`);
    const torn = join(dir, "torn.ckpt");
    writeFileSync(torn, encodeCheckpoint(makeCheckpoint("float32")).subarray(0, 500));
    expect(() => readCheckpointFile(torn)).toThrow(`${torn}: truncated`);
  });
});
