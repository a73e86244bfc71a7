/**
 * Initialisation of a whole language model, drawing from one seeded generator in the arena's
 * tensor order.
 *
 * - `pytorch`: PyTorch's defaults: `embedding.weight` ~ N(0, 1); every recurrent weight and bias
 *   and the output layer ~ U(±1/√H) (for `nn.Linear(H, V)` that is its U(±1/√fan_in)).
 * - `charrnn`: char-rnn's U(±0.08) for every parameter.
 * - `recurrent: "orthogonal"`: each gate block of every W_hh an independent orthogonal matrix.
 * - `forgetBias`: added to the forget-gate rows of the LSTM's b_ih (Gers et al. 2000; Jozefowicz
 *   et al. 2015 recommend 1), so the cell starts out remembering.
 */
import { createCell } from "../cells/index.js";
import { bindLanguageModel, type LanguageModel } from "../model/language-model.js";
import type { Rng } from "../tensor/random.js";
import { charRnnUniform, normal, orthogonalBlocks, pytorchRnnUniform } from "./init.js";

/** How to initialise a model. */
export interface InitOptions {
  readonly scheme: "pytorch" | "charrnn";
  /** W_hh init; default: as the scheme. */
  readonly recurrent?: "scheme" | "orthogonal";
  /** Added to the LSTM forget-gate bias (b_ih rows f); default 0. */
  readonly forgetBias?: number;
}

/** Overwrites every parameter of `model`. */
export function initLanguageModel(model: LanguageModel, rng: Rng, opts: InitOptions = { scheme: "pytorch" }): void {
  const c = model.config;
  const H = c.hiddenSize;
  for (const spec of model.params.specs) {
    const off = model.params.offsets.get(spec.name)!;
    const w = model.params.data.subarray(off, off + spec.shape.reduce((a, b) => a * b, 1));
    if (opts.scheme === "charrnn") charRnnUniform(w, rng);
    else if (spec.name === "embedding.weight") normal(w, 0, 1, rng);
    else pytorchRnnUniform(w, H, rng);
  }
  const v = bindLanguageModel(c, model.params);
  const cell = createCell(c.cell);
  for (const d of v.rnn.dirs) {
    if (opts.recurrent === "orthogonal") orthogonalBlocks(d.Whh, cell.G, H, rng);
    if (opts.forgetBias && c.cell.kind === "lstm") {
      const F = c.cell.coupled ? 0 : 1; // row block of f
      for (let j = 0; j < H; j++) d.bih[F * H + j] += opts.forgetBias;
    }
  }
}
