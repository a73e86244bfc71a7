import { describe, expect, it } from "vitest";
import { jsBackend } from "../src/backend/js/index.js";
import { runReference } from "../src/conformance/reference.js";
import { loadReference, referenceFiles } from "./helpers/fixtures.js";

const files = referenceFiles();

describe("reference vectors (PyTorch 1.13, float64)", () => {
  it("ships all ten reference files", () => {
    expect(files.length).toBe(10);
  });
  for (const dtype of ["float64", "float32"] as const) {
    for (const file of files) {
      it(`${file} in ${dtype}: every output and gradient within tolerance`, () => {
        const ref = loadReference(file);
        const report = runReference(ref, dtype, jsBackend);
        const failing = report.tensors.filter((t) => !t.pass).map((t) => `${t.name}: ratio ${t.worstRatio.toExponential(2)}`);
        expect(failing).toEqual([]);
        // every gradient the file holds was compared
        const compared = new Set(report.tensors.map((t) => t.name));
        for (const name of Object.keys(ref.tensors)) if (name.startsWith("grad.")) expect(compared.has(name), name).toBe(true);
        for (const name of ["y", "h_n", "c_n", "L", "loss", "logits"]) if (name in ref.tensors) expect(compared.has(name), name).toBe(true);
      });
    }
  }
});
