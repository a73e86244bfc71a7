#!/usr/bin/env node
/**
 * Makes the built command-line entry (package.json "bin") executable: tsc writes it with the
 * default file mode, and `npx unroll` in a fresh clone runs the file directly.
 */
import { chmodSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
for (const file of Object.values(pkg.bin ?? {})) chmodSync(join(root, file), 0o755);
