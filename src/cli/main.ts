#!/usr/bin/env node
/** The `unroll` command line: thin wrappers that parse options and call the library. */
import { Command } from "commander";
import { readFileSync } from "node:fs";
import { conformanceCommand } from "./conformance.js";
import { infoCommand } from "./info.js";
import { serveCommand } from "./serve.js";
import { trainCommand } from "./train.js";
import { sampleCommand } from "./sample.js";
import { translateCommand } from "./translate.js";
import { classifyCommand } from "./classify.js";
import { evalCommand } from "./eval.js";
import { plotCommand } from "./plot.js";
import { benchCommand } from "./bench.js";
import { exportCommand, importCommand, inspectCommand } from "./interop.js";
import { gradientsCommand, labCommand, taskCommand } from "./lab.js";
import { describeFailure, strictOptions } from "./options.js";
import "../node/native-backend.js"; // registers the native backend when its addon is built
import { enableRelaxedSimd } from "../node/relaxed-simd.js";

enableRelaxedSimd(); // the wasm backend's fused multiply-add on Node 20 too (before any module compiles)

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

const program = new Command("unroll")
  .description("Recurrent neural networks (RNN, LSTM, GRU) trained by backpropagation through time")
  .version(pkg.version)
  .addCommand(trainCommand())
  .addCommand(sampleCommand())
  .addCommand(translateCommand())
  .addCommand(classifyCommand())
  .addCommand(evalCommand())
  .addCommand(plotCommand())
  .addCommand(exportCommand())
  .addCommand(importCommand())
  .addCommand(inspectCommand())
  .addCommand(taskCommand())
  .addCommand(gradientsCommand())
  .addCommand(labCommand())
  .addCommand(serveCommand())
  .addCommand(benchCommand())
  .addCommand(conformanceCommand())
  .addCommand(infoCommand());

// Descriptions are laid out by hand in lines of up to ~115 columns; wrapping them at 80 again breaks them.
const helpWidth = Math.max(process.stdout.columns ?? 0, 120);
for (const c of [program, ...program.commands]) c.configureHelp({ helpWidth });
// Every failure, a bad option value or a failed run, is one line "unroll: …" on stderr and exit code 2.
strictOptions(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const { line, exitCode } = describeFailure(e);
  if (line !== null) console.error(line);
  process.exitCode = exitCode;
}
