import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseReference, type ReferenceCase } from "../../src/conformance/reference.js";

export const referenceDir = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "reference");

/** Every reference vector file shipped in test/fixtures/reference. */
export function referenceFiles(): string[] {
  return readdirSync(referenceDir)
    .filter((f) => f.endsWith(".json"))
    .sort();
}

export function loadReference(file: string): ReferenceCase {
  return parseReference(JSON.parse(readFileSync(join(referenceDir, file), "utf8")), file);
}
