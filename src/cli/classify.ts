/** `unroll classify` (and `unroll tag`): run a classifier or tagger checkpoint on texts. */
import { Command } from "commander";
import { readFileSync } from "node:fs";
import { getBackend } from "../backend/select.js";
import { applyThreadsOption } from "../node/native-backend.js";
import { backendName, int } from "./options.js";
import { classifierFromCheckpoint, classifyTexts } from "./setup-classify.js";
import { taggerFromCheckpoint, tagSequences } from "./setup-tag.js";
import { readTaskCheckpoint } from "./task-train.js";

interface Flags {
  model: string;
  json?: boolean;
  top?: number;
  backend: string;
  threads?: number;
}

function inputs(args: readonly string[]): string[] {
  if (args.length > 0) return [...args];
  return readFileSync(0, "utf8")
    .split(/\r?\n/)
    .filter((l) => l.trim().length > 0);
}

function run(args: string[], f: Flags): void {
  applyThreadsOption(f.threads);
  const ck = readTaskCheckpoint(f.model);
  const backend = getBackend(f.backend === "auto" ? undefined : f.backend);
  const texts = inputs(args);
  if (texts.length === 0) throw new Error("nothing to classify: give texts as arguments or lines on stdin");
  if (ck.task === "classify") {
    const { model, meta } = classifierFromCheckpoint(ck);
    const probs = classifyTexts(backend, model, meta, texts);
    probs.forEach((p, i) => {
      const ranked = meta.labels.map((label, k) => ({ label, p: p[k] })).sort((a, b) => b.p - a.p);
      if (f.json) console.log(JSON.stringify({ text: texts[i], label: ranked[0].label, probabilities: Object.fromEntries(meta.labels.map((l, k) => [l, p[k]])) }));
      else {
        const shown = ranked.slice(0, f.top ?? ranked.length).map((r) => `${r.label} ${r.p.toFixed(4)}`).join("  ");
        console.log(texts.length > 1 ? `${ranked[0].label}\t${shown}\t${texts[i]}` : `${ranked[0].label}\t${shown}`);
      }
    });
    return;
  }
  if (ck.task === "tag") {
    const { model, meta } = taggerFromCheckpoint(ck);
    const seqs = texts.map((t) => t.split(/\s+/).filter((w) => w.length > 0));
    const tags = tagSequences(backend, model, meta, seqs);
    tags.forEach((ts, i) => {
      if (f.json) console.log(JSON.stringify({ tokens: seqs[i], tags: ts }));
      else console.log(seqs[i].map((t, j) => `${t}/${ts[j]}`).join(" "));
    });
    return;
  }
  throw new Error(`${f.model} is a ${ck.task} model; classify runs models trained with --task classify or --task tag`);
}

export function classifyCommand(): Command {
  return new Command("classify")
    .summary("label texts with a classifier (or tag tokens with a tagger)")
    .description(
      'Runs a checkpoint of "unroll train --task classify" on each TEXT (or each line of stdin when none is given)\n' +
        "and prints the most likely label and every label's probability. With a --task tag checkpoint it tags each\n" +
        "whitespace-separated token (token/tag).",
    )
    .argument("[text...]", "texts; none: read lines from stdin")
    .requiredOption("--model <ckpt>", "a classify or tag checkpoint (runs/…/best.ckpt)")
    .option("--top <k>", "show only the k most likely labels", int(1))
    .option("--json", "one JSON object per text")
    .option("--backend <name>", "compute backend", backendName, "auto")
    .option("--threads <n>", "native backend threads", int(1))
    .action(run);
}
