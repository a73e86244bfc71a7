/**
 * Generate: text from the worker's model (while it trains, too), streamed as it comes, with
 * temperature, top-k, top-p, a prime, a seed (same seed, same text) and the weights' format (auto:
 * int8, which the wasm backend multiplies fastest, where the model allows it).
 */
import type { Lab } from "./context.js";
import { byId, fmt, h, numberField, readNumber, selectField } from "./dom.js";
import type { SamplePiece, SampleRequest } from "./worker.js";

export function mountGenerate(root: HTMLElement, lab: Lab): void {
  let current = 0;
  const out = h("pre", { class: "out", id: "sample-out", "data-testid": "sample-out" });
  root.append(
    h("h2", {}, "Generate"),
    h("p", { class: "help" }, "Samples one character at a time from the model's softmax: the temperature divides the logits (below 1: safer, above 1: wilder), top-k keeps the k likeliest characters, top-p the smallest set whose probability reaches p. The prime is fed first, so the model continues it. Works while training runs, with the weights as they are. Weights: int8 (one byte per weight, a scale per row) multiplies several times faster than float32 here, within 0.01 nats per character of it; auto picks it where the model allows."),
    h(
      "div",
      { class: "row" },
      h("label", {}, "Prime", h("input", { id: "prime", type: "text", value: "Call me ", size: 30 })),
      numberField("Temperature", "temperature", 0.8, { min: 0.05, max: 3, step: 0.05 }),
      numberField("Top-k (0: off)", "top-k", 0, { min: 0, step: 1 }),
      numberField("Top-p (1: off)", "top-p", 1, { min: 0.01, max: 1, step: 0.05 }),
      numberField("Length", "length", 500, { min: 1, max: 100000, step: 100 }),
      numberField("Seed", "sample-seed", 1, { min: 0, step: 1 }),
      selectField("Weights", "sample-weights", [["auto", "auto (int8 where fastest)"], ["int8", "int8"], ["float32", "float32"]], "auto"),
      h("button", { class: "primary", id: "generate", disabled: true }, "Generate"),
      h("button", { id: "generate-stop", disabled: true }, "Stop"),
    ),
    out,
    h("p", { class: "status", id: "sample-status" }),
  );
  const go = byId<HTMLButtonElement>("generate");
  const stop = byId<HTMLButtonElement>("generate-stop");
  const status = byId("sample-status");
  lab.onModel(() => (go.disabled = lab.model === null));
  lab.worker.on("custom", ({ data }) => {
    const p = data as Partial<SamplePiece>;
    if (p.sample === current && typeof p.text === "string") out.textContent += p.text;
  });
  go.addEventListener("click", async () => {
    let req: SampleRequest;
    try {
      req = {
        id: ++current,
        prime: byId<HTMLInputElement>("prime").value,
        temperature: readNumber("temperature", { min: 0.01, max: 10 }),
        topK: readNumber("top-k", { min: 0, integer: true }),
        topP: readNumber("top-p", { min: 0.001, max: 1 }),
        length: readNumber("length", { min: 1, max: 100_000, integer: true }),
        seed: readNumber("sample-seed", { min: 0, integer: true }),
        weights: byId<HTMLSelectElement>("sample-weights").value as SampleRequest["weights"],
      };
    } catch (e) {
      status.textContent = (e as Error).message;
      status.className = "status error";
      return;
    }
    out.textContent = req.prime;
    status.className = "status";
    status.textContent = "generating…";
    stop.disabled = false;
    try {
      const r = await lab.worker.call<{ tokens: number; ms: number; unknown: number; stopped: boolean; weights: string }>("sample", req);
      if (req.id !== current) return;
      status.textContent =
        `${fmt(r.tokens)} characters in ${(r.ms / 1000).toFixed(2)} s (${fmt((r.tokens / r.ms) * 1000)} chars/s, ${r.weights} weights)` +
        (r.stopped ? ", stopped" : "") +
        (r.unknown > 0 ? `; ${r.unknown} characters of the prime are not in the model's vocabulary and were skipped` : "");
    } catch (e) {
      status.textContent = (e as Error).message;
      status.className = "status error";
    } finally {
      if (req.id === current) stop.disabled = true;
    }
  });
  stop.addEventListener("click", () => void lab.worker.call("stopSample"));
}
