/**
 * What a checkpoint holds, as plain data: enough to sample from the model, evaluate it, or resume
 * its training exactly where it stopped. Encoding to bytes (magic, format version, checksum) is
 * in `checkpoint-codec.ts`; writing files atomically is a Node edge (`src/node/checkpoint-file.ts`).
 */
import type { LanguageModelConfig } from "./language-model.js";
import type { DType, FloatArray } from "../tensor/dtype.js";
import type { Vocabulary } from "../text/vocab.js";

/** The current checkpoint format version; readers reject newer ones. */
export const CHECKPOINT_VERSION = 1;

/** Where a training run stands, so that `--resume` continues it bit for bit. */
export interface TrainingProgress {
  /** Optimizer steps taken. */
  readonly step: number;
  /** Completed passes over the training chunks. */
  readonly epoch: number;
  /** Index of the next training chunk within the epoch. */
  readonly position: number;
  /** Best validation loss so far (nats per token), or null before the first evaluation. */
  readonly bestValLoss: number | null;
  /** Training time spent so far, in milliseconds. */
  readonly elapsedMs: number;
}

/** The training state besides the parameters (JSON-safe, with big buffers in `tensors`). */
export interface TrainingSnapshot {
  /** The run's resolved options (hyperparameters, data split), JSON-safe. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly progress: TrainingProgress;
  /** Random generator state (dropout masks, sampling). */
  readonly rng: readonly number[];
  /** Optimizer kind and step count; its moment buffers are `tensors["optimizer.<name>"]`. */
  readonly optimizer: { readonly kind: string; readonly t: number };
  /** Learning-rate schedule state (plateau), or null. */
  readonly schedule: Readonly<Record<string, unknown>> | null;
  /** Whether a recurrent state is carried into the next chunk (`tensors["carry.h"]`, `["carry.c"]`). */
  readonly carry: boolean;
}

/** A model with its vocabulary, and optionally the state of its training. */
export interface Checkpoint {
  readonly model: LanguageModelConfig;
  readonly dtype: DType;
  readonly vocab: Vocabulary;
  /**
   * Big buffers by name, all in `dtype`: "params" (the model arena, in the order of
   * `languageModelSpecs`), "optimizer.<buffer>", "carry.h", "carry.c".
   */
  readonly tensors: ReadonlyMap<string, FloatArray>;
  readonly training: TrainingSnapshot | null;
}
