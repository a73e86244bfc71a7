import { Command } from "commander";
import { plotRun } from "../node/plot-run.js";
import { int } from "./options.js";

/** `unroll plot RUN_DIR` */
export function plotCommand(): Command {
  return new Command("plot")
    .summary("draw a run's loss curves (loss.svg and loss.png in the run folder)")
    .description(
      "Reads RUN_DIR/metrics.jsonl (written by unroll train --out RUN_DIR) and draws the training loss per\n" +
        "step (raw and smoothed) and the validation loss at each evaluation, in nats per token, into\n" +
        "RUN_DIR/loss.svg and RUN_DIR/loss.png. Works on a run still training: it plots what is there so far.",
    )
    .argument("<run-dir>", "a run folder (the --out of unroll train)")
    .option("--title <text>", "chart title (default: the run's cell and size)")
    .option("--width <pixels>", "PNG width in pixels", int(1, 16384), 1800)
    .action((runDir: string, opts: { title?: string; width: number }) => {
      const r = plotRun(runDir, { title: opts.title, pngWidth: opts.width });
      console.log(r.svgPath);
      console.log(r.pngPath);
      if (r.warning) console.error(`warning: ${r.warning}`);
    });
}
