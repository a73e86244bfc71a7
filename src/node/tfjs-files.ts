/**
 * Node edge: reading a TF.js layers model from disk — `model.json` and the weight shards its
 * manifest lists, relative to the folder of model.json — into `parseTfjsModel`.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseTfjsModel, readTfjsManifest, type KerasModel, type KerasParseOptions } from "../io/keras.js";

/** The file a manifest path names: relative to model.json's folder, URL-decoded if need be. */
function shardPath(dir: string, p: string): string {
  const plain = resolve(dir, p);
  try {
    statSync(plain);
    return plain;
  } catch {
    let decoded = p;
    try {
      decoded = decodeURIComponent(p);
    } catch {
      // not percent-encoded
    }
    return resolve(dir, decoded);
  }
}

/**
 * Loads `model.json` and its shards. Checks that every shard exists and that each manifest
 * group's shards add up to the bytes its weights need, naming the files when not; then parses
 * and validates the model (see `parseTfjsModel`).
 */
export function loadTfjsModel(modelJsonPath: string, opts: KerasParseOptions = {}): KerasModel {
  let text: string;
  try {
    text = readFileSync(modelJsonPath, "utf8");
  } catch (e) {
    throw new Error(`${modelJsonPath}: cannot read: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${modelJsonPath}: not valid JSON (${(e as Error).message}); is the file complete?`);
  }
  const manifest = readTfjsManifest(doc, modelJsonPath);
  const dir = dirname(modelJsonPath);
  const chunks: Uint8Array[] = [];
  manifest.groups.forEach((g, gi) => {
    const files = g.paths.map((p) => shardPath(dir, p));
    const sizes = files.map((f, i) => {
      try {
        return statSync(f).size;
      } catch {
        throw new Error(`${modelJsonPath}: weight shard "${g.paths[i]}" (manifest group ${gi}) not found at ${f}; copy every shard listed in weightsManifest next to model.json`);
      }
    });
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== g.byteLength) {
      const list = g.paths.map((p, i) => `${p}: ${sizes[i]} bytes`).join(", ");
      throw new Error(
        `${modelJsonPath}: the shards of manifest group ${gi} hold ${total} bytes (${list}), but its weights need ${g.byteLength}; ` +
          (total < g.byteLength ? "a shard is truncated — copy it again" : "a shard holds extra bytes — it does not belong to this model.json"),
      );
    }
    for (const f of files) chunks.push(readFileSync(f));
  });
  const data = new Uint8Array(manifest.byteLength);
  let off = 0;
  for (const c of chunks) {
    data.set(c, off);
    off += c.byteLength;
  }
  return parseTfjsModel(doc, data, modelJsonPath, opts);
}
