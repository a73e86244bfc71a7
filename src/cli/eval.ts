import { Command, Option } from "commander";
import { readCheckpointFile } from "../node/checkpoint-file.js";
import { builtinCorpus, readData } from "../node/corpus.js";
import { modelFromCheckpoint } from "../model/trained.js";
import { evaluate, evaluateSplit, type Evaluation } from "../generate/text.js";
import { applyThreadsOption } from "../node/native-backend.js";
import { backendName, int } from "./options.js";
import { dequantizeLanguageModel, type WeightFormat } from "../generate/quantized.js";

interface EvalFlags {
  model: string;
  data?: string;
  split: "val" | "test";
  json?: boolean;
  backend: string;
  threads?: number;
  weights: WeightFormat;
}

/** `unroll eval` */
export function evalCommand(): Command {
  return new Command("eval")
    .summary("cross-entropy, bits per token and perplexity of a model on text")
    .description(
      "Without --data: the model's own held-out split (--split) of the text it was trained on.\n" +
        "With --data: the whole text, every token predicted from all before it.",
    )
    .requiredOption("--model <ckpt>", "checkpoint to evaluate")
    .option("--data <path>", "UTF-8 text file, folder or - for stdin")
    .addOption(new Option("--split <split>", "held-out split of the training text").choices(["val", "test"]).default("val"))
    .option("--json", "print one JSON object: loss (nats/token), bits, perplexity, tokens")
    .option("--backend <name>", "compute backend", backendName, "auto")
    .option("--threads <n>", "native backend threads (default: logical cores, at most 8; or UNROLL_THREADS)", int(1))
    .addOption(
      new Option(
        "--weights <format>",
        "int8 or bf16: evaluate the compact weights that `sample --weights` uses (int8 with per-row scales, or bfloat16), as float32 values",
      )
        .choices(["float32", "bf16", "int8"])
        .default("float32"),
    )
    .action(async (f: EvalFlags) => {
      applyThreadsOption(f.threads);
      const ck = readCheckpointFile(f.model);
      const trained = modelFromCheckpoint(ck);
      const lm = f.weights !== "float32" ? { ...trained, model: dequantizeLanguageModel(trained.model, f.weights) } : trained;
      let result: Evaluation;
      let what: string;
      if (f.data) {
        result = evaluate(lm, (await readData(f.data)).text, { backend: f.backend });
        what = f.data;
      } else {
        const o = ck.training?.options as { source?: string; batch: number; seqLen: number; valFrac: number; testFrac: number } | undefined;
        const source = o?.source;
        if (!o || !source || source === "file:-" || source === "text") {
          throw new Error("this checkpoint does not say which text it was trained on; give it with --data");
        }
        const text = source.startsWith("corpus:") ? builtinCorpus(source.slice(7)).text : (await readData(source.slice(5))).text;
        result = evaluateSplit(lm, text, f.split, { ...o, backend: f.backend });
        what = `${source.replace(/^(corpus|file):/, "")} (${f.split} split)`;
      }
      const unit = lm.vocab.kind === "word" ? "word" : "character";
      if (f.json) {
        console.log(JSON.stringify({ model: f.model, data: what, weights: f.weights, ...result, unit }));
        return;
      }
      console.log(`${what}: ${result.tokens.toLocaleString("en")} tokens${f.weights === "int8" ? " (int8 weights)" : ""}`);
      console.log(`  loss        ${result.loss.toFixed(4)} nats/${unit}`);
      console.log(`  bits        ${result.bits.toFixed(4)} bits/${unit}`);
      console.log(`  perplexity  ${result.perplexity.toFixed(3)}`);
      if (result.unknown > 0) console.log(`  unknown     ${result.unknown} symbol(s) not in the vocabulary (${unit === "word" ? "scored as <unk>" : "skipped"})`);
    });
}
