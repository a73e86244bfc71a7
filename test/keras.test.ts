// TF.js / Keras layers models: every fixture of test/fixtures/tfjs (written by TF.js 4.22 itself,
// see generate.mjs there) loads and reproduces TF.js's predict() outputs — hard_sigmoid, TF.js's
// default gates, on every backend; broken models fail with errors that name the layer.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { jsBackend, referenceBackend } from "../src/backend/js/index.js";
import { backendNames, getBackend } from "../src/backend/select.js";
import { cellName, hardSigmoid, type LstmCache } from "../src/cells/index.js";
import { bindRecurrent, transposeTB } from "../src/sequence/recurrent.js";
import { unrollForward } from "../src/sequence/unroll.js";
import "../src/node/native-backend.js"; // registers "native" when the addon is built, so the hard_sigmoid fixture runs on it too
import { forward } from "../src/api/recurrent-layer.js";
import { tensor } from "../src/api/tensor.js";
import { kerasToRecurrentLayers, parseTfjsModel, readTfjsManifest, runKerasModel, type KerasModel } from "../src/io/keras.js";
import { loadTfjsModel } from "../src/node/tfjs-files.js";
import type { DType } from "../src/tensor/dtype.js";

const dir = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "tfjs");
const fixtures = readdirSync(dir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

interface Expected {
  input: { dtype: string; shape: number[]; data: number[] };
  output: { shape: number[]; data: number[] };
}

const expectedOf = (name: string): Expected => JSON.parse(readFileSync(join(dir, name, "expected.json"), "utf8"));
const inputOf = (e: Expected) => (e.input.dtype === "int32" ? Int32Array.from(e.input.data) : Float32Array.from(e.input.data));

/** max over elements of |a − b| / (1e-5 + 1e-4·|b|): ≤ 1 passes. */
function worstRatio(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1e-5 + 1e-4 * Math.abs(b[i])));
  return worst;
}

/** model.json and the concatenated shards of fixture `name`, in memory, to break on purpose. */
function raw(name: string): { json: any; data: Uint8Array } {
  const json = JSON.parse(readFileSync(join(dir, name, "model.json"), "utf8"));
  const parts = json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => readFileSync(join(dir, name, p))));
  const data = new Uint8Array(parts.reduce((n: number, p: Uint8Array) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.byteLength;
  }
  return { json, data };
}

describe("TF.js layers models (fixtures from @tensorflow/tfjs 4.22)", () => {
  it("ships the eight fixtures", () => {
    expect(fixtures).toEqual(["bidirectional", "bidirectional_merge", "functional", "gru_reset_after", "gru_reset_before", "hard_sigmoid", "lstm_stack", "simple_rnn_relu"]);
  });

  for (const name of fixtures) {
    for (const dtype of ["float32", "float64"] as DType[]) {
      it(`${name} (${dtype}) matches TF.js's predict() within 1e-5 + 1e-4·|b|`, () => {
        const e = expectedOf(name);
        const model = loadTfjsModel(join(dir, name, "model.json"), { dtype });
        for (const backend of [jsBackend, referenceBackend]) {
          const out = runKerasModel(model, inputOf(e), e.input.shape, backend);
          expect(out.shape).toEqual(e.output.shape);
          expect(worstRatio(out.data, e.output.data)).toBeLessThanOrEqual(1);
        }
      });
    }
  }

  it("maps the layers as expected", () => {
    const kinds = (m: KerasModel) => m.layers.map((l) => (l.kind === "recurrent" ? `${l.className}${l.config.bidirectional ? `-bi-${l.mergeMode}` : ""}` : l.kind));
    expect(kinds(loadTfjsModel(join(dir, "lstm_stack", "model.json")))).toEqual(["embedding", "LSTM", "LSTM", "dense"]);
    expect(kinds(loadTfjsModel(join(dir, "bidirectional", "model.json")))).toEqual(["embedding", "LSTM-bi-concat", "GRU-bi-sum", "dense"]);
    const f = loadTfjsModel(join(dir, "functional", "model.json"));
    expect(kinds(f)).toEqual(["LSTM", "dense", "SimpleRNN", "dense", "activation"]);
    expect(f.skipped).toHaveLength(1);
    expect(f.input).toEqual({ kind: "features", T: 6, I: 3 });
    const after = loadTfjsModel(join(dir, "gru_reset_after", "model.json")).layers[0];
    const before = loadTfjsModel(join(dir, "gru_reset_before", "model.json")).layers[0];
    expect(after.kind === "recurrent" && after.config.cell).toEqual({ kind: "gru", resetAfter: true });
    expect(before.kind === "recurrent" && before.config.cell).toEqual({ kind: "gru", resetAfter: false });
    const [lstm, gru] = loadTfjsModel(join(dir, "hard_sigmoid", "model.json")).layers;
    expect(lstm.kind === "recurrent" && lstm.config.cell).toStrictEqual({ kind: "lstm", peephole: false, coupled: false, gate: "hard-sigmoid" });
    expect(gru.kind === "recurrent" && gru.config.cell).toStrictEqual({ kind: "gru", resetAfter: false, gate: "hard-sigmoid" });
    expect(before.kind === "recurrent" && "gate" in before.config.cell).toBe(false); // sigmoid: no gate field
  });

  it("a batch of B gives the same rows as B batches of 1", () => {
    const e = expectedOf("bidirectional");
    const model = loadTfjsModel(join(dir, "bidirectional", "model.json"));
    const [B, T] = e.input.shape;
    const all = runKerasModel(model, inputOf(e), e.input.shape);
    const F = all.shape[1];
    for (let b = 0; b < B; b++) {
      const one = runKerasModel(model, Int32Array.from(e.input.data.slice(b * T, (b + 1) * T)), [1, T]);
      expect(Array.from(one.data)).toEqual(Array.from(all.data.subarray(b * F, (b + 1) * F)));
    }
  });

  it("kerasToRecurrentLayers gives RecurrentLayers that compute the same sequence", () => {
    // gru_reset_after: GRU(4, return_sequences) → Dense(2, tanh); drop the Dense and compare.
    const e = expectedOf("gru_reset_after");
    const model = loadTfjsModel(join(dir, "gru_reset_after", "model.json"));
    const gruOnly: KerasModel = { ...model, layers: model.layers.slice(0, 1) };
    const [{ layer, returnSequences, goBackwards }] = kerasToRecurrentLayers(model);
    expect([returnSequences, goBackwards]).toEqual([true, false]);
    const y = forward(layer, tensor(Float32Array.from(e.input.data), e.input.shape), { batchFirst: true }).y;
    expect(Array.from(y.data)).toEqual(Array.from(runKerasModel(gruOnly, inputOf(e), e.input.shape).data));
  });

  it("reads the manifest: groups, paths and byte ranges", () => {
    const m = readTfjsManifest(raw("lstm_stack").json);
    expect(m.groups).toHaveLength(1);
    expect(m.groups[0].paths).toEqual(["./group1-shard1of2.bin", "./group1-shard2of2.bin"]);
    expect(m.byteLength).toBe(1676);
    expect(m.weights[0]).toMatchObject({ name: expect.stringMatching(/\/embeddings$/), shape: [11, 4], offset: 0, byteLength: 176 });
  });
});

describe("hard_sigmoid gates (TF.js's default recurrentActivation), fixture hard_sigmoid", () => {
  const e = expectedOf("hard_sigmoid");
  const x = inputOf(e) as Float32Array;
  const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  };

  it("is clip(0.2·x + 0.5, 0, 1) as tfjs-layers' K.hardSigmoid, ends included", () => {
    expect([-3, -2.5, -1, 0, 1, 2.5, 3].map(hardSigmoid)).toEqual([0, 0, 0.2 * -1 + 0.5, 0.5, 0.2 + 0.5, 1, 1]);
  });

  for (const name of backendNames()) {
    it(`parseTfjsModel + runKerasModel match TF.js's predict() within 1e-5 (float32, backend ${name})`, () => {
      const { json, data } = raw("hard_sigmoid");
      const model = parseTfjsModel(json, data, "hard_sigmoid/model.json");
      const out = runKerasModel(model, x, e.input.shape, getBackend(name));
      expect(out.shape).toEqual(e.output.shape);
      const err = maxAbs(out.data, e.output.data);
      console.log(`hard_sigmoid fixture, backend ${name}, float32: max |unroll − TF.js| = ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-5);
    });
  }

  it("the fixture exercises both the clipped and the linear part of the gates", () => {
    const model = loadTfjsModel(join(dir, "hard_sigmoid", "model.json"));
    const l = model.layers[0];
    if (l.kind !== "recurrent") throw new Error("layer 0 is the LSTM");
    const [B, T, I] = e.input.shape;
    const r = bindRecurrent(l.config, l.params);
    const H = l.config.hiddenSize;
    const run = unrollForward(referenceBackend, r.cell, r.dirs[0], "float32", { T, B, H }, I, transposeTB(x, B, T, I), new Float32Array(B * H), new Float32Array(B * H), false);
    const gates = (run.cell as LstmCache).gates;
    let clipped = 0;
    let inside = 0;
    for (let n = 0; n < gates.length; n++) {
      if (n % (4 * H) >= 2 * H && n % (4 * H) < 3 * H) continue; // the g block is tanh
      if (gates[n] === 0 || gates[n] === 1) clipped++;
      else inside++;
    }
    expect(clipped / (clipped + inside)).toBeGreaterThan(0.1);
    expect(inside / (clipped + inside)).toBeGreaterThan(0.1);
    // The logistic sigmoid in its place is far from TF.js: the gate function matters here.
    const asSigmoid: KerasModel = {
      ...model,
      layers: model.layers.map((k) => (k.kind === "recurrent" ? { ...k, config: { ...k.config, cell: { ...k.config.cell, gate: "sigmoid" } } } : k)) as KerasModel["layers"],
    };
    expect(maxAbs(runKerasModel(asSigmoid, x, e.input.shape).data, e.output.data)).toBeGreaterThan(1e-2);
  });

  it("recurrent_activation absent (TF.js's default), 'hardSigmoid' and { class_name: 'HardSigmoid' } read the same", () => {
    const want = Array.from(runKerasModel(loadTfjsModel(join(dir, "hard_sigmoid", "model.json")), x, e.input.shape).data);
    for (const v of [undefined, "hardSigmoid", { class_name: "HardSigmoid", config: {} }]) {
      const { json, data } = raw("hard_sigmoid");
      for (const layer of json.modelTopology.config.layers.slice(0, 2)) {
        if (v === undefined) delete layer.config.recurrent_activation;
        else layer.config.recurrent_activation = v;
      }
      expect(Array.from(runKerasModel(parseTfjsModel(json, data), x, e.input.shape).data)).toEqual(want);
    }
  });

  it("kerasToRecurrentLayers keeps the gate: -hard RecurrentLayers that compute the same sequence", () => {
    const model = loadTfjsModel(join(dir, "hard_sigmoid", "model.json"));
    const layers = kerasToRecurrentLayers(model, "reference");
    expect(layers.map((l) => cellName(l.layer.config.cell))).toEqual(["lstm-hard", "gru-cho-hard"]);
    const y = forward(layers[0].layer, tensor(x, e.input.shape), { batchFirst: true }).y;
    expect(Array.from(y.data)).toEqual(Array.from(runKerasModel({ ...model, layers: model.layers.slice(0, 1) }, x, e.input.shape, referenceBackend).data));
  });
});

describe("TF.js model errors", () => {
  const tmp = mkdtempSync(join(tmpdir(), "unroll-tfjs-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("a missing weight names the layer and the weight", () => {
    const { json, data } = raw("simple_rnn_relu");
    const ws = json.weightsManifest[0].weights;
    const gone = ws.splice(1, 1)[0]; // the SimpleRNN's recurrent_kernel
    const bytes = gone.shape.reduce((a: number, b: number) => a * b, 1) * 4;
    const off = 4 * ws[0].shape.reduce((a: number, b: number) => a * b, 1);
    const cut = new Uint8Array(data.byteLength - bytes);
    cut.set(data.subarray(0, off));
    cut.set(data.subarray(off + bytes), off);
    expect(() => parseTfjsModel(json, cut)).toThrow(/layer "simple_rnn_\w+" \(SimpleRNN\) needs weight "recurrent_kernel" of shape \(6, 6\)/);
  });

  it("a wrong shape names the weight, its shape and the one expected", () => {
    const { json, data } = raw("lstm_stack");
    const k = json.weightsManifest[0].weights[1]; // first LSTM kernel (4, 20)
    expect(k.shape).toEqual([4, 20]);
    k.shape = [20, 4];
    expect(() => parseTfjsModel(json, data)).toThrow(/\(LSTM\): weight "lstm_\w+\/kernel" has shape \(20, 4\), but the layer's config needs \(4, 20\)/);
  });

  it("a truncated shard is refused, in memory and on disk", () => {
    const { json, data } = raw("lstm_stack");
    expect(() => parseTfjsModel(json, data.subarray(0, data.byteLength - 8))).toThrow(/holds 1668 bytes.*need 1676.*truncated or missing/);
    const d = join(tmp, "truncated");
    mkdirSync(d);
    for (const f of readdirSync(join(dir, "lstm_stack"))) copyFileSync(join(dir, "lstm_stack", f), join(d, f));
    const shard = join(d, "group1-shard2of2.bin");
    writeFileSync(shard, readFileSync(shard).subarray(0, 100));
    expect(() => loadTfjsModel(join(d, "model.json"))).toThrow(/group1-shard2of2\.bin: 100 bytes.*need 1676.*truncated/);
    rmSync(shard);
    expect(() => loadTfjsModel(join(d, "model.json"))).toThrow(/weight shard "\.\/group1-shard2of2\.bin".*not found/);
  });

  it("an unsupported layer (Conv2D) is named, with what is supported", () => {
    const { json, data } = raw("simple_rnn_relu");
    json.modelTopology.config.layers.splice(1, 0, { class_name: "Conv2D", config: { name: "conv2d_1", filters: 2, kernel_size: [3, 3] } });
    expect(() => parseTfjsModel(json, data)).toThrow(/layer "conv2d_1" \(Conv2D\) is not supported; unroll imports InputLayer, Embedding, SimpleRNN, LSTM, GRU/);
  });

  it("recurrent activations other than sigmoid and hard_sigmoid are refused with the fix; Keras 3's hard_sigmoid too", () => {
    const { json, data } = raw("gru_reset_before");
    json.modelTopology.config.layers[0].config.recurrent_activation = "tanh";
    expect(() => parseTfjsModel(json, data)).toThrow(/\(GRU\) uses recurrent_activation "tanh".*recurrentActivation: 'sigmoid'/);
    // Keras 3's hard_sigmoid is relu6(x + 3) / 6, another function under the same name.
    const keras3 = raw("hard_sigmoid");
    keras3.json.modelTopology.keras_version = "3.6.0";
    expect(() => parseTfjsModel(keras3.json, keras3.data)).toThrow(/\(LSTM\) uses recurrent_activation "hard_sigmoid" from Keras 3, whose hard_sigmoid is relu6\(x \+ 3\) \/ 6.*recurrent_activation='sigmoid'/);
    const policy = raw("hard_sigmoid");
    policy.json.modelTopology.config.layers[1].config.dtype = { module: "keras", class_name: "DTypePolicy", config: { name: "float32" }, registered_name: null };
    expect(() => parseTfjsModel(policy.json, policy.data)).toThrow(/\(GRU\) uses recurrent_activation "hard_sigmoid" from Keras 3/);
    // … but Keras 3's sigmoid is everyone's sigmoid.
    const sigmoid3 = raw("gru_reset_before");
    sigmoid3.json.modelTopology.keras_version = "3.6.0";
    expect(() => parseTfjsModel(sigmoid3.json, sigmoid3.data)).not.toThrow();
  });

  it("refuses options it cannot reproduce", () => {
    const cases: [string, (j: any) => void, RegExp][] = [
      ["lstm_stack", (j) => (j.modelTopology.config.layers[1].config.return_state = true), /return_state: true/],
      ["lstm_stack", (j) => (j.modelTopology.config.layers[2].config.stateful = true), /stateful: true/],
      ["lstm_stack", (j) => (j.modelTopology.config.layers[1].config.activation = "relu"), /LSTM\) uses activation "relu"; unroll's LSTM uses tanh only/],
      ["lstm_stack", (j) => (j.modelTopology.config.layers[3].config.activation = "elu"), /Dense\) uses activation "elu"/],
      ["lstm_stack", (j) => (j.modelTopology.config.layers[1].config.return_sequences = false), /\(LSTM\) needs a 3-D input.*set return_sequences: true/],
      ["bidirectional", (j) => (j.modelTopology.config.layers[1].config.layer.config.go_backwards = true), /go_backwards: true/],
      ["bidirectional", (j) => (j.modelTopology.config.layers[2].config.merge_mode = null), /merge_mode null/],
      ["simple_rnn_relu", (j) => (j.weightsManifest[0].weights[0].quantization = { dtype: "uint8", scale: 1, min: 0 }), /quantized/],
      ["simple_rnn_relu", (j) => (j.format = "graph-model"), /graph model/],
      ["functional", (j) => (j.modelTopology.config.layers[2].inbound_nodes = [[["input1", 0, 0, {}]]]), /not a single chain.*reads "input1"/],
      ["simple_rnn_relu", (j) => (j.modelTopology.config.layers[1].config.units = 3), /Dense\): weight "dense_\w+\/kernel" has shape \(6, 2\), but the layer's config needs \(6, 3\)/],
    ];
    for (const [name, edit, message] of cases) {
      const { json, data } = raw(name);
      edit(json);
      expect(() => parseTfjsModel(json, data), message.source).toThrow(message);
    }
  });

  it("a weight no layer uses is refused", () => {
    const { json, data } = raw("simple_rnn_relu");
    json.weightsManifest[0].weights.push({ name: "extra/kernel", shape: [1], dtype: "float32" });
    const more = new Uint8Array(data.byteLength + 4);
    more.set(data);
    expect(() => parseTfjsModel(json, more)).toThrow(/weights no layer uses: extra\/kernel/);
  });

  it("checks inputs: shape, sequence length, ids, masking", () => {
    const model = loadTfjsModel(join(dir, "lstm_stack", "model.json"));
    expect(() => runKerasModel(model, new Int32Array(12), [2, 6, 1])).toThrow(/reads token ids \(batch, 6\)/);
    expect(() => runKerasModel(model, new Int32Array(10), [2, 5])).toThrow(/sequences of length 6/);
    expect(() => runKerasModel(model, Int32Array.from({ length: 6 }, () => 11), [1, 6])).toThrow(/token id 11 at position 0 is out of range/);
    const features = loadTfjsModel(join(dir, "simple_rnn_relu", "model.json"));
    expect(() => runKerasModel(features, new Float32Array(10), [1, 5, 2])).toThrow(/reads 3 features per step/);
    expect(() => runKerasModel(features, new Float32Array(15).fill(NaN), [1, 5, 3])).toThrow(/NaN/);

    const { json, data } = raw("lstm_stack");
    json.modelTopology.config.layers[0].config.mask_zero = true;
    const masked = parseTfjsModel(json, data);
    expect(() => runKerasModel(masked, new Int32Array(6), [1, 6])).toThrow(/mask_zero: true and the input holds id 0/);
    const e = expectedOf("lstm_stack");
    if (!e.input.data.includes(0)) expect(worstRatio(runKerasModel(masked, inputOf(e), e.input.shape).data, e.output.data)).toBeLessThanOrEqual(1);
  });
});
