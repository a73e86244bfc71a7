/** Node edge: reading reference-vector files and folders for `unroll conformance`. */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseReference, type ReferenceCase } from "../conformance/reference.js";

/** Expands files and folders (a folder: its `.json` files, sorted) into file paths. */
export function expandReferencePaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new Error(`${p}: no such file or folder`);
    }
    if (st.isDirectory()) {
      const files = readdirSync(p).filter((f) => f.endsWith(".json")).sort();
      if (files.length === 0) throw new Error(`${p}: the folder holds no .json reference files`);
      out.push(...files.map((f) => join(p, f)));
    } else out.push(p);
  }
  return out;
}

/** Reads and validates one reference file. */
export function readReference(path: string): ReferenceCase {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`${path}: cannot read: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message}); is the file complete?`);
  }
  return parseReference(doc, path);
}
