/**
 * A trained language model with its vocabulary: what `sample` and `evaluate` take, built from a
 * checkpoint (or from a running training).
 */
import { createLanguageModel, type LanguageModel } from "./language-model.js";
import type { Checkpoint } from "./checkpoint.js";
import type { Vocabulary } from "../text/vocab.js";

/** A model and the vocabulary its token ids refer to. */
export interface TrainedModel {
  readonly model: LanguageModel;
  readonly vocab: Vocabulary;
}

/** The model a checkpoint holds (weights copied). */
export function modelFromCheckpoint(ck: Checkpoint): TrainedModel {
  const model = createLanguageModel(ck.model, ck.dtype);
  const p = ck.tensors.get("params");
  if (!p || p.length !== model.params.data.length) {
    throw new Error(`the checkpoint's parameters (${p?.length ?? 0} values) do not fit its model config (${model.params.data.length}); the file is inconsistent`);
  }
  model.params.data.set(p);
  if (ck.vocab.tokens.length !== ck.model.vocabSize) throw new Error(`the checkpoint's vocabulary has ${ck.vocab.tokens.length} tokens but its model ${ck.model.vocabSize}`);
  return { model, vocab: ck.vocab };
}
