/**
 * Train: a char-LM on the built-in Moby Dick excerpt or the user's own text, in the worker, with a
 * live loss curve (train and validation), chars/s, pause/continue/stop, and checkpoints in the
 * CLI's format (save, load, resume or fine-tune) and PyTorch-named safetensors weights.
 */
import type { WorkerModelSummary, WorkerTrainOptions } from "../../src/browser/index.js";
import type { TrainEvent } from "../../src/index.js";
import { LiveChart } from "./chart.js";
import type { Lab } from "./context.js";
import { byId, download, fmt, h, numberField, readNumber, selectField } from "./dom.js";

const CELLS = [
  ["lstm", "LSTM"],
  ["gru", "GRU"],
  ["rnn", "RNN (tanh)"],
  ["lstm-peephole", "LSTM with peepholes"],
  ["lstm-coupled", "LSTM, coupled input-forget gate"],
] as const;

export function mountTrain(root: HTMLElement, lab: Lab): void {
  let builtin: string | null = null;
  let userText: { name: string; text: string } | null = null;
  let loaded: { name: string; bytes: Uint8Array; summary: WorkerModelSummary } | null = null;
  const { train, val } = lab.history;
  const smooth: [number, number][] = [];
  let ema = 0; // debiased exponential moving average of the step losses (as TensorBoard's smoothing)
  let emaSteps = 0;

  const drop = h("div", { class: "drop", id: "drop" }, "Drop a text file here, or ", h("input", { type: "file", id: "text-file", accept: ".txt,text/*" }));
  const paste = h("textarea", { id: "text-paste", placeholder: "…or paste a text (at least a few thousand characters)", hidden: true });
  root.append(
    h("h2", {}, "Train a character-level language model"),
    h("p", { class: "help" }, "The model reads the text one character at a time and learns to predict the next one (cross-entropy summed over time, truncated BPTT over chunks of the sequence length, Adam, gradient clipping at norm 5). Training runs in a Web Worker; the validation loss is measured on the last 5% of the text."),
    h(
      "div",
      { class: "row" },
      selectField("Text", "source", [
        ["moby", "Moby Dick, chapters 1–20 (built in)"],
        ["mine", "my own text"],
      ]),
      selectField("Cell", "cell", CELLS, "lstm"),
      numberField("Layers", "layers", 2, { min: 1, max: 4, step: 1 }),
      numberField("Hidden units", "hidden", 128, { min: 1, max: 1024, step: 1 }),
      numberField("Sequence length", "seq-len", 64, { min: 2, max: 512, step: 1 }),
      numberField("Batch", "batch", 32, { min: 1, max: 256, step: 1 }),
      numberField("Learning rate", "lr", 0.002, { min: 0, step: 0.0005 }),
      numberField("Steps", "steps", 2000, { min: 1, step: 100 }),
      numberField("Validate every", "eval-every", 100, { min: 1, step: 10 }),
      numberField("Seed", "seed", 1, { min: 0, step: 1 }),
    ),
    drop,
    paste,
    h(
      "div",
      { class: "row" },
      h("button", { class: "primary", id: "train-start" }, "Train"),
      h("button", { id: "train-pause", disabled: true }, "Pause"),
      h("button", { id: "train-stop", disabled: true }, "Stop"),
      h("button", { id: "ckpt-save", disabled: true, title: "the same format as `unroll train` writes: `unroll sample --model FILE` reads it" }, "Save checkpoint"),
      h("label", { class: "file" }, "Load checkpoint", h("input", { type: "file", id: "ckpt-load", accept: ".ckpt,application/octet-stream" })),
      h("button", { id: "ckpt-resume", disabled: true, title: "continue the loaded run exactly (needs the text it was trained on)" }, "Resume loaded run"),
      h("button", { id: "weights-save", disabled: true, title: "safetensors with PyTorch's parameter names (nn.Embedding, nn.LSTM, nn.Linear)" }, "Download weights"),
    ),
    h(
      "div",
      { class: "stats", id: "train-stats" },
      ...["step", "epoch", "train loss", "val loss (best)", "chars/s", "elapsed", "parameters", "vocabulary"].map((k) => h("div", {}, h("span", {}, k), h("b", { "data-stat": k }, "–"))),
    ),
  );
  const chart = new LiveChart(root, { xLabel: "step", yLabel: "loss (nats/char)" });
  const stat = (k: string, v: string) => ((root.querySelector(`[data-stat="${k}"]`) as HTMLElement).textContent = v);
  const redraw = () =>
    chart.set([
      { name: "train (per step)", color: "#9ec5ee", points: train },
      { name: "train (smoothed)", color: "#0b6bcb", points: smooth },
      { name: "validation", color: "#d1495b", points: val, dots: true },
    ]);
  redraw();

  const startBtn = byId<HTMLButtonElement>("train-start");
  const pauseBtn = byId<HTMLButtonElement>("train-pause");
  const stopBtn = byId<HTMLButtonElement>("train-stop");
  const saveBtn = byId<HTMLButtonElement>("ckpt-save");
  const resumeBtn = byId<HTMLButtonElement>("ckpt-resume");
  const weightsBtn = byId<HTMLButtonElement>("weights-save");
  const source = byId<HTMLSelectElement>("source");
  source.addEventListener("change", () => (paste.hidden = source.value !== "mine"));

  const readFile = async (f: File) => {
    const text = await f.text();
    userText = { name: f.name, text };
    source.value = "mine";
    paste.hidden = false;
    paste.value = text.length > 20_000 ? `${text.slice(0, 20_000)}\n… (${fmt(text.length)} characters from ${f.name}; all of them are used)` : text;
    paste.readOnly = true;
    lab.say(`${f.name}: ${fmt(text.length)} characters`);
  };
  byId<HTMLInputElement>("text-file").addEventListener("change", (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void readFile(f);
  });
  paste.addEventListener("input", () => {
    userText = null;
    paste.readOnly = false;
  });
  drop.addEventListener("dragover", (e) => (e.preventDefault(), drop.classList.add("over")));
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const f = e.dataTransfer?.files[0];
    if (f) void readFile(f);
  });

  const text = async (): Promise<{ text: string; source: string }> => {
    if (source.value === "mine") {
      const t = userText?.text ?? paste.value;
      if (t.length < 1000) throw new Error(`your text has ${t.length} characters; give at least 1,000 (a few hundred thousand is better), or choose the built-in text`);
      return { text: t, source: userText?.name ?? "pasted text" };
    }
    if (builtin === null) {
      const r = await fetch("moby-dick.txt");
      if (!r.ok) throw new Error(`could not fetch the built-in text (HTTP ${r.status})`);
      builtin = await r.text();
    }
    return { text: builtin, source: "moby-dick (chapters 1-20)" };
  };

  const options = async (): Promise<WorkerTrainOptions> => {
    const t = await text();
    return {
      ...t,
      cell: byId<HTMLSelectElement>("cell").value,
      layers: readNumber("layers", { min: 1, max: 4, integer: true }),
      hidden: readNumber("hidden", { min: 1, max: 1024, integer: true }),
      seqLen: readNumber("seq-len", { min: 2, max: 512, integer: true }),
      batch: readNumber("batch", { min: 1, max: 256, integer: true }),
      lr: readNumber("lr", { min: 1e-6, max: 1 }),
      maxSteps: readNumber("steps", { min: 1, integer: true }),
      evalEvery: readNumber("eval-every", { min: 1, integer: true }),
      seed: readNumber("seed", { min: 0, integer: true }),
    };
  };

  const setRunning = (running: boolean) => {
    lab.training = running;
    startBtn.disabled = running;
    resumeBtn.disabled = running || !loaded || loaded.summary.step === null;
    pauseBtn.disabled = !running;
    stopBtn.disabled = !running;
    pauseBtn.textContent = "Pause";
    byId<HTMLInputElement>("ckpt-load").disabled = running;
  };

  const begin = async (from: { resume?: Uint8Array; initFrom?: Uint8Array }) => {
    try {
      const o = await options();
      train.length = smooth.length = val.length = 0;
      ema = emaSteps = 0;
      redraw();
      setRunning(true);
      lab.say(from.resume ? `resuming ${loaded!.name}…` : from.initFrom ? `fine-tuning ${loaded!.name}…` : "training…");
      lab.worker.start(o, { resume: from.resume?.slice(), initFrom: from.initFrom?.slice() });
    } catch (e) {
      setRunning(false);
      lab.say((e as Error).message, "error");
    }
  };
  startBtn.addEventListener("click", () => void begin(loaded && loaded.summary ? { initFrom: loaded.bytes } : {}));
  resumeBtn.addEventListener("click", () => loaded && void begin({ resume: loaded.bytes }));
  pauseBtn.addEventListener("click", () => (pauseBtn.textContent === "Pause" ? lab.worker.pause() : lab.worker.continue()));
  stopBtn.addEventListener("click", () => lab.worker.stop());
  lab.worker.on("paused", ({ paused }) => {
    pauseBtn.textContent = paused ? "Continue" : "Pause";
    lab.say(paused ? "paused" : "training…");
  });

  lab.worker.on("event", ({ event }) => onEvent(event));
  const onEvent = (e: TrainEvent) => {
    switch (e.event) {
      case "start":
        stat("parameters", fmt(e.params));
        stat("vocabulary", `${e.vocabSize} symbols`);
        lab.model = { cell: e.options.cell, layers: e.options.layers, hidden: e.options.hidden, vocabSize: e.vocabSize, params: e.params, step: e.step };
        saveBtn.disabled = weightsBtn.disabled = false;
        lab.modelChanged();
        break;
      case "step": {
        train.push([e.step, e.loss]);
        ema = 0.9 * ema + 0.1 * e.loss;
        const smoothed = ema / (1 - 0.9 ** ++emaSteps);
        smooth.push([e.step, smoothed]);
        stat("step", fmt(e.step));
        stat("epoch", e.progress.toFixed(2));
        stat("train loss", smoothed.toFixed(3));
        stat("chars/s", fmt(e.tokensPerSec));
        stat("elapsed", `${(e.elapsedMs / 1000).toFixed(1)} s`);
        if (lab.model) lab.model = { ...lab.model, step: e.step };
        redraw();
        break;
      }
      case "eval":
        val.push([e.step, e.valLoss]);
        stat("val loss (best)", `${e.valLoss.toFixed(3)} (${e.bestValLoss.toFixed(3)})`);
        redraw();
        lab.modelChanged();
        break;
      case "done":
        lab.say(`training stopped (${e.reason}) at step ${fmt(e.step)}: validation loss ${e.valLoss?.toFixed(3) ?? "–"} nats/char`);
        break;
      default:
        break;
    }
  };
  lab.worker.on("ended", ({ error }) => {
    setRunning(false);
    if (error) lab.say(error, "error");
    lab.modelChanged();
  });

  saveBtn.addEventListener("click", async () => {
    try {
      const bytes = await lab.worker.snapshot();
      const m = lab.model;
      download(`unroll-${m?.cell ?? "model"}-${m?.layers ?? ""}x${m?.hidden ?? ""}-step${m?.step ?? 0}.ckpt`, bytes);
      lab.say(`checkpoint saved (${fmt(bytes.length / 1024)} KB): \`unroll sample --model FILE\` reads it`);
    } catch (e) {
      lab.say((e as Error).message, "error");
    }
  });
  weightsBtn.addEventListener("click", async () => {
    try {
      const bytes = await lab.worker.call<Uint8Array>("weights");
      download("unroll-weights.safetensors", bytes);
    } catch (e) {
      lab.say((e as Error).message, "error");
    }
  });
  byId<HTMLInputElement>("ckpt-load").addEventListener("change", async (ev) => {
    const input = ev.target as HTMLInputElement;
    const f = input.files?.[0];
    if (!f) return;
    try {
      const bytes = new Uint8Array(await f.arrayBuffer());
      const summary = await lab.worker.load(bytes.slice());
      loaded = { name: f.name, bytes, summary };
      lab.model = summary;
      train.length = smooth.length = val.length = 0;
      redraw();
      stat("parameters", fmt(summary.params));
      stat("vocabulary", `${summary.vocabSize} symbols`);
      stat("step", summary.step === null ? "–" : fmt(summary.step));
      saveBtn.disabled = weightsBtn.disabled = false;
      resumeBtn.disabled = summary.step === null;
      lab.say(
        `loaded ${f.name}: ${summary.cell} ${summary.layers}×${summary.hidden}, ${summary.vocabSize} symbols, ${fmt(summary.params)} parameters` +
          (summary.step !== null ? `, trained ${fmt(summary.step)} steps` : "") +
          ". Generate and Look inside use it; Train fine-tunes it on the chosen text.",
      );
      lab.modelChanged();
    } catch (e) {
      lab.say(`${f.name}: ${(e as Error).message}`, "error");
    } finally {
      input.value = "";
    }
  });
}
