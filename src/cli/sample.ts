import { Command } from "commander";
import { readCheckpointFile } from "../node/checkpoint-file.js";
import { modelFromCheckpoint } from "../model/trained.js";
import { sample } from "../generate/text.js";
import { int, num } from "./options.js";
import { applyThreadsOption } from "../node/native-backend.js";

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
  backend: string;
  threads?: number;
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
    .option("--prime <text>", "text to start from (unknown characters are skipped)")
    .option("--seed <n>", "random seed", int(0), 1)
    .option("--argmax", "always take the most likely token (greedy)")
    .option("--stop <string>", "stop a sample once it contains this string")
    .option("--num <n>", "number of samples", int(1), 1)
    .option("--backend <name>", "compute backend", "auto")
    .option("--threads <n>", "native backend threads (default: logical cores, at most 8; or UNROLL_THREADS)", int(1))
    .action((f: SampleFlags) => {
      applyThreadsOption(f.threads);
      const lm = modelFromCheckpoint(readCheckpointFile(f.model));
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
          onUnknown: (n) => {
            if (i === 0) process.stderr.write(`unroll: ${n} character(s) of --prime are not in the model's vocabulary and were skipped\n`);
          },
        })) {
          process.stdout.write(piece);
        }
        process.stdout.write("\n");
      }
    });
}
