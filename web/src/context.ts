/** What the panels of the web lab share: the training worker and the model it holds. */
import type { TrainingWorker, WorkerBackendInfo, WorkerModelSummary } from "../../src/browser/index.js";

export interface Lab {
  /** The worker that trains and holds the char-LM (web/src/worker.ts). */
  readonly worker: TrainingWorker;
  /** What the worker runs on, once known. */
  info: WorkerBackendInfo | null;
  /** The model the worker holds now (trained or loaded), or null. */
  model: WorkerModelSummary | null;
  /** The losses of the current run: [step, loss] per step, and per validation. */
  readonly history: { readonly train: [number, number][]; readonly val: [number, number][] };
  /** Whether a training is running. */
  training: boolean;
  /** Called whenever the model changes (a step, a load); panels refresh what depends on it. */
  onModel(listener: () => void): void;
  modelChanged(): void;
  /** Shows a message in the page's status line (errors in red). */
  say(text: string, kind?: "info" | "error"): void;
}
