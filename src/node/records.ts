/**
 * Node edge: tables of examples read from files, for the tasks that learn from labelled data
 * (classification now; tagging and translation pairs later). Three formats, chosen by extension:
 *
 *   .csv          RFC 4180 comma-separated values with a header row (quoted fields may hold
 *                 commas, quotes doubled, and line breaks), parsed by csv-parse
 *   .tsv, .tab    the same with tabs
 *   .jsonl, .ndjson, .json   one JSON object per line (blank lines skipped)
 *
 * Any other extension is read as CSV, or as JSONL when its first non-blank character is "{".
 * Every problem is one line naming the file and the line it is on: a missing column, an empty
 * required field, a line that is not JSON, a record of the wrong shape.
 *
 * Tagged sentences (the tagging task: one tag per token) have two formats of their own, see
 * `readTaggedFile`: JSONL `{"tokens": […], "tags": […]}` (.jsonl, .ndjson, .json) and CoNLL-style
 * two columns `token tag` per line with a blank line between sentences (.conll, .txt, .tsv, .tab).
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse } from "csv-parse/sync";
import { decodeUtf8 } from "./corpus.js";
import type { LabelledExample } from "../tasks/labelled.js";
import type { TaggedExample } from "../tasks/tagged.js";

/** One record: its fields by column name, and the line of the file it starts on (1-based). */
export interface FileRecord {
  readonly fields: Readonly<Record<string, string>>;
  readonly line: number;
}

export type RecordFormat = "csv" | "tsv" | "jsonl";

/** The format of `path` by its extension, or by its first character when the extension says nothing. */
export function recordFormat(path: string, text: string): RecordFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".csv") return "csv";
  if (ext === ".tsv" || ext === ".tab") return "tsv";
  if (ext === ".jsonl" || ext === ".ndjson" || ext === ".json") return "jsonl";
  return text.trimStart().startsWith("{") ? "jsonl" : "csv";
}

/** Reads the records of `path` (UTF-8), requiring the columns `required` in every one. */
export function readRecordFile(path: string, required: readonly string[]): FileRecord[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`${path}: no such file (give a .csv, .tsv or .jsonl file)`);
  }
  const text = decodeUtf8(bytes, path);
  return parseRecords(text, recordFormat(path, text), required, path);
}

/** The records of `text` in `format`; `source` names the file in errors. */
export function parseRecords(text: string, format: RecordFormat, required: readonly string[], source: string): FileRecord[] {
  const records = format === "jsonl" ? parseJsonLines(text, source) : parseDelimited(text, format === "tsv" ? "\t" : ",", required, source);
  if (records.length === 0) throw new Error(`${source}: holds no examples`);
  for (const r of records) {
    for (const name of required) {
      const v = r.fields[name];
      if (v === undefined) throw new Error(`${source}:${r.line}: no "${name}" field; every record needs ${required.map((c) => `"${c}"`).join(" and ")}`);
      if (v.trim() === "") throw new Error(`${source}:${r.line}: empty ${name}; give every record a non-empty "${name}"`);
    }
  }
  return records;
}

function parseDelimited(text: string, delimiter: string, required: readonly string[], source: string): FileRecord[] {
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parse(text, { delimiter, columns: true, info: true, bom: true, skip_empty_lines: true, relax_quotes: false }) as never;
  } catch (e) {
    const err = e as Error & { lines?: number; code?: string };
    const why = err.message.replace(/^Invalid Record Length: /, "").replace(/\s+/g, " ");
    throw new Error(`${source}:${err.lines ?? "?"}: not valid ${delimiter === "\t" ? "TSV" : "CSV"} (${why}); quote fields that hold the delimiter, a quote or a line break ("" for a quote)`);
  }
  if (rows.length > 0) {
    const header = Object.keys(rows[0].record);
    const missing = required.filter((c) => !header.includes(c));
    if (missing.length > 0) {
      throw new Error(`${source}:1: no ${missing.map((c) => `"${c}"`).join(" or ")} column; the header row has ${header.map((c) => `"${c}"`).join(", ")} — name the columns ${required.join(",")}`);
    }
  }
  // info.lines is the line a record ends on; a record starts after the previous one ended.
  let previousEnd = 1;
  return rows.map(({ record, info }) => {
    const line = previousEnd + 1;
    previousEnd = info.lines;
    return { fields: record, line };
  });
}

function parseJsonLines(text: string, source: string): FileRecord[] {
  const out: FileRecord[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].trim();
    if (s === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      throw new Error(`${source}:${i + 1}: not JSON (${(e as Error).message}); each line must be one JSON object`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${source}:${i + 1}: not a JSON object; each line must be one object such as {"text": "…", "label": "…"}`);
    const fields: Record<string, string> = {};
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === "string") fields[k] = x;
      else if (typeof x === "number" || typeof x === "boolean") fields[k] = String(x);
      else if (x !== null) fields[k] = json(x, `${source}:${i + 1}`, k);
    }
    out.push({ fields, line: i + 1 });
  }
  return out;
}

/** JSON.stringify(x) of field `what` at `at`; JSON.parse takes nesting that JSON.stringify overflows the stack on. */
function json(x: unknown, at: string, what: string): string {
  try {
    return JSON.stringify(x);
  } catch {
    throw new Error(`${at}: field "${what}" is nested too deep; give each field a string, number or shallow value`);
  }
}

/** The classification examples of `path`: columns (or JSON fields) `text` and `label`. */
export function readLabelledFile(path: string, textField = "text", labelField = "label"): LabelledExample[] {
  return readRecordFile(path, [textField, labelField]).map((r) => ({ text: r.fields[textField], label: r.fields[labelField].trim(), where: `${path}:${r.line}` }));
}

export type TaggedFormat = "jsonl" | "conll";

/**
 * The format of a tagged file by its extension: .jsonl, .ndjson, .json are JSONL; .conll, .txt,
 * .tsv, .tab are CoNLL columns. Any other extension is JSONL when its first non-blank character is
 * "{", CoNLL otherwise.
 */
export function taggedFormat(path: string, text: string): TaggedFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".jsonl" || ext === ".ndjson" || ext === ".json") return "jsonl";
  if (ext === ".conll" || ext === ".txt" || ext === ".tsv" || ext === ".tab") return "conll";
  return text.trimStart().startsWith("{") ? "jsonl" : "conll";
}

/**
 * The tagged sentences of `path` (UTF-8), in file order, each with `where` = "file:line" of the
 * line it starts on. Two formats (chosen by `taggedFormat`):
 *
 *   JSONL   one object per line, `{"tokens": ["the", "cat"], "tags": ["DET", "NOUN"]}`: two arrays
 *           of non-empty strings of the same length, at least one token; other fields are
 *           ignored; blank lines are skipped.
 *   CoNLL   one token per line, `token tag` separated by spaces or tabs (so a token holds no
 *           whitespace; use JSONL for such tokens); a blank line ends a sentence; a line whose
 *           first non-blank character is "#" is a comment and skipped (so no token starts a line
 *           with "#" — again JSONL can hold one).
 *
 * A problem is an error naming the file and line: not JSON, a missing or malformed array, an
 * empty token or tag, lengths that differ, a CoNLL line with other than two columns.
 */
export function readTaggedFile(path: string): TaggedExample[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`${path}: no such file (give a .jsonl file of {"tokens": […], "tags": […]} lines or a .conll file of "token tag" lines)`);
  }
  const text = decodeUtf8(bytes, path);
  return parseTagged(text, taggedFormat(path, text), path);
}

/** The tagged sentences of `text` in `format`; `source` names the file in errors and in `where`. */
export function parseTagged(text: string, format: TaggedFormat, source: string): TaggedExample[] {
  const out = format === "jsonl" ? parseTaggedJsonLines(text, source) : parseConll(text, source);
  if (out.length === 0) throw new Error(`${source}: holds no tagged sentences`);
  return out;
}

const TAGGED_EXAMPLE = '{"tokens": ["the", "cat"], "tags": ["DET", "NOUN"]}';

function parseTaggedJsonLines(text: string, source: string): TaggedExample[] {
  const out: TaggedExample[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].trim();
    if (s === "") continue;
    const at = `${source}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      throw new Error(`${at}: not JSON (${(e as Error).message}); each line must be one object such as ${TAGGED_EXAMPLE}`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${at}: not a JSON object; each line must be one object such as ${TAGGED_EXAMPLE}`);
    const o = v as Record<string, unknown>;
    const tokens = stringArray(o, "tokens", at);
    const tags = stringArray(o, "tags", at);
    if (tokens.length === 0) throw new Error(`${at}: no tokens; give each line at least one token and its tag, or delete the line`);
    if (tokens.length !== tags.length) throw new Error(`${at}: ${tokens.length} tokens but ${tags.length} tags; give exactly one tag per token`);
    out.push({ tokens, tags, where: at });
  }
  return out;
}

function stringArray(o: Record<string, unknown>, name: "tokens" | "tags", at: string): string[] {
  const a = o[name];
  if (a === undefined) throw new Error(`${at}: no "${name}" field; each line needs "tokens" and "tags", such as ${TAGGED_EXAMPLE}`);
  if (!Array.isArray(a)) throw new Error(`${at}: "${name}" is not an array; write it as a list of strings, such as ${TAGGED_EXAMPLE}`);
  a.forEach((x, j) => {
    if (typeof x !== "string") throw new Error(`${at}: ${name}[${j}] is ${json(x, at, `${name}[${j}]`)}, not a string; quote it`);
    if (x.trim() === "") throw new Error(`${at}: ${name}[${j}] is empty; every token and tag must be a non-empty string`);
  });
  return a as string[];
}

function parseConll(text: string, source: string): TaggedExample[] {
  const out: TaggedExample[] = [];
  let tokens: string[] = [];
  let tags: string[] = [];
  let start = 0;
  const end = () => {
    if (tokens.length > 0) out.push({ tokens, tags, where: `${source}:${start}` });
    tokens = [];
    tags = [];
  };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].trim();
    if (s === "") {
      end();
      continue;
    }
    if (s.startsWith("#")) continue;
    const cols = s.split(/\s+/);
    if (cols.length !== 2) {
      const hint = s.startsWith("{") ? "; this line looks like JSON: name the file .jsonl" : "";
      const what = cols.length === 1 ? `a token without a tag ("${s}")` : `${cols.length} columns ("${s.length > 60 ? s.slice(0, 60) + "…" : s}")`;
      throw new Error(`${source}:${i + 1}: ${what}; each line is "token tag" separated by whitespace, with a blank line between sentences${hint}`);
    }
    if (tokens.length === 0) start = i + 1;
    tokens.push(cols[0]);
    tags.push(cols[1]);
  }
  end();
  return out;
}
