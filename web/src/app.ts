/**
 * The web lab's page: five panels over one training worker. The page only draws; the worker
 * (worker.ts) trains, samples and measures, so the page never freezes.
 */
import { connectTrainingWorker } from "../../src/browser/train-client.js";
import type { Lab } from "./context.js";
import { byId, h } from "./dom.js";
import { mountTrain } from "./train-panel.js";
import { mountGenerate } from "./generate-panel.js";
import { mountInspect } from "./inspect-panel.js";
import { mountGradients } from "./gradients-panel.js";
import { mountUnrolled } from "./unrolled-panel.js";

const PANELS: readonly [id: string, title: string, mount: (root: HTMLElement, lab: Lab) => void][] = [
  ["train", "Train", mountTrain],
  ["generate", "Generate", mountGenerate],
  ["inside", "Look inside", mountInspect],
  ["gradients", "Vanishing gradients", mountGradients],
  ["unrolled", "Unrolled view", mountUnrolled],
];

function start(): void {
  const worker = connectTrainingWorker(new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "unroll training" }));
  const listeners: (() => void)[] = [];
  const message = byId("message");
  const lab: Lab = {
    worker,
    info: null,
    model: null,
    history: { train: [], val: [] },
    training: false,
    onModel: (l) => void listeners.push(l),
    modelChanged: () => listeners.forEach((l) => l()),
    say(text, kind = "info") {
      message.textContent = text;
      message.className = `status ${kind === "error" ? "error" : ""}`;
    },
  };
  worker.on("ready", ({ info }) => {
    lab.info = info;
    const el = byId("backend");
    el.textContent = `backend: ${info.backend}${info.module ? ` (${info.module === "relaxed-simd" ? "SIMD + relaxed SIMD" : "SIMD"})` : ""}, ${info.threads} thread${info.threads === 1 ? "" : "s"}` + (info.crossOriginIsolated ? ", cross-origin isolated" : ", not cross-origin isolated");
    if (info.note) el.append(" — ", h("span", { class: "note", "data-testid": "backend-note" }, info.note));
  });
  void worker.info().catch((e: Error) => lab.say(e.message, "error"));

  const tabs = byId("tabs");
  const panels = byId("panels");
  const select = (id: string) => {
    for (const b of tabs.querySelectorAll("button")) b.setAttribute("aria-selected", String(b.dataset.panel === id));
    for (const s of panels.querySelectorAll<HTMLElement>("section.panel")) s.hidden = s.id !== `panel-${id}`;
    history.replaceState(null, "", `#${id}`);
  };
  for (const [id, title, mount] of PANELS) {
    tabs.append(h("button", { role: "tab", "data-panel": id, id: `tab-${id}`, onclick: () => select(id) }, title));
    const section = h("section", { class: "panel", id: `panel-${id}`, role: "tabpanel" });
    panels.append(section);
    try {
      mount(section, lab);
    } catch (e) {
      section.append(h("p", { class: "status error" }, `this panel failed to start: ${(e as Error).message}`));
      console.error(e);
    }
  }
  (globalThis as { unrollLab?: Lab }).unrollLab = lab; // for the console (and the browser tests)
  const initial = location.hash.slice(1);
  select(PANELS.some(([id]) => id === initial) ? initial : "train");
}

start();
