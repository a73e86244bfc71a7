import { Command, Option } from "commander";
import { getBackend } from "../backend/select.js";
import { runReference, type ConformanceReport } from "../conformance/reference.js";
import { expandReferencePaths, readReference } from "../node/reference-files.js";
import type { DType } from "../tensor/dtype.js";
import { backendName } from "./options.js";

/** `unroll conformance PATH...` */
export function conformanceCommand(): Command {
  return new Command("conformance")
    .summary("check the library against reference vectors (outputs, states, loss, every gradient)")
    .description(
      "Runs each reference vector file (the JSON format of test/fixtures/reference/README.md, e.g. made\n" +
        "with PyTorch) through unroll: forward outputs, final states, the loss and every gradient. Prints the\n" +
        "worst error per file and exits 1 if any element exceeds |a-b| <= atol + rtol*|b|\n" +
        "(float64: rtol 1e-9, atol 1e-12; float32: rtol 1e-4, atol 1e-5).",
    )
    .argument("<path...>", "reference files, or folders of them")
    .addOption(new Option("--dtype <dtype>", "precision to run in").choices(["float64", "float32"]).default("float64"))
    .option("--backend <name>", "compute backend", backendName, "auto")
    .option("--json", "print one JSON object per file instead of a table")
    .option("--verbose", "print every tensor's error, not just the worst")
    .action((paths: string[], opts: { dtype: DType; backend: string; json?: boolean; verbose?: boolean }) => {
      const backend = getBackend(opts.backend);
      let failed = 0;
      for (const file of expandReferencePaths(paths)) {
        let report: ConformanceReport;
        try {
          report = runReference(readReference(file), opts.dtype, backend);
        } catch (e) {
          failed++;
          if (opts.json) console.log(JSON.stringify({ file, error: (e as Error).message, pass: false }));
          else console.log(`ERROR ${file}: ${(e as Error).message}`);
          continue;
        }
        if (!report.pass) failed++;
        if (opts.json) {
          console.log(JSON.stringify({ file, ...report }));
          continue;
        }
        const w = report.worst;
        console.log(
          `${report.pass ? "PASS" : "FAIL"}  ${file}  worst ${w.name}: max rel err ${w.maxRelError.toExponential(2)}, ` +
            `max abs err ${w.maxAbsError.toExponential(2)}, ${(w.worstRatio * 100).toFixed(2)}% of tolerance (${report.tensors.length} tensors, ${report.dtype}, ${report.backend})`,
        );
        if (opts.verbose || !report.pass) {
          for (const t of report.tensors) {
            if (opts.verbose || !t.pass) console.log(`      ${t.pass ? "ok  " : "FAIL"} ${t.name.padEnd(28)} rel ${t.maxRelError.toExponential(2)}  abs ${t.maxAbsError.toExponential(2)}  ${(t.worstRatio * 100).toFixed(2)}%`);
          }
        }
      }
      if (failed > 0) {
        if (!opts.json) console.log(`${failed} file(s) failed`);
        process.exitCode = 1;
      }
    });
}
