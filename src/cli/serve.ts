import { Command, InvalidArgumentError } from "commander";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { serveStatic } from "../node/serve.js";
import { accepting } from "./options.js";

/** The built web lab beside the CLI (dist/web). */
const WEB = fileURLToPath(new URL("../web/", import.meta.url));

/** A TCP port; 0 lets the system choose a free one. */
const port = accepting({ kind: "int", min: 0, max: 65535 }, (v: string): number => {
  const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a port number from 0 to 65535 (0: any free port), got "${v}"`);
  return n;
});

/** `unroll serve`: the web lab on localhost, cross-origin isolated so the wasm backend runs two threads. */
export function serveCommand(): Command {
  return new Command("serve")
    .summary("serve the web lab (train, generate, look inside, vanishing gradients) on localhost")
    .description(
      "Serves the web lab on http://127.0.0.1:PORT/ with the headers that make the page cross-origin isolated\n" +
        "(Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp), so training runs on\n" +
        "two wasm threads. The same files (dist/web) can be put on any static host that sends those two headers.",
    )
    .option("--port <n>", "port (0: any free one)", port, 8080)
    .option("--host <address>", "address to listen on (0.0.0.0: every interface)", "127.0.0.1")
    .option("--dir <folder>", "serve this folder instead of the built web lab")
    .option("--no-isolation", "leave out the isolation headers (shows the page's one-thread fallback)")
    .action(async (o: { port: number; host: string; dir?: string; isolation: boolean }) => {
      const root = o.dir ?? WEB;
      if (!existsSync(root)) throw new Error(o.dir ? `${o.dir}: no such folder` : `the web lab is not built (${WEB} is missing): run \`npm run build\``);
      let s;
      try {
        s = await serveStatic({ root, port: o.port, host: o.host, isolate: o.isolation });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === "EADDRINUSE") throw new Error(`port ${o.port} is in use: choose another with --port (0: any free one)`);
        throw e;
      }
      console.log(`unroll web lab: ${s.url}`);
      console.log(o.isolation ? "cross-origin isolated: training runs on two wasm threads. Ctrl-C stops." : "not cross-origin isolated (--no-isolation): one thread. Ctrl-C stops.");
      process.once("SIGINT", () => void s.close().then(() => process.exit(0)));
    });
}
