// unroll's wasm backend at T1, in this (dedicated module) worker: 1 thread, or 2 with
// enableBrowserThreads (this worker + the Worker it starts).
import { createTraining, initWasmBackend, wasmInfo } from "../../src/index.js";
import { enableBrowserThreads } from "../../src/browser/index.js";
import { T1, makeCorpus, median, timeSteps } from "./lib.js";

export async function runUnroll(cfg, protocol, progress) {
  const info = {};
  if (cfg.threads === 2) {
    const t = await enableBrowserThreads();
    info.threads = t.threads;
    info.note = t.note;
  } else {
    await initWasmBackend();
    info.threads = 1;
    info.note = null;
  }
  // enough text for every step the protocol can take without an epoch wrap (train is 95 %)
  const maxSteps = protocol.maxStepsUnroll;
  const tokensPerStep = T1.B * T1.T;
  const text = makeCorpus(Math.ceil(((maxSteps + 2) * tokensPerStep) / 0.95) + 4 * tokensPerStep);
  const training = createTraining({
    text, cell: "lstm", layers: T1.layers, hidden: T1.H, embed: T1.E, batch: T1.B, seqLen: T1.T, lr: T1.lr,
    backend: "wasm", maxSteps, evalEvery: 1e9, valFrac: 0.05,
  });
  const events = training.run();
  const reported = []; // the library's own tokensPerSec per step
  // one call = pull events until the next "step" event; the time from the previous event to it
  // (timeSteps measures the same interval around this call).
  const step = async () => {
    for (;;) {
      const { value, done } = await events.next();
      if (done) throw new Error(`training stopped before the protocol finished (maxSteps ${maxSteps})`);
      if (value.event === "step") {
        reported.push(value.tokensPerSec);
        return value.loss;
      }
    }
  };
  // the "start" event and the step-0 validation pass come before the first step: pull them now,
  // so the first warm-up step is a training step only
  {
    const first = await events.next(); // start
    info.vocabSize = first.value.vocabSize;
    info.params = first.value.params;
    info.backendName = first.value.backend;
    info.trainTokens = first.value.trainTokens;
    const second = await events.next(); // eval at step 0
    if (second.value?.event !== "eval") throw new Error(`expected the step-0 eval event, got ${second.value?.event}`);
    info.valLoss0 = second.value.valLoss;
  }
  const r = await timeSteps(step, protocol, progress);
  await events.return(undefined);
  const w = wasmInfo();
  info.wasmModule = w.module;
  info.wasmThreads = w.threads;
  const timedReported = reported.slice(protocol.warmup);
  info.libMedianCharsPerSec = median(timedReported);
  if (info.vocabSize !== T1.V) info.warning = `vocab ${info.vocabSize}, expected ${T1.V}`;
  return { ...r, info };
}
