/**
 * The unrolled view: the network drawn unrolled over a short input, one column per time step
 * (input x_t, each layer's h_t, the output's top guesses), the same weights in every column.
 * Step forward to watch the states fill in; step backward to watch BPTT carry ∂L/∂h_t back through
 * the recurrence, for the summed loss or for the last step's loss only (the vanishing picture).
 */
import type { Lab } from "./context.js";
import { byId, divergingColor, h } from "./dom.js";
import type { PageUnrolled } from "./inspect-handlers.js";

const SVG = "http://www.w3.org/2000/svg";
function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}
const show = (c: string | null) => (c === null ? "" : c === "\n" ? "⏎" : c === " " ? "␣" : c);

export function mountUnrolled(root: HTMLElement, lab: Lab): void {
  let run: PageUnrolled | null = null;
  let mode: "forward" | "backward" = "forward";
  let t = 0;
  const svgBox = h("div", { id: "unrolled-svg", class: "unrolled" });
  const detail = h("div", { id: "unrolled-detail", class: "legend" });
  const status = h("p", { class: "status", id: "unrolled-status" });
  root.append(
    h("h2", {}, "The unrolled network"),
    h(
      "p",
      { class: "help" },
      "An RNN is one cell applied at every step with the same weights: unrolled over the input it is a deep feed-forward network, one column per character, and backpropagation through time is ordinary backpropagation through that network. ",
      "Forward: each h_t is computed from x_t and h_{t−1}. Backward: ∂L/∂h_t arrives from the output above and from step t+1 to the right; with “last step's loss only” the only source is the far right, and what reaches the left is the long-term gradient.",
    ),
    h(
      "div",
      { class: "row" },
      h("label", {}, "Input (2–24 characters)", h("input", { id: "unrolled-text", type: "text", value: "the whale", size: 26, maxlength: 24 })),
      h("button", { class: "primary", id: "unrolled-run", disabled: true }, "Unroll"),
      h("button", { id: "unrolled-back", disabled: true }, "◀ step"),
      h("button", { id: "unrolled-fwd", disabled: true }, "step ▶"),
      h("label", {}, "Pass", h("select", { id: "unrolled-mode" }, h("option", { value: "forward" }, "forward"), h("option", { value: "backward" }, "backward (BPTT)"))),
      h("label", {}, "Loss", h("select", { id: "unrolled-loss" }, h("option", { value: "sum" }, "summed over all steps"), h("option", { value: "last" }, "last step's loss only"))),
    ),
    status,
    svgBox,
    detail,
  );
  const runBtn = byId<HTMLButtonElement>("unrolled-run");
  const back = byId<HTMLButtonElement>("unrolled-back");
  const fwd = byId<HTMLButtonElement>("unrolled-fwd");
  const modeSel = byId<HTMLSelectElement>("unrolled-mode");
  const lossSel = byId<HTMLSelectElement>("unrolled-loss");
  lab.onModel(() => (runBtn.disabled = lab.model === null));

  const draw = () => {
    if (!run) return;
    const T = run.steps.length;
    const L = run.numLayers;
    const H = run.hiddenSize;
    const last = lossSel.value === "last";
    const colW = 66, left = 70, top = 30, rowH = 74, cellsPerRow = Math.min(16, H);
    const rows = Math.ceil(H / cellsPerRow);
    const cw = 44 / cellsPerRow, ch = Math.min(6, 40 / rows);
    const W = left + T * colW + 20;
    const Ht = top + (L + 2) * rowH + 10;
    const svg = s("svg", { width: W, height: Ht, viewBox: `0 0 ${W} ${Ht}`, role: "img", "aria-label": `the network unrolled over ${T} steps` });
    svg.append(s("defs"));
    const yOf = (row: number) => top + (L + 1 - row) * rowH; // row 0 = input, 1..L = layers, L+1 = output
    const labels = ["input x_t", ...Array.from({ length: L }, (_, l) => `layer ${l + 1} h_t`), "output"];
    labels.forEach((text, row) => svg.append(s("text", { x: 4, y: yOf(row) + 24, "font-size": 11, fill: "#5b6670" }, text)));
    const norms = run.steps.map((st) => st.layers.map((ly) => (last ? ly.dhLastNorm : ly.dhNorm)));
    const maxNorm = Math.max(1e-30, ...norms.flat());
    for (let k = 0; k < T; k++) {
      const st = run.steps[k];
      const x = left + k * colW;
      const lit = mode === "forward" ? k <= t : k >= t;
      const here = k === t;
      const g = s("g", { opacity: lit ? 1 : 0.22, "data-step": k });
      svg.append(g);
      // input
      g.append(s("rect", { x, y: yOf(0), width: 48, height: 40, rx: 5, fill: here ? "#fff4d6" : "#f5f7f9", stroke: "#9aa5b1" }));
      g.append(s("text", { x: x + 24, y: yOf(0) + 26, "text-anchor": "middle", "font-size": 16, "font-family": "ui-monospace, monospace" }, show(st.token)));
      g.append(s("line", { x1: x + 24, y1: yOf(0), x2: x + 24, y2: yOf(1) + 46, stroke: "#9aa5b1", "stroke-width": 1.2 }));
      for (let l = 0; l < L; l++) {
        const y = yOf(l + 1);
        const ly = st.layers[l];
        g.append(s("rect", { x: x - 2, y: y - 2, width: 52, height: 48, rx: 5, fill: "#fff", stroke: here ? "#222" : "#9aa5b1", "stroke-width": here ? 2 : 1 }));
        for (let j = 0; j < H; j++) {
          const v = ly.h[j];
          g.append(s("rect", { x: x + 2 + (j % cellsPerRow) * cw, y: y + 2 + Math.floor(j / cellsPerRow) * ch, width: cw, height: ch, fill: divergingColor(v) }));
        }
        if (mode === "backward") {
          const n = norms[k][l] / maxNorm;
          g.append(s("rect", { x: x - 2, y: y + 46, width: 52 * Math.max(0, Math.min(1, n)), height: 4, fill: "#d1495b", "data-norm": norms[k][l] }));
          g.append(s("text", { x: x + 24, y: y + 60, "text-anchor": "middle", "font-size": 9, fill: "#b42318" }, norms[k][l].toExponential(1)));
        }
        if (k < T - 1) {
          const w = mode === "backward" ? 1 + 5 * Math.sqrt(Math.min(1, norms[k + 1][l] / maxNorm)) : 1.2;
          g.append(s("line", { x1: x + 50, y1: y + 22, x2: x + colW - 2, y2: y + 22, stroke: mode === "backward" ? "#d1495b" : "#0b6bcb", "stroke-width": w }));
        }
        if (l < L - 1) g.append(s("line", { x1: x + 24, y1: y - 2, x2: x + 24, y2: yOf(l + 2) + 46, stroke: "#9aa5b1", "stroke-width": 1.2 }));
      }
      // output
      const yo = yOf(L + 1);
      g.append(s("line", { x1: x + 24, y1: yOf(L) - 2, x2: x + 24, y2: yo + 46, stroke: "#9aa5b1", "stroke-width": 1.2 }));
      g.append(s("rect", { x, y: yo, width: 48, height: 46, rx: 5, fill: "#f5f7f9", stroke: "#9aa5b1" }));
      st.top.slice(0, 3).forEach((p, r) =>
        g.append(s("text", { x: x + 4, y: yo + 13 + r * 13, "font-size": 10, "font-family": "ui-monospace, monospace", fill: p.token === st.target ? "#0b6bcb" : "#333" }, `${show(p.token)} ${(p.p * 100).toFixed(0)}%`)),
      );
      if (st.target !== null) g.append(s("text", { x: x + 24, y: yo - 4, "text-anchor": "middle", "font-size": 9, fill: "#5b6670" }, `→ ${show(st.target)} ${((st.p ?? 0) * 100).toFixed(0)}%`));
    }
    svgBox.replaceChildren(svg);
    // the details of step t
    const st = run.steps[t];
    const fmtV = (a: readonly number[]) => a.slice(0, 8).map((v) => v.toFixed(2)).join(" ") + (a.length > 8 ? " …" : "");
    const lines: (string | HTMLElement)[] = [
      h("b", {}, `step ${t}: read “${show(st.token)}”` + (st.target !== null ? `, next is “${show(st.target)}” (p = ${(st.p ?? 0).toFixed(3)}, loss ${st.loss?.toFixed(3)} nats)` : ", the last step predicts nothing we know")),
    ];
    st.layers.forEach((ly, l) => {
      lines.push(h("div", {}, `layer ${l + 1}: h = [${fmtV(ly.h)}]` + (ly.c ? `, c = [${fmtV(ly.c)}]` : "")));
      const gates = Object.entries(ly.gates).map(([k, v]) => `${k} mean ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(2)}`);
      if (gates.length) lines.push(h("div", {}, `  gates: ${gates.join(", ")}`));
      if (mode === "backward") lines.push(h("div", { "data-testid": "dh-norm" }, `  ‖∂L/∂h_${t}‖ = ${(last ? ly.dhLastNorm : ly.dhNorm).toExponential(3)}` + (ly.dcNorm !== null ? `, ‖∂L/∂c_${t}‖ = ${(last ? ly.dcLastNorm! : ly.dcNorm).toExponential(3)}` : "")));
    });
    detail.replaceChildren(...lines);
    status.textContent = `${run.cell}, ${L} layer${L > 1 ? "s" : ""} × ${H} units · ${T} steps · summed loss ${run.loss.toFixed(3)} nats, last step's ${run.lastLoss.toFixed(3)}` + (run.unknown ? ` · ${run.unknown} characters not in the vocabulary skipped` : "");
    back.disabled = t === 0;
    fwd.disabled = t === T - 1;
    back.textContent = mode === "forward" ? "◀ step" : "◀ step back (BPTT)";
    fwd.textContent = mode === "forward" ? "step ▶" : "undo ▶";
  };

  runBtn.addEventListener("click", async () => {
    status.className = "status";
    try {
      run = await lab.worker.call<PageUnrolled>("unrolled", { text: byId<HTMLInputElement>("unrolled-text").value });
      t = mode === "forward" ? 0 : run.steps.length - 1;
      draw();
    } catch (e) {
      status.className = "status error";
      status.textContent = (e as Error).message;
    }
  });
  const move = (d: number) => {
    if (!run) return;
    t = Math.max(0, Math.min(run.steps.length - 1, t + d));
    draw();
  };
  back.addEventListener("click", () => move(-1));
  fwd.addEventListener("click", () => move(1));
  modeSel.addEventListener("change", () => {
    mode = modeSel.value as typeof mode;
    if (run) t = mode === "forward" ? 0 : run.steps.length - 1;
    draw();
  });
  lossSel.addEventListener("change", draw);
}
