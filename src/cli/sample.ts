import { Command, Option } from "commander";
import { readCheckpointFile } from "../node/checkpoint-file.js";
import { modelFromCheckpoint } from "../model/trained.js";
import { sample } from "../generate/text.js";
import { autoWeightFormat, quantizeLanguageModel, type WeightFormat } from "../generate/quantized.js";
import { backendName, int, num } from "./options.js";
import { applyThreadsOption } from "../node/native-backend.js";
import { readFileSync } from "node:fs";
import { getBackend } from "../backend/select.js";
import { isTaskCheckpoint, decodeTaskCheckpoint } from "../tasks/task-checkpoint.js";
import { Rng } from "../tensor/random.js";
import { conditionalFromCheckpoint, sampleCondition } from "./setup-conditional.js";
import { codePoints, type Vocabulary } from "../text/vocab.js";

interface SampleFlags {
  model: string;
  length: number;
  temperature: number;
  topK?: number;
  topP?: number;
  prime?: string;
  seed: number;
  argmax?: boolean;
  stop?: string;
  num: number;
  condition?: string;
  backend: string;
  threads?: number;
  weights: "auto" | WeightFormat;
}

/** `unroll sample` */
export function sampleCommand(): Command {
  return new Command("sample")
    .summary("generate text from a trained model")
    .description("Streams text from a checkpoint as it is generated (state carried: O(1) work per token).")
    .requiredOption("--model <ckpt>", "checkpoint to sample from (e.g. runs/…/best.ckpt)")
    .option("--length <n>", "tokens to generate per sample", int(1), 1000)
    .option("--temperature <t>", "softmax temperature; lower is more conservative", num(0), 1)
    .option("--top-k <k>", "sample among the k most likely tokens only", int(1))
    .option("--top-p <p>", "nucleus sampling: the most likely tokens with total probability p", num(0, 1))
    .option("--prime <text>", "text to start from: characters the model was trained on (a word model reads unknown words as <unk>)")
    .option("--seed <n>", "random seed", int(0), 1)
    .option("--argmax", "always take the most likely token (greedy)")
    .option("--stop <string>", "stop a sample once it contains this string")
    .option("--num <n>", "number of samples", int(1), 1)
    .option("--condition <label>", "a conditional model (--task conditional): the label to generate from")
    .option("--backend <name>", "compute backend", backendName, "auto")
    .option("--threads <n>", "native backend threads (default: logical cores, at most 8; or UNROLL_THREADS)", int(1))
    .addOption(
      new Option(
        "--weights <format>",
        "weight matrices: float32, bf16 or int8 (per-row scales; language models); auto: int8 on the native and wasm " +
          "backends, where it is fastest (I1: native 5.5× float32, bf16 2.6×; wasm 7×) and within 0.01 nats/char of float32 " +
          "(+0.00006 measured; bf16 +0.00002), else float32",
      )
        .choices(["auto", "float32", "bf16", "int8"])
        .default("auto"),
    )
    .action((f: SampleFlags) => {
      applyThreadsOption(f.threads);
      if (sampleConditional(f)) return; // (float32 weights: --weights int8 is for language models)
      if (f.condition !== undefined) throw new Error(`--condition needs a model trained with --task conditional; ${f.model} is a language model`);
      const lm = modelFromCheckpoint(readCheckpointFile(f.model));
      if (f.prime) checkPrime(lm.vocab, f.prime);
      const format: WeightFormat = f.weights !== "auto" ? f.weights : autoWeightFormat(getBackend(f.backend).name, lm.model);
      const weights = format === "float32" ? format : quantizeLanguageModel(lm.model, format); // once for all --num samples
      for (let i = 0; i < f.num; i++) {
        if (f.num > 1) process.stdout.write(`${i > 0 ? "\n" : ""}--- sample ${i + 1} ---\n`);
        if (f.prime) process.stdout.write(f.prime);
        for (const piece of sample(lm, {
          length: f.length,
          temperature: f.temperature,
          topK: f.topK,
          topP: f.topP,
          argmax: f.argmax,
          prime: f.prime,
          stop: f.stop,
          seed: f.seed + i,
          backend: f.backend,
          weights,
          onUnknown: (n) => {
            if (i === 0) process.stderr.write(`unroll: ${n} word(s) of --prime are not in the model's vocabulary and were read as <unk>\n`);
          },
        })) {
          process.stdout.write(piece);
        }
        process.stdout.write("\n");
      }
    });
}

/** A character model cannot read a character it never saw: refuse such a --prime (a word model reads <unk>). */
function checkPrime(vocab: Vocabulary, prime: string): void {
  if (vocab.kind !== "char") return;
  const known = new Set(vocab.tokens);
  const missing = [...new Set(codePoints(prime).filter((ch) => !known.has(ch)))];
  if (missing.length > 0) {
    const shown = missing.slice(0, 10).map((ch) => JSON.stringify(ch)).join(", ") + (missing.length > 10 ? ` and ${missing.length - 10} more` : "");
    throw new Error(`--prime holds ${shown}, not in the model's vocabulary of ${vocab.tokens.length} characters; use characters the model was trained on`);
  }
}

/** Samples from a conditional checkpoint (one text per line); false when `f.model` is not a task checkpoint. */
function sampleConditional(f: SampleFlags): boolean {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(f.model);
  } catch {
    return false; // the language-model reader reports the path
  }
  if (!isTaskCheckpoint(bytes)) return false;
  const ck = decodeTaskCheckpoint(bytes, f.model);
  if (ck.task !== "conditional") throw new Error(`${f.model} is a ${ck.task} model; sample generates from language models and --task conditional models`);
  const { model, meta } = conditionalFromCheckpoint(ck);
  if (f.condition === undefined) throw new Error(`${f.model} generates from a condition: add --condition ${meta.labels.map((l) => JSON.stringify(l)).join(" or ")}`);
  const backend = getBackend(f.backend === "auto" ? undefined : f.backend);
  const texts = sampleCondition(backend, model, meta, f.condition, f.num, Rng.seeded(f.seed), {
    temperature: f.temperature,
    argmax: f.argmax,
    topK: f.topK,
    topP: f.topP,
    maxLength: f.length,
    prime: f.prime,
  });
  for (const t of texts) console.log(t);
  return true;
}
