/**
 * What the task runs share: their flags and setup interface, data fingerprints, tokenisation and
 * plot files.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { canRenderText, svgToPng } from "../node/png.js";
import type { TaskCheckpoint, TaskName } from "../tasks/task-checkpoint.js";
import type { TaskLoop } from "../tasks/trainer.js";
import type { Arena } from "../tensor/arena.js";
import { parseCell, type CellConfig } from "../cells/cell.js";

/** The options of a task run (the train command's flags that tasks read). */
export interface TaskFlags {
  task: TaskName;
  data?: string;
  corpus?: string;
  level?: "char" | "word";
  lowercase?: boolean;
  minCount: number;
  maxVocab?: number;
  cell: string;
  layers: number;
  hidden: number;
  embed?: number;
  dropout: number;
  batch: number;
  optimizer: "adam" | "adamw" | "sgd" | "rmsprop" | "adagrad";
  lr: number;
  momentum: number;
  lrDecay: number;
  clipNorm: number;
  weightDecay: number;
  maxSteps?: number;
  maxEpochs?: number;
  maxTime?: number;
  evalEvery: number;
  valFrac: number;
  testFrac: number;
  seed: number;
  forgetBias: number;
  dtype: "float32" | "float64";
  backend: string;
  threads?: number;
  out?: string;
  resume?: string;
  quiet?: boolean;
  json?: boolean;
  // task options
  pooling: "last" | "mean" | "max";
  bidirectional: boolean;
  classWeights: "none" | "balanced";
  maxLen: number;
  attention: "none" | "dot" | "general" | "additive";
  attentionSize: number;
  samplingProb: number;
  beam: number;
  lengthPenalty: number;
  sharedVocab?: boolean;
  srcLevel: "char" | "word";
  tgtLevel: "char" | "word";
  valDecode: number;
}

/** What a task contributes to a run. */
export interface TaskSetup {
  readonly task: TaskName;
  readonly model: { readonly params: Arena };
  readonly config: Readonly<Record<string, unknown>>;
  /** vocabularies, labels, data description: everything the checkpoint needs besides config */
  readonly meta: Readonly<Record<string, unknown>>;
  readonly loop: TaskLoop<unknown>;
  /** One line describing the data, printed at the start. */
  readonly summary: string;
  /** The test report of the current parameters (written to report.json, printed); plots go in `dir`. */
  report(dir: string): Record<string, unknown>;
  /** Lines for a human from the report. */
  describe(report: Record<string, unknown>): string[];
}

/** FNV-1a over strings: a fingerprint of the data, so a resumed run refuses different data. */
export function fingerprint(parts: Iterable<string>): string {
  let h = 0x811c9dc5;
  let n = 0;
  for (const s of parts) {
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h ^= 0x1f;
    h = Math.imul(h, 0x01000193) >>> 0;
    n++;
  }
  return `${n}:${h.toString(16).padStart(8, "0")}`;
}

/** Tokens of a text at `level`: code points, or whitespace-separated words. */
export function tokenize(text: string, level: "char" | "word"): string[] {
  return level === "char" ? Array.from(text) : text.split(/\s+/).filter((w) => w.length > 0);
}

export function checkData(f: TaskFlags, corpora: readonly string[]): void {
  if (f.data === undefined && (f.corpus === undefined || !corpora.includes(f.corpus))) {
    throw new Error(`--task ${f.task} needs --data FILE or a built-in --corpus (${corpora.join(", ")})`);
  }
}

export function checkFingerprint(resume: TaskCheckpoint | undefined, fp: string): void {
  const saved = resume?.meta.fingerprint;
  if (resume && saved !== fp) throw new Error(`the data differs from the data this run was trained on (fingerprint ${String(saved)}, now ${fp}): resume with the same --data`);
}

export function embedOf(f: TaskFlags): number {
  return f.embed ?? Math.min(f.hidden, 128);
}

export function pct(x: unknown): string {
  return typeof x === "number" ? `${(100 * x).toFixed(2)}%` : "—";
}

export function writePlot(dir: string, name: string, svg: string): string[] {
  const paths = [join(dir, `${name}.svg`)];
  writeFileSync(paths[0], svg);
  try {
    if (canRenderText()) {
      writeFileSync(join(dir, `${name}.png`), svgToPng(svg, 900));
      paths.push(join(dir, `${name}.png`));
    }
  } catch {
    // the SVG is complete; a PNG is a convenience
  }
  return paths;
}


/** Row labels of a decoded output's attention: its tokens, and </s> when decoding ended on it (not at the length limit). */
export function attentionRows(tokens: readonly string[], attention: ArrayLike<number>, srcLen: number): string[] {
  const rows = attention.length / srcLen;
  return rows > tokens.length ? [...tokens, "</s>"] : [...tokens];
}

/** Copies a task checkpoint's parameters into a freshly built model's arena, checking their count. */
export function loadCheckpointParams(ck: TaskCheckpoint, params: Arena): void {
  const p = ck.tensors.get("params")!;
  if (p.length !== params.data.length) throw new Error(`the checkpoint holds ${p.length} parameters but its model needs ${params.data.length}; it is damaged`);
  params.data.set(p);
}

/** The encoder's part of a task model's config, from the flags shared by classify, tag and seq2seq. */
export function encoderOptions(f: TaskFlags): { embedSize: number; cell: CellConfig; hiddenSize: number; numLayers: number; bidirectional: boolean; dropout: number } {
  return { embedSize: embedOf(f), cell: parseCell(f.cell), hiddenSize: f.hidden, numLayers: f.layers, bidirectional: f.bidirectional, dropout: f.dropout };
}
