/**
 * Look inside (Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding Recurrent
 * Networks"): the text coloured by one unit's activation — the hidden state, the cell state or a
 * gate — per character; a search for the units that best follow a pattern (inside quotes, position
 * in the line, a regular expression); and the model's top-5 guesses for the next character.
 */
import type { Lab } from "./context.js";
import { byId, divergingColor, fmt, h, selectField } from "./dom.js";
import type { CorrelateRequest, CorrelateResult, PageTrace } from "./inspect-handlers.js";

const QUANTITY_NAMES: Record<string, string> = {
  h: "h: hidden state",
  c: "c: cell state",
  i: "i: input gate",
  f: "f: forget gate",
  g: "g: candidate",
  o: "o: output gate",
  r: "r: reset gate",
  z: "z: update gate",
  n: "n: candidate",
};
const GATES = new Set(["i", "f", "o", "r", "z"]); // sigmoid: in [0, 1]

const PATTERNS = [
  ["inside-quotes", "inside quotes"],
  ["line-position", "position in the line"],
  ["inside-parens", "inside parentheses"],
  ["vowel", "vowels"],
  ["whitespace", "whitespace"],
  ["uppercase", "upper case"],
  ["regex", "a regular expression…"],
] as const;

/** A passage of the built-in text with dialogue (quotes) in it. */
async function defaultPassage(): Promise<string> {
  try {
    const t = await (await fetch("moby-dick.txt")).text();
    const q = t.indexOf("“", 40_000);
    const start = t.lastIndexOf("\n\n", q) + 2;
    return t.slice(start, start + 1500).replace(/\s+\S*$/, "");
  } catch {
    return '"Call me Ishmael," he said (not for the first time).';
  }
}

export function mountInspect(root: HTMLElement, lab: Lab): void {
  let trace: PageTrace | null = null;
  let selected = 0;
  let pinned: number | null = null;
  const area = h("textarea", { id: "inspect-text", rows: 6 });
  void defaultPassage().then((t) => (area.value ||= t));
  const chars = h("div", { class: "chars", id: "inspect-chars", "data-testid": "inspect-chars" });
  const preds = h("div", { class: "preds", id: "inspect-preds" });
  const info = h("p", { class: "status", id: "inspect-status" });
  const unitsTable = h("table", { class: "units", id: "units-table" });
  const unitsNote = h("p", { class: "legend", id: "units-note" });
  root.append(
    h("h2", {}, "Look inside"),
    h(
      "p",
      { class: "help" },
      "Each character is coloured by one unit after the model has read it: red positive, blue negative (gates, which lie in [0, 1], are centred at 0.5). Hover a character for the model's five likeliest next characters. ",
      "“Find units” ranks every unit by its correlation with a pattern over this text, as Karpathy et al. found their quote and line-length cells; a model needs a few thousand steps of training before such cells appear.",
    ),
    area,
    h(
      "div",
      { class: "row" },
      h("button", { class: "primary", id: "inspect-run", disabled: true }, "Analyse"),
      h("label", {}, "Layer", h("select", { id: "inspect-layer" })),
      h("label", {}, "Quantity", h("select", { id: "inspect-quantity" })),
      h("label", {}, "Unit", h("input", { id: "inspect-unit", type: "number", value: 0, min: 0, step: 1 })),
      h("button", { id: "unit-prev", title: "previous unit" }, "◀"),
      h("button", { id: "unit-next", title: "next unit" }, "▶"),
    ),
    info,
    chars,
    preds,
    h(
      "div",
      { class: "row" },
      selectField("Find units that follow", "pattern-kind", PATTERNS),
      h("label", { id: "pattern-regex-label", hidden: true }, "Regular expression", h("input", { id: "pattern-regex", type: "text", value: "[A-Z][a-z]+", size: 24 })),
      h("button", { id: "pattern-find", disabled: true }, "Find units"),
    ),
    unitsNote,
    unitsTable,
  );
  const run = byId<HTMLButtonElement>("inspect-run");
  const find = byId<HTMLButtonElement>("pattern-find");
  const layerSel = byId<HTMLSelectElement>("inspect-layer");
  const qSel = byId<HTMLSelectElement>("inspect-quantity");
  const unitIn = byId<HTMLInputElement>("inspect-unit");
  const kind = byId<HTMLSelectElement>("pattern-kind");
  kind.addEventListener("change", () => (byId("pattern-regex-label").hidden = kind.value !== "regex"));
  lab.onModel(() => (run.disabled = lab.model === null));

  const values = (): { v: Float32Array | Float64Array; scale: number; gate: boolean } | null => {
    if (!trace) return null;
    const layer = Number(layerSel.value);
    const q = qSel.value as keyof PageTrace["layers"][number];
    const all = trace.layers[layer]?.[q];
    if (!all) return null;
    const H = trace.hiddenSize;
    const v = new Float64Array(trace.steps);
    let max = 0;
    for (let t = 0; t < trace.steps; t++) {
      v[t] = all[t * H + selected];
      max = Math.max(max, Math.abs(v[t]));
    }
    const gate = GATES.has(q);
    return { v, scale: gate ? 1 : q === "c" ? Math.max(max, 1e-9) : 1, gate };
  };

  const paint = () => {
    const vs = values();
    if (!vs || !trace) return;
    const spans = chars.children;
    for (let t = 0; t < spans.length; t++) {
      const x = vs.gate ? 2 * vs.v[t] - 1 : vs.v[t] / vs.scale;
      const s = spans[t] as HTMLElement;
      s.style.background = divergingColor(x);
      s.dataset.v = vs.v[t].toFixed(4);
    }
    info.textContent = `${trace.cell}, layer ${layerSel.value}, ${QUANTITY_NAMES[qSel.value] ?? qSel.value}, unit ${selected} of ${trace.hiddenSize}` + (qSel.value === "c" ? ` (colour scale ±${vs.scale.toFixed(2)})` : "") + ` · ${fmt(trace.steps)} characters, ${trace.loss?.toFixed(3) ?? "–"} nats/char` + (trace.unknown ? ` · ${trace.unknown} characters not in the vocabulary skipped` : "");
  };

  const showPreds = (t: number) => {
    if (!trace) return;
    const next = trace.tokens[t + 1];
    const show = (s: string) => (s === "\n" ? "⏎" : s === " " ? "␣" : s);
    preds.replaceChildren(
      h("span", {}, `after “${show(trace.tokens[t])}” (step ${t}, value ${(chars.children[t] as HTMLElement).dataset.v}):`),
      ...trace.top[t].map((p) => h("span", { class: "pred", title: p.p.toFixed(4) }, `${show(p.token)} ${(p.p * 100).toFixed(1)}%`, h("span", { class: "bar", style: `width:${Math.round(p.p * 60)}px` }))),
      h("span", {}, next !== undefined ? `· actual next “${show(next)}”: ${((trace.nextProb[t] ?? 0) * 100).toFixed(1)}%` : "· end of text"),
    );
  };

  const selectUnit = (u: number) => {
    if (!trace) return;
    selected = Math.max(0, Math.min(trace.hiddenSize - 1, Math.round(u)));
    unitIn.value = String(selected);
    paint();
  };

  run.addEventListener("click", async () => {
    run.disabled = true;
    info.className = "status";
    info.textContent = "tracing…";
    try {
      const t0 = performance.now();
      trace = await lab.worker.call<PageTrace>("trace", { text: area.value });
      const ms = performance.now() - t0;
      layerSel.replaceChildren(...Array.from({ length: trace.numLayers }, (_, l) => h("option", { value: l, selected: l === trace!.numLayers - 1 }, String(l))));
      qSel.replaceChildren(...trace.quantities.map((q) => h("option", { value: q }, QUANTITY_NAMES[q] ?? q)));
      unitIn.max = String(trace.hiddenSize - 1);
      chars.replaceChildren(...trace.tokens.map((tok, t) => h("span", { "data-t": t }, tok)));
      pinned = null;
      selectUnit(Math.min(selected, trace.hiddenSize - 1));
      info.textContent += ` · traced in ${ms.toFixed(0)} ms`;
      find.disabled = false;
    } catch (e) {
      info.className = "status error";
      info.textContent = (e as Error).message;
    } finally {
      run.disabled = lab.model === null;
    }
  });
  chars.addEventListener("mouseover", (e) => {
    const t = (e.target as HTMLElement).dataset?.t;
    if (t !== undefined && pinned === null) showPreds(Number(t));
  });
  chars.addEventListener("click", (e) => {
    const t = (e.target as HTMLElement).dataset?.t;
    if (t === undefined) return;
    chars.querySelector(".sel")?.classList.remove("sel");
    pinned = pinned === Number(t) ? null : Number(t);
    if (pinned !== null) (e.target as HTMLElement).classList.add("sel");
    showPreds(Number(t));
  });
  for (const el of [layerSel, qSel]) el.addEventListener("change", paint);
  unitIn.addEventListener("input", () => Number.isFinite(Number(unitIn.value)) && selectUnit(Number(unitIn.value)));
  byId("unit-prev").addEventListener("click", () => selectUnit(selected - 1));
  byId("unit-next").addEventListener("click", () => selectUnit(selected + 1));

  find.addEventListener("click", async () => {
    const req: CorrelateRequest = {
      pattern: kind.value === "regex" ? `regex:${byId<HTMLInputElement>("pattern-regex").value}` : kind.value,
      layer: Number(layerSel.value),
      quantity: qSel.value as CorrelateRequest["quantity"],
    };
    try {
      const r = await lab.worker.call<CorrelateResult>("correlate", req);
      const on = r.pattern.reduce((s, x) => s + (x !== 0 ? 1 : 0), 0);
      unitsNote.className = "legend";
      unitsNote.textContent = `Units of layer ${req.layer} (${req.quantity}) by |r| with “${kind.selectedOptions[0].text}”${req.pattern.startsWith("regex:") ? ` ${req.pattern.slice(6)}` : ""} (non-zero at ${on} of ${r.pattern.length} characters); click one to colour the text by it.`;
      unitsTable.replaceChildren(
        h("tr", {}, h("th", {}, "unit"), h("th", {}, "r")),
        ...r.units.map((u) => h("tr", { "data-unit": u.unit, onclick: () => selectUnit(u.unit) }, h("td", {}, String(u.unit)), h("td", {}, u.r.toFixed(3)))),
      );
      if (r.units.length > 0) selectUnit(r.units[0].unit);
    } catch (e) {
      unitsNote.className = "status error";
      unitsNote.textContent = (e as Error).message;
      unitsTable.replaceChildren();
    }
  });
}
