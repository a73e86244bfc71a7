/**
 * `unroll export`, `unroll import`, `unroll inspect`: models to and from other frameworks' files
 * (safetensors, for PyTorch), and a look inside any model file.
 */
import { Command, Option } from "commander";
import { readFileSync, writeFileSync } from "node:fs";
import { cellName } from "../cells/cell.js";
import { exportLanguageModel, importLanguageModel, LAYER_FORMAT, LM_FORMAT, PYTORCH_CELLS, type PyTorchCellName } from "../io/pytorch.js";
import { readSafetensors, type Safetensors } from "../io/safetensors.js";
import { describeOnnx, exportOnnx } from "../io/onnx.js";
import type { Checkpoint } from "../model/checkpoint.js";
import { CHECKPOINT_MAGIC, decodeCheckpoint } from "../model/checkpoint-codec.js";
import type { LanguageModelConfig } from "../model/language-model.js";
import { modelFromCheckpoint, type TrainedModel } from "../model/trained.js";
import { readCheckpointFile, writeCheckpointFile } from "../node/checkpoint-file.js";
import type { DType } from "../tensor/dtype.js";
import { checkVocabulary, type Vocabulary } from "../text/vocab.js";
import { formatDuration } from "./options.js";

/**
 * The formats `unroll export` writes: each turns a trained model into a file's bytes. A new
 * format is one entry here; `--format` offers every key.
 */
const EXPORTERS: Readonly<Record<string, { readonly what: string; readonly write: (lm: TrainedModel) => Uint8Array }>> = {
  safetensors: { what: "safetensors (PyTorch state dict)", write: exportLanguageModel },
  onnx: { what: "ONNX (scoring and step-by-step generation)", write: (lm) => exportOnnx(lm) },
};

interface ExportFlags {
  format: string;
}

/** `unroll export CKPT OUT` */
export function exportCommand(): Command {
  return new Command("export")
    .summary("write a trained model in another framework's format")
    .description(
      "Writes a checkpoint's model (weights, config, vocabulary; not its training\n" +
        "state) for another framework. safetensors: the state dict of a PyTorch\n" +
        "module with submodules embedding (nn.Embedding), lstm|gru|rnn (batch_first)\n" +
        "and linear (nn.Linear); the metadata holds the config and vocabulary. Cells\n" +
        "PyTorch has no module for (lstm-peephole, lstm-coupled, gru-cho,\n" +
        "rnn-sigmoid, the hard-sigmoid -hard cells) are refused. onnx: the ONNX\n" +
        "operators LSTM/GRU/RNN with embedding (Gather), linear (MatMul+Add) and\n" +
        "softmax, state inputs and outputs for step-by-step generation; runs in ONNX\n" +
        "Runtime (all cells).",
    )
    .argument("<checkpoint>", "checkpoint to export (e.g. runs/…/best.ckpt)")
    .argument("<out>", "file to write (e.g. model.safetensors, model.onnx)")
    .addOption(new Option("--format <format>", "file format").choices(Object.keys(EXPORTERS)).default("safetensors"))
    .action((ckpt: string, out: string, f: ExportFlags) => {
      const lm = modelFromCheckpoint(readCheckpointFile(ckpt));
      const exporter = EXPORTERS[f.format];
      let bytes: Uint8Array;
      try {
        bytes = exporter.write(lm);
      } catch (e) {
        throw new Error(`${ckpt}: cannot export as ${f.format}: ${(e as Error).message.replace(/^\w+: /, "")}`, { cause: e });
      }
      try {
        writeFileSync(out, bytes);
      } catch (e) {
        throw new Error(`${out}: cannot write the file: ${(e as Error).message}`, { cause: e });
      }
      console.log(`wrote ${out}: ${exporter.what}, ${describeModel(lm.model.config)}, ${vocabText(lm.vocab)}; ${count(lm.model.params.data.length)} parameters (${lm.model.params.dtype}), ${bytesText(bytes.length)}`);
    });
}

interface ImportFlags {
  out: string;
  cell?: PyTorchCellName;
  vocab?: string;
  dtype?: DType;
}

/** `unroll import FILE --out CKPT` */
export function importCommand(): Command {
  return new Command("import")
    .summary("turn a safetensors file (from PyTorch or unroll export) into a checkpoint")
    .description(
      "Reads a language model's state dict (embedding.weight, lstm.*|gru.*|rnn.*,\n" +
        "linear.weight, linear.bias), checks every tensor, and writes a checkpoint\n" +
        "without training state, ready for sample and eval. Config and vocabulary\n" +
        "come from the file's metadata (as unroll export writes it), or from --cell\n" +
        "and --vocab.",
    )
    .argument("<file>", "safetensors file")
    .requiredOption("--out <ckpt>", "checkpoint to write")
    .addOption(new Option("--cell <name>", "the recurrent cell, when the metadata does not name it (an nn.RNN: rnn or rnn-relu)").choices(PYTORCH_CELLS))
    .option("--vocab <json>", 'vocabulary file, when the metadata has none: {"kind": "char", "tokens": ["a", "b", …]}')
    .addOption(new Option("--dtype <dtype>", "parameter dtype (default: float64 when the file is all F64, else float32)").choices(["float32", "float64"]))
    .action((file: string, f: ImportFlags) => {
      const vocab = f.vocab === undefined ? undefined : readVocabulary(f.vocab);
      const lm = importLanguageModel(readBytes(file, "safetensors file"), file, { cell: f.cell, vocab, dtype: f.dtype });
      const ck: Checkpoint = {
        model: lm.model.config,
        dtype: lm.model.params.dtype,
        vocab: lm.vocab,
        tensors: new Map([["params", lm.model.params.data]]),
        training: null,
      };
      writeCheckpointFile(f.out, ck);
      console.log(`wrote ${f.out}: ${describeModel(ck.model)}, ${vocabText(ck.vocab)}; ${count(lm.model.params.data.length)} parameters (${ck.dtype}), no training state`);
    });
}

/** `unroll inspect FILE` */
export function inspectCommand(): Command {
  return new Command("inspect")
    .summary("describe a checkpoint, safetensors or ONNX file")
    .description(
      "Checkpoints: model, vocabulary, parameter count, training progress.\n" +
        "safetensors: metadata, and every tensor's dtype and shape.\n" +
        "ONNX: opsets, inputs and outputs with shapes, nodes, initializers.",
    )
    .argument("<file>", "checkpoint (.ckpt), safetensors or ONNX (.onnx) file")
    .option("--json", "print one JSON object")
    .action((file: string, f: { json?: boolean }) => {
      const bytes = readBytes(file, "file");
      const report = isCheckpoint(bytes)
        ? checkpointReport(file, bytes)
        : looksLikeSafetensors(file, bytes)
          ? safetensorsReport(file, bytes)
          : looksLikeOnnx(file, bytes)
            ? onnxReport(file, bytes)
            : unknownFile(file, bytes);
      console.log(f.json ? JSON.stringify(report.json) : report.text.join("\n"));
    });
}

// ---------------------------------------------------------------------------------------------
// inspect

interface Report {
  readonly json: Record<string, unknown>;
  readonly text: string[];
}

function isCheckpoint(b: Uint8Array): boolean {
  return b.length >= 8 && [...CHECKPOINT_MAGIC].every((ch, i) => b[i] === ch.charCodeAt(0));
}

/** A u64 header length that fits the file, then "{": safetensors, or the name says so. */
function looksLikeSafetensors(path: string, b: Uint8Array): boolean {
  return path.endsWith(".safetensors") || (b.length > 9 && b[8] === 0x7b && b[5] === 0 && b[6] === 0 && b[7] === 0);
}

/** The .onnx extension, or a protobuf that starts with ModelProto's ir_version field. */
function looksLikeOnnx(path: string, b: Uint8Array): boolean {
  return path.endsWith(".onnx") || (b.length > 2 && b[0] === 0x08 && b[1] < 0x80 && [0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42].includes(b[2]));
}

function onnxReport(path: string, bytes: Uint8Array): Report {
  let text: string;
  try {
    text = describeOnnx(bytes);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`, { cause: e });
  }
  const lines = [`${path}: ${bytesText(bytes.length)}`, ...text.split("\n").map((l) => `  ${l}`)];
  return { json: { file: path, kind: "onnx", bytes: bytes.length, description: text }, text: lines };
}

function checkpointReport(path: string, bytes: Uint8Array): Report {
  const ck = decodeCheckpoint(bytes, path);
  const params = ck.tensors.get("params")!.length;
  const t = ck.training;
  const tensors = [...ck.tensors].map(([name, a]) => ({ name, length: a.length }));
  const text = [
    `${path}: unroll checkpoint, ${bytesText(bytes.length)}`,
    `  model       ${describeModel(ck.model)}, dropout ${ck.model.dropout}`,
    `  vocabulary  ${ck.vocab.kind}, ${count(ck.vocab.tokens.length)} tokens${ck.vocab.kind === "word" && ck.vocab.lowercase ? ", lowercased" : ""}`,
    `  parameters  ${count(params)} (${ck.dtype})`,
    t === null
      ? "  training    none (weights only: sample and eval work, --resume does not)"
      : `  training    step ${t.progress.step}, epoch ${t.progress.epoch}, ` +
        `best validation loss ${t.progress.bestValLoss === null ? "not evaluated yet" : `${t.progress.bestValLoss.toFixed(4)} nats/token`}, ` +
        `${formatDuration(t.progress.elapsedMs)} of training, optimizer ${t.optimizer.kind}`,
    `  tensors     ${tensors.map((x) => `${x.name} (${count(x.length)})`).join(", ")}`,
  ];
  const json = {
    file: path,
    kind: "checkpoint",
    bytes: bytes.length,
    model: { ...ck.model, cell: cellName(ck.model.cell) },
    dtype: ck.dtype,
    vocabulary: { kind: ck.vocab.kind, size: ck.vocab.tokens.length },
    parameters: params,
    training: t === null ? null : { ...t.progress, optimizer: t.optimizer.kind },
    tensors,
  };
  return { json, text };
}

function safetensorsReport(path: string, bytes: Uint8Array): Report {
  const file = readSafetensors(bytes, path);
  const names = Object.keys(file.tensors).sort();
  const values = names.reduce((n, k) => n + file.tensors[k].data.length, 0);
  const text = [`${path}: safetensors, ${names.length} tensor${names.length === 1 ? "" : "s"}, ${count(values)} values, ${bytesText(bytes.length)}`];
  const keys = Object.keys(file.metadata).sort();
  if (keys.length > 0) {
    text.push("  metadata");
    const w = Math.max(...keys.map((k) => k.length));
    for (const k of keys) text.push(`    ${k.padEnd(w)}  ${abbreviate(file.metadata[k])}`);
  }
  if (names.length > 0) {
    text.push("  tensors");
    const w = Math.max(...names.map((k) => k.length));
    for (const k of names) text.push(`    ${k.padEnd(w)}  ${file.tensors[k].dtype.padEnd(4)}  (${file.tensors[k].shape.join(", ")})`);
  }
  const what = contents(path, bytes, file);
  if (what) text.push(`  ${what}`);
  const json = {
    file: path,
    kind: "safetensors",
    bytes: bytes.length,
    metadata: { ...file.metadata },
    tensors: names.map((k) => ({ name: k, dtype: file.tensors[k].dtype, shape: file.tensors[k].shape })),
    ...(what ? { contents: what } : {}),
  };
  return { json, text };
}

/** What unroll makes of a safetensors file written by unroll (or with its metadata). */
function contents(path: string, bytes: Uint8Array, file: Safetensors): string | null {
  if (file.metadata.format === LM_FORMAT) {
    try {
      const lm = importLanguageModel(bytes, path);
      return `an unroll language model: ${describeModel(lm.model.config)}, ${vocabText(lm.vocab)} (unroll import makes it a checkpoint)`;
    } catch (e) {
      return `not a loadable language model: ${(e as Error).message.slice(path.length + 2)}`;
    }
  }
  if (file.metadata.format === LAYER_FORMAT) return "a recurrent layer exported by unroll (load it with importRecurrentLayer)";
  return null;
}

function unknownFile(path: string, bytes: Uint8Array): never {
  try {
    decodeCheckpoint(bytes, path); // says what the file looks like
  } catch (e) {
    throw new Error(`${(e as Error).message.replace(/; give a checkpoint file written by unroll$/, "")}; unroll inspect reads unroll checkpoints, safetensors and ONNX files`, { cause: e });
  }
  throw new Error(`${path}: not a file unroll can inspect`);
}

// ---------------------------------------------------------------------------------------------
// Shared

function readBytes(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Error(`no such ${what}: ${path}; check the path`, { cause: e });
    if (code === "EISDIR") throw new Error(`${path} is a folder; name a file inside it`, { cause: e });
    throw new Error(`${path}: cannot read the ${what}: ${(e as Error).message}`, { cause: e });
  }
}

function readVocabulary(path: string): Vocabulary {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(readBytes(path, "vocabulary file"));
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message}); a vocabulary file is {"kind": "char", "tokens": ["a", "b", …]}`, { cause: e });
  }
  return checkVocabulary(doc, path);
}

function describeModel(c: LanguageModelConfig): string {
  return `${cellName(c.cell)}, ${c.numLayers} layer${c.numLayers === 1 ? "" : "s"} × ${c.hiddenSize} hidden, ${c.embedSize > 0 ? `embedding ${c.embedSize}` : "one-hot input"}`;
}

function vocabText(v: Vocabulary): string {
  return `${v.kind} vocabulary of ${count(v.tokens.length)} tokens`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function bytesText(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function abbreviate(s: string): string {
  return s.length <= 100 ? s : `${s.slice(0, 97)}… (${count(s.length)} characters)`;
}
