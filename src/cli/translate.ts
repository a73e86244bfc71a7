/** `unroll translate`: decode sources with a seq2seq checkpoint (greedy or beam search). */
import { Command } from "commander";
import { readFileSync, writeFileSync } from "node:fs";
import { getBackend } from "../backend/select.js";
import { applyThreadsOption } from "../node/native-backend.js";
import { canRenderText, svgToPng } from "../node/png.js";
import { attentionHeatmapSvg } from "../plot/heatmap.js";
import { attentionRows } from "./task-util.js";
import { translate } from "../tasks/seq2seq-task.js";
import { backendName, int, num } from "./options.js";
import { seq2seqFromCheckpoint } from "./task-setup.js";
import { tokenize } from "./task-util.js";
import { readTaskCheckpoint, type TaskFlags } from "./task-train.js";

interface TranslateFlags {
  model: string;
  beam: number;
  lengthPenalty: number;
  maxLength?: number;
  attention?: string;
  json?: boolean;
  backend: string;
  threads?: number;
}

/** The sources: the arguments, or stdin's lines when none. */
function readSources(args: readonly string[]): string[] {
  if (args.length > 0) return [...args];
  return readFileSync(0, "utf8")
    .split(/\r?\n/)
    .filter((l) => l.trim().length > 0);
}

export function translateCommand(): Command {
  return new Command("translate")
    .summary("decode with a sequence-to-sequence model (e.g. a word to its phonemes)")
    .description(
      "Decodes each SOURCE (or each line of stdin when none is given) with a checkpoint of\n" +
        '"unroll train --task seq2seq", by beam search (--beam 1: greedy), and prints one output per line.',
    )
    .argument("[source...]", "sources to decode; none: read lines from stdin")
    .requiredOption("--model <ckpt>", "a seq2seq checkpoint (runs/…/best.ckpt)")
    .option("--beam <k>", "beam width; 1 is greedy decoding", int(1), 5)
    .option("--length-penalty <a>", "rank hypotheses by log P / length^a", num(0, 10, true), 1)
    .option("--max-length <n>", "longest output (default 2·source length + 10)", int(1))
    .option("--attention <file>", "write the attention weights of the first source as a heatmap (.svg; a .png beside it)")
    .option("--json", "one JSON object per source: {source, output, logProb}")
    .option("--backend <name>", "compute backend", backendName, "auto")
    .option("--threads <n>", "native backend threads", int(1))
    .action((args: string[], f: TranslateFlags) => {
      applyThreadsOption(f.threads);
      const ck = readTaskCheckpoint(f.model);
      if (ck.task !== "seq2seq") throw new Error(`${f.model} is a ${ck.task} model; translate needs one trained with --task seq2seq`);
      const { model, vocab } = seq2seqFromCheckpoint(ck);
      const opts = ck.meta.options as Partial<TaskFlags> | undefined;
      const srcLevel = opts?.srcLevel ?? "char";
      const lowercase = ck.meta.source === "corpus:cmudict";
      const sources = readSources(args);
      if (sources.length === 0) throw new Error("nothing to translate: give sources as arguments or lines on stdin");
      const tokens = sources.map((s) => tokenize(lowercase ? s.toLowerCase() : s, srcLevel));
      const unknown = new Set(tokens.flat().filter((t) => !vocab.source.includes(t)));
      if (unknown.size > 0) process.stderr.write(`unroll: ${[...unknown].map((t) => JSON.stringify(t)).join(", ")} never occurred in the training sources; read as <unk>\n`);
      const backend = getBackend(f.backend === "auto" ? undefined : f.backend);
      const out = translate(backend, model, vocab, tokens, { beamWidth: f.beam, lengthPenalty: f.lengthPenalty, maxLength: f.maxLength });
      const sep = (opts?.tgtLevel ?? "word") === "char" ? "" : " ";
      out.forEach((r, i) => {
        if (f.json) console.log(JSON.stringify({ source: sources[i], output: r.tokens.join(sep), logProb: r.logProb }));
        else console.log(sources.length > 1 ? `${sources[i]}\t${r.tokens.join(sep)}` : r.tokens.join(sep));
      });
      if (f.attention) {
        const a = out[0].attention;
        if (!a) throw new Error(`${f.model} has no attention (trained with --attention none), so there is no heatmap to draw`);
        const svg = attentionHeatmapSvg(a, attentionRows(out[0].tokens, a, tokens[0].length), tokens[0], { title: `attention: ${sources[0]}` });
        const path = f.attention.endsWith(".svg") ? f.attention : `${f.attention}.svg`;
        writeFileSync(path, svg);
        let png = "";
        if (canRenderText()) {
          png = path.replace(/\.svg$/, ".png");
          writeFileSync(png, svgToPng(svg, 900));
        }
        process.stderr.write(`attention: ${path}${png ? `, ${png}` : ""}\n`);
      }
    });
}
