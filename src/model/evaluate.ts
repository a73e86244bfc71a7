/**
 * Evaluation of a language model on chunks of text: the mean cross-entropy with the state carried
 * from chunk to chunk. In the model layer, so that both training (validation) and generation
 * (`evaluate`) use it without importing each other.
 */
import type { Backend } from "../backend/backend.js";
import type { Chunk } from "../text/batches.js";
import { Workspace } from "../tensor/workspace.js";
import { languageModelForward, languageModelLoss, type LanguageModel, type RecurrentState } from "./language-model.js";

/**
 * Mean cross-entropy (nats per token) over `chunks` in order, the state starting at zero and
 * carried from chunk to chunk (the model is not changed).
 */
export function evaluateChunks(backend: Backend, model: LanguageModel, chunks: readonly Chunk[]): number {
  let state: RecurrentState | null = null;
  let total = 0;
  let count = 0;
  const workspace = new Workspace();
  for (const chunk of chunks) {
    workspace.reset();
    const pass = languageModelForward(backend, model, chunk.x, chunk.S, chunk.B, state, { workspace });
    const n = chunk.S * chunk.B;
    total += languageModelLoss(model, pass, chunk.y, null) * n;
    count += n;
    state = pass.state;
  }
  if (count === 0) throw new Error("nothing to evaluate: there are no chunks (the split left none; use more text or a smaller batch)");
  return total / count;
}
