/**
 * Vanishing gradients: ‖∂L_T/∂h_t‖ against the gap T − t for an RNN, an LSTM and a GRU at
 * initialisation, on the same inputs, redrawn live as the sliders move (Hochreiter 1991; Bengio,
 * Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013). Optionally the cells trained side by
 * side on the adding task. All computing happens in gradients-worker.ts.
 */
import { LiveChart, type Series } from "./chart.js";
import type { Lab } from "./context.js";
import { byId, fmt, h, numberField, readNumber, selectField } from "./dom.js";
import type { FromGradientsWorker, NormsRequest, NormsResult, ToGradientsWorker, TrainRequest } from "./gradients-worker.js";

/** The lab's colours (src/lab/plots.ts), so the page matches `unroll gradients`' charts. */
const COLOR: Readonly<Record<string, string>> = { rnn: "#1f77b4", lstm: "#d62728", gru: "#2ca02c" };
const LABEL: Readonly<Record<string, string>> = { rnn: "rnn (tanh)", lstm: "lstm", gru: "gru" };
const BASELINE_COLOR = "#444444";
const SOLVED_COLOR = "#b8860b";
/** Probe sequences of the adding task the curves are averaged over (as `unroll gradients`). */
const PROBE_BATCH = 32;
const DEBOUNCE_MS = 100;
/**
 * The side-by-side run: `unroll lab`'s hidden 64 and Adam 2e-3 (TASK_DEFAULTS otherwise: batch 32,
 * clip 1, forget bias 1) at T = 50, where (measured with the wasm backend) the GRU solves the adding
 * task in ~700 steps, the LSTM in ~1,400–1,700 (about 35 s in Chrome, interleaved), and the tanh RNN is
 * still at the baseline after 4,000.
 */
const ADDING = { T: 50, hidden: 64, steps: 4000, lr: 0.002, batch: 32, seed: 1, evalEvery: 50, testSize: 256 } as const;

const sci = (v: number): string => (Number.isFinite(v) ? v.toExponential(1).replace("e+", "e") : String(v));
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** A labelled range input with its value shown beside it. */
function slider(label: string, id: string, o: { min: number; max: number; step: number; value: number; show: (v: number) => string; title?: string }): HTMLLabelElement {
  const input = h("input", { id, type: "range", min: o.min, max: o.max, step: o.step, value: o.value });
  const out = h("output", { for: id, id: `${id}-value`, class: "grad-value" }, o.show(o.value));
  input.addEventListener("input", () => (out.textContent = o.show(Number(input.value))));
  return h("label", { class: "grad-slider", title: o.title }, label, h("span", { class: "grad-slider-row" }, input, out));
}

function swatch(color: string, dashed = false): HTMLSpanElement {
  return h("span", { class: `grad-swatch${dashed ? " grad-dashed" : ""}`, style: `--c: ${color}` });
}

export function mountGradients(root: HTMLElement, _lab: Lab): void {
  // ---- layout ----
  root.append(
    h("h2", {}, "Vanishing gradients: how far back does the gradient reach?"),
    h(
      "p",
      { class: "help" },
      "The chart shows ‖∂L_T/∂h_t‖, how strongly the loss at the last step T depends on the hidden state T − t steps earlier " +
        "(log scale, 1 at gap 0; geometric mean over 32 sequences of the adding task, the same inputs for all three cells, at initialisation). " +
        "Backpropagation multiplies by ∂h_t/∂h_{t−1} = diag(f′) W_hh once per step, so the tanh RNN's curve falls geometrically — by the per-step factor printed below — " +
        "and the weight scale, a gain on W_hh, moves that factor: small scales make it vanish faster, scales well above 1 make it explode instead. " +
        "The LSTM's cell state is updated additively, c_t = f ⊙ c_{t−1} + i ⊙ g, so along that path the gradient is multiplied by the forget gate f, not by W_hh: it reaches much further back, and a larger forget bias (f closer to 1) flattens the curve further.",
    ),
  );
  const controls = h(
    "div",
    { class: "row grad-controls" },
    slider("T (sequence length)", "grad-T", { min: 10, max: 200, step: 1, value: 100, show: (v) => String(v) }),
    slider("Recurrent weight scale", "grad-scale", {
      min: 0.25,
      max: 3,
      step: 0.05,
      value: 1,
      show: (v) => `×${v.toFixed(2)}`,
      title: "every gate block of W_hh is multiplied by this after the initialisation",
    }),
    selectField(
      "W_hh before the gain",
      "grad-init",
      [
        ["pytorch", "PyTorch's U(±1/√H)"],
        ["orthogonal", "orthogonal (σ = 1)"],
      ],
      "pytorch",
    ),
    numberField("Hidden size", "grad-hidden", 32, { min: 1, max: 512, step: 1 }),
    numberField("LSTM forget bias", "grad-forget", 1, { step: 0.5, title: "added to the forget gate's bias at initialisation (as `unroll gradients --forget-bias`)" }),
    numberField("Seed", "grad-seed", 1, { min: 0, step: 1 }),
  );
  const chartBox = h("div", { id: "grad-chart", class: "grad-chart grad-chart-tall" });
  const summary = h("div", { id: "grad-summary", class: "grad-summary", "aria-live": "polite" });
  const status = h("p", { id: "grad-status", class: "status" }, "starting the gradients worker…");
  root.append(controls, chartBox, summary, status);
  const chart = new LiveChart(chartBox, { xLabel: "gap T − t (steps back from the loss)", yLabel: "‖∂L_T/∂h_t‖ (log)", logY: true });

  root.append(
    h("h3", { class: "grad-h3" }, "Train on the adding task side by side"),
    h(
      "p",
      { class: "help" },
      "Each step shows a random number and a marker bit; two steps are marked, one in each half, and after the last step the network must output the sum of the two marked numbers. " +
        "Always answering 1 scores MSE 1/6 ≈ 0.167 (dashed grey); below 0.01 (dashed gold) counts as solved. " +
        "The cells train in turns, a few steps each, in the worker; the curves are the test MSE on 256 fixed sequences.",
    ),
  );
  const addControls = h(
    "div",
    { class: "row" },
    numberField("T (sequence length)", "adding-T", ADDING.T, { min: 2, max: 1000, step: 1 }),
    numberField("Hidden size", "adding-hidden", ADDING.hidden, { min: 1, max: 512, step: 1 }),
    numberField("Steps (at most)", "adding-steps", ADDING.steps, { min: 1, step: 100 }),
    numberField("Learning rate", "adding-lr", ADDING.lr, { min: 0, step: 0.0005 }),
    numberField("Seed", "adding-seed", ADDING.seed, { min: 0, step: 1 }),
    h("label", { class: "grad-check" }, "GRU too", h("input", { type: "checkbox", id: "adding-gru", checked: true })),
    h("button", { class: "primary", id: "adding-start" }, "Train side by side"),
    h("button", { id: "adding-stop", disabled: true }, "Stop"),
  );
  const addChartBox = h("div", { id: "adding-chart", class: "grad-chart" });
  const addSummary = h("div", { id: "adding-summary", class: "grad-summary", "aria-live": "polite" });
  const addStatus = h("p", { id: "adding-status", class: "status" });
  root.append(addControls, addChartBox, addSummary, addStatus);
  const addChart = new LiveChart(addChartBox, { xLabel: "training step (per cell)", yLabel: "test MSE (log)", logY: true });
  addChart.set([]);

  const say = (el: HTMLElement, text: string, error = false) => {
    el.textContent = text;
    el.className = `status${error ? " error" : ""}`;
  };

  // ---- the worker ----
  let worker: Worker;
  try {
    worker = new Worker(new URL("./gradients-worker.js", import.meta.url), { type: "module", name: "unroll gradients" });
  } catch (e) {
    say(status, `could not start the gradients worker: ${(e as Error).message}`, true);
    return;
  }
  const send = (m: ToGradientsWorker) => worker.postMessage(m);
  worker.addEventListener("error", (e) => {
    e.preventDefault();
    say(status, `the gradients worker failed: ${e.message || "unknown error"}`, true);
    setRunning(false);
  });
  worker.addEventListener("messageerror", () => say(status, "the gradients worker sent a message that could not be read", true));

  // ---- gradient norms ----
  let nextId = 1;
  let latest = 0;
  let timer: number | undefined;
  let backendNote = "";

  const request = () => {
    timer = undefined;
    let r: NormsRequest;
    try {
      r = {
        type: "norms",
        id: nextId++,
        T: readNumber("grad-T", { min: 2, max: 2000, integer: true }),
        scale: readNumber("grad-scale", { min: 0, max: 100 }),
        hidden: readNumber("grad-hidden", { min: 1, max: 512, integer: true }),
        seed: readNumber("grad-seed", { min: 0, integer: true }),
        forgetBias: readNumber("grad-forget", { min: -20, max: 20 }),
        init: byId<HTMLSelectElement>("grad-init").value === "orthogonal" ? "orthogonal" : "pytorch",
        batch: PROBE_BATCH,
      };
    } catch (e) {
      say(status, (e as Error).message, true);
      return;
    }
    latest = r.id;
    say(status, "computing…");
    send(r);
  };
  const schedule = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(request, DEBOUNCE_MS);
  };
  for (const el of controls.querySelectorAll("input, select")) {
    el.addEventListener("input", schedule);
    el.addEventListener("change", schedule);
  }

  const showNorms = (r: NormsResult, ms: number) => {
    const series: Series[] = [];
    const gaps = (v: number[]) => v.map((y, k) => [k, y] as [number, number]);
    for (const name of ["rnn", "lstm", "gru"]) {
      const c = r.cells[name];
      if (!c) continue;
      series.push({ name: name === "lstm" ? "lstm h" : LABEL[name], color: COLOR[name], points: gaps(c.dh) });
      if (c.dc) series.push({ name: "lstm c (dashed)", color: COLOR[name], points: gaps(c.dc), dashed: true });
    }
    chart.set(series);
    const lines = ["rnn", "lstm", "gru"].flatMap((name) => {
      const c = r.cells[name];
      if (!c) return [];
      const head = `${name}: ×${c.rate.dh.toFixed(2)} per step, ${sci(c.dh[r.T])} at gap ${r.T}`;
      const extra =
        name === "rnn"
          ? ` (ρ(W_hh) = ${c.rho.toFixed(2)}, mean tanh′ = ${(c.meanDerivative ?? NaN).toFixed(2)})`
          : c.dc && c.rate.dc !== null
            ? `; cell state c: ×${c.rate.dc.toFixed(2)} per step, ${sci(c.dc[r.T])} at gap ${r.T}`
            : "";
      const row = h("div", { class: "grad-line", "data-cell": name }, swatch(COLOR[name]), h("b", {}, head), extra);
      return [row];
    });
    const rnn = r.cells.rnn;
    const lstm = r.cells.lstm;
    if (rnn && lstm) {
      const ratio = lstm.dh[r.T] / rnn.dh[r.T];
      const verdict =
        ratio >= 10
          ? `At gap ${r.T} the LSTM keeps ${sci(ratio)} times more gradient than the RNN.`
          : ratio <= 0.1
            ? `At gap ${r.T} the RNN's gradient is ${sci(1 / ratio)} times the LSTM's${rnn.rate.dh > 1 ? ": it explodes" : ""}.`
            : `At gap ${r.T} the two are within a factor of 10.`;
      lines.push(h("div", { class: "grad-line grad-verdict" }, verdict));
    }
    summary.replaceChildren(...lines);
    summary.dataset.json = JSON.stringify({
      T: r.T,
      scale: r.scale,
      hidden: r.hidden,
      seed: r.seed,
      init: r.init,
      forgetBias: r.forgetBias,
      cells: Object.fromEntries(Object.entries(r.cells).map(([k, c]) => [k, { dh: c.dh, ...(c.dc ? { dc: c.dc } : {}), rate: c.rate, rho: c.rho }])),
    });
    say(status, `computed in ${fmt(ms)} ms in the worker (float64; hidden ${r.hidden}, T = ${r.T}, ${r.batch} probe sequences)${backendNote}`);
  };

  // ---- the side-by-side run ----
  const startBtn = byId<HTMLButtonElement>("adding-start");
  const stopBtn = byId<HTMLButtonElement>("adding-stop");
  let run: {
    id: number;
    cells: string[];
    baseline: number;
    solvedBelow: number;
    curves: Record<string, [number, number][]>;
    state: Record<string, { step: number; value: number; wallMs: number; cellMs: number; reason: string | null }>;
  } | null = null;
  let runId = 0;

  function setRunning(on: boolean): void {
    startBtn.disabled = on;
    stopBtn.disabled = !on;
    for (const el of addControls.querySelectorAll("input")) el.disabled = on;
  }

  const drawRun = () => {
    if (!run) return;
    const maxStep = Math.max(ADDING.evalEvery, ...Object.values(run.curves).flatMap((c) => c.map((p) => p[0])));
    addChart.set([
      ...run.cells.map((c) => ({ name: LABEL[c] ?? c, color: COLOR[c] ?? "#777", points: run!.curves[c] })),
      { name: "baseline 1/6", color: BASELINE_COLOR, dashed: true, points: [[0, run.baseline], [maxStep, run.baseline]] },
      { name: `solved < ${run.solvedBelow}`, color: SOLVED_COLOR, dashed: true, points: [[0, run.solvedBelow], [maxStep, run.solvedBelow]] },
    ]);
    addSummary.replaceChildren(
      ...run.cells.map((c) => {
        const s = run!.state[c];
        const mse = Number.isFinite(s.value) ? s.value.toFixed(4) : "–";
        const own = `${seconds(s.wallMs)} wall, ${seconds(s.cellMs)} of its own compute`;
        const text =
          s.reason === "solved"
            ? `solved at step ${fmt(s.step)} (test MSE ${mse}; ${own})`
            : s.reason === "steps"
              ? `not solved after ${fmt(s.step)} steps (test MSE ${mse}, baseline ${run!.baseline.toFixed(3)}; ${own})`
              : s.reason === "diverged"
                ? `diverged at step ${fmt(s.step)} (lower the learning rate)`
                : s.reason === "stopped"
                  ? `stopped at step ${fmt(s.step)}, not solved (test MSE ${mse})`
                  : `step ${fmt(s.step)}, test MSE ${mse} (${seconds(s.wallMs)})`;
        return h("div", { class: "grad-line", "data-cell": c }, swatch(COLOR[c] ?? "#777"), h("b", {}, `${c}: `), text);
      }),
    );
    addSummary.dataset.json = JSON.stringify({ cells: run.state, baseline: run.baseline });
  };

  startBtn.addEventListener("click", () => {
    let r: TrainRequest;
    try {
      r = {
        type: "train",
        id: (runId = nextId++),
        cells: byId<HTMLInputElement>("adding-gru").checked ? ["rnn", "lstm", "gru"] : ["rnn", "lstm"],
        T: readNumber("adding-T", { min: 2, max: 1000, integer: true }),
        hidden: readNumber("adding-hidden", { min: 1, max: 512, integer: true }),
        steps: readNumber("adding-steps", { min: 1, max: 1_000_000, integer: true }),
        lr: readNumber("adding-lr", { min: 1e-6, max: 1 }),
        seed: readNumber("adding-seed", { min: 0, integer: true }),
        batch: ADDING.batch,
        evalEvery: ADDING.evalEvery,
        testSize: ADDING.testSize,
      };
    } catch (e) {
      say(addStatus, (e as Error).message, true);
      return;
    }
    run = null;
    addChart.set([]);
    addSummary.replaceChildren();
    setRunning(true);
    say(addStatus, "building the models and the test set…");
    send(r);
  });
  stopBtn.addEventListener("click", () => {
    send({ type: "stop" });
    say(addStatus, "stopping…");
  });

  worker.addEventListener("message", (e: MessageEvent) => {
    const m = e.data as FromGradientsWorker;
    switch (m.type) {
      case "ready":
        backendNote = m.note ? ` — ${m.note}` : "";
        break;
      case "norms":
        if (m.id === latest) showNorms(m.result, m.ms);
        break;
      case "dropped":
        break;
      case "error":
        if (m.id !== null && m.id === runId) say(addStatus, m.message, true);
        else if (m.id === null || m.id === latest) say(status, m.message, true);
        break;
      case "train-start":
        if (m.id !== runId) break;
        run = {
          id: m.id,
          cells: m.cells,
          baseline: m.baseline,
          solvedBelow: m.solvedBelow,
          curves: Object.fromEntries(m.cells.map((c) => [c, []])),
          state: Object.fromEntries(m.cells.map((c) => [c, { step: 0, value: NaN, wallMs: 0, cellMs: 0, reason: null }])),
        };
        say(addStatus, `training ${m.cells.join(", ")} in turns on the ${m.backend} backend…`);
        drawRun();
        break;
      case "train-eval":
        if (!run || m.id !== run.id) break;
        run.curves[m.cell].push([m.step, m.value]);
        Object.assign(run.state[m.cell], { step: m.step, value: m.value, wallMs: m.wallMs, cellMs: m.cellMs });
        drawRun();
        break;
      case "train-done":
        if (!run || m.id !== run.id) break;
        Object.assign(run.state[m.cell], { step: m.step, value: m.value, wallMs: m.wallMs, cellMs: m.cellMs, reason: m.reason });
        drawRun();
        break;
      case "train-end":
        if (m.id !== runId) break;
        setRunning(false);
        if (run) say(addStatus, `${m.stopped ? "stopped" : "done"} after ${seconds(m.wallMs)}`);
        break;
    }
  });

  request();
}
