// TF.js 4.22 at T1, ported from the JS anchors (shared/anchors/js/bench/tfjs_train.js, tf_setup.js):
//   layers-fit: stock tf.sequential [embedding | one-hot dense, lstm, lstm, dense on the 3-D tensor],
//               model.compile + model.trainOnBatch, softmax cross-entropy on logits
//   ops:        hand-written time-major LSTM from public ops; every matMul in tf.customGrad so the
//               backward uses explicit transposes + plain matMuls (the wasm transposed-matMul
//               cliff), U^T hoisted out of the time loop; optimizer.minimize
// Both: recurrentActivation sigmoid, Adam 2e-3. On wasm the embedding is a bias-free dense layer
// on one-hot input (wasm lacks UnsortedSegmentSum, the gather gradient); elsewhere tf.gather.
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths, getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { T1, encode, makeCorpus, timeSteps } from "./lib.js";

async function loadTf(backend) {
  const info = { backend, tfjs: tf.version.tfjs };
  if (backend === "wasm") setWasmPaths("/tfjs-wasm/");
  const ok = await tf.setBackend(backend);
  await tf.ready();
  if (!ok || tf.getBackend() !== backend) throw new Error(`could not activate the TF.js ${backend} backend (got ${tf.getBackend()})`);
  if (backend === "wasm") {
    info.wasmSimd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    info.wasmMultithread = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    info.threads = getThreadsCount();
    // which binary emscripten fetched (plain, -simd or -threaded-simd)
    info.wasmBinary = performance.getEntriesByType("resource").map((e) => e.name.split("/").pop()).filter((n) => n.endsWith(".wasm")).join(", ") || null;
  } else if (backend === "webgl") {
    info.webglVersion = tf.env().getNumber("WEBGL_VERSION");
    const gl = tf.backend().gpgpu?.gl;
    if (gl) {
      const ext = gl.getExtension("WEBGL_debug_renderer_info");
      info.renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    }
    info.threads = null;
  }
  info.hardwareConcurrency = navigator.hardwareConcurrency;
  return info;
}

export async function runTfjs(cfg, protocol, progress) {
  const { backend, impl } = cfg;
  const info = await loadTf(backend);
  const { H, B, T, V } = T1;
  const embed = backend === "wasm" ? "onehot" : "gather";
  info.embed = embed;

  // Data: a pool of batches from the synthetic corpus (as the anchor).
  const corpus = encode(makeCorpus(200000));
  const nBatches = 8;
  const batches = [];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let k = 0; k < nBatches; k++) {
    const xs = new Int32Array(B * T), ys = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const o = Math.floor(rnd() * (corpus.length - T - 1));
      for (let t = 0; t < T; t++) { xs[b * T + t] = corpus[o + t]; ys[b * T + t] = corpus[o + t + 1]; }
    }
    const x = tf.tensor2d(xs, [B, T], "int32");
    const xOneHot = embed === "onehot" ? tf.oneHot(x, V).toFloat() : null; // [B,T,V]
    const yOneHot = tf.oneHot(tf.tensor1d(ys, "int32"), V).toFloat(); // [B*T, V]
    const xsTM = new Int32Array(B * T), ysTM = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) { xsTM[t * B + b] = xs[b * T + t]; ysTM[t * B + b] = ys[b * T + t]; }
    const xTM = tf.tensor1d(xsTM, "int32");
    const xTMOneHot = embed === "onehot" ? tf.oneHot(xTM, V).toFloat() : null; // [T*B, V]
    const yTMOneHot = tf.oneHot(tf.tensor1d(ysTM, "int32"), V).toFloat(); // [T*B, V]
    batches.push({ x, xOneHot, yOneHot3: yOneHot.reshape([B, T, V]), xTM, xTMOneHot, yTMOneHot });
  }

  const optimizer = tf.train.adam(T1.lr);
  let step;
  if (impl === "layers-fit") {
    const model = tf.sequential();
    if (embed === "gather") model.add(tf.layers.embedding({ inputDim: V, outputDim: H, inputLength: T }));
    else model.add(tf.layers.dense({ inputShape: [T, V], units: H, useBias: false }));
    for (let l = 0; l < 2; l++) {
      model.add(tf.layers.lstm({
        units: H, returnSequences: true, recurrentActivation: "sigmoid",
        // orthogonal init (the default) is slow to build in JS and irrelevant for speed
        recurrentInitializer: "glorotUniform",
      }));
    }
    model.add(tf.layers.dense({ units: V }));
    model.compile({ optimizer, loss: (yTrue, yPred) => tf.losses.softmaxCrossEntropy(yTrue, yPred) });
    step = async (i) => {
      const bt = batches[i % nBatches];
      return await model.trainOnBatch(embed === "gather" ? bt.x : bt.xOneHot, bt.yOneHot3);
    };
  } else if (impl === "ops") {
    const glorot = (shape) => {
      const a = Math.sqrt(6 / (shape[0] + shape[1]));
      return tf.variable(tf.randomUniform(shape, -a, a));
    };
    // y = a @ b whose backward uses explicit transposes and plain (non-transposed) matMuls
    const mm = tf.customGrad((a, b, save) => {
      save([a, b]);
      return {
        value: tf.matMul(a, b),
        gradFunc: (dy, [sa, sb]) => [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)],
      };
    });
    const emb = tf.variable(tf.randomNormal([V, H], 0, 0.05));
    const layers = [];
    for (let l = 0; l < 2; l++) {
      const layer = { W: glorot([H, 4 * H]), U: glorot([H, 4 * H]), b: tf.variable(tf.zeros([4 * H])), UT: null };
      // h @ U with U^T computed once per training step (outside the time loop) for the backward
      layer.hU = tf.customGrad((h, U, save) => {
        save([h]);
        return {
          value: tf.matMul(h, U),
          gradFunc: (dy, [sh]) => [tf.matMul(dy, layer.UT), tf.matMul(tf.transpose(sh), dy)],
        };
      });
      layers.push(layer);
    }
    const Wy = glorot([H, V]);
    const by = tf.variable(tf.zeros([V]));
    const forwardLoss = (bt) => {
      let inp = embed === "gather" ? tf.gather(emb, bt.xTM) : mm(bt.xTMOneHot, emb); // [T*B, H]
      for (const layer of layers) {
        const { W, U, b } = layer;
        const xw = tf.add(mm(inp, W), b).reshape([T, B, 4 * H]);
        const xs = tf.unstack(xw, 0); // T x [B, 4H]
        let h = tf.zeros([B, H]);
        let c = tf.zeros([B, H]);
        const hs = [];
        for (let t = 0; t < T; t++) {
          const z = tf.add(xs[t], layer.hU(h, U));
          const [zi, zf, zg, zo] = tf.split(z, 4, 1);
          const ig = tf.sigmoid(zi), fg = tf.sigmoid(zf), gg = tf.tanh(zg), og = tf.sigmoid(zo);
          c = tf.add(tf.mul(fg, c), tf.mul(ig, gg));
          h = tf.mul(og, tf.tanh(c));
          hs.push(h);
        }
        inp = tf.stack(hs, 0).reshape([T * B, H]);
      }
      const logits = tf.add(mm(inp, Wy), by);
      return tf.losses.softmaxCrossEntropy(bt.yTMOneHot, logits);
    };
    step = async (i) => {
      const bt = batches[i % nBatches];
      for (const layer of layers) layer.UT = tf.transpose(layer.U);
      const cost = optimizer.minimize(() => forwardLoss(bt), true);
      for (const layer of layers) layer.UT.dispose();
      const v = (await cost.data())[0];
      cost.dispose();
      return v;
    };
  } else {
    throw new Error(`unknown TF.js impl ${impl}`);
  }

  const r = await timeSteps(step, protocol, progress);
  info.numTensors = tf.memory().numTensors;
  return { ...r, info };
}
