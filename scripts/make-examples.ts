/**
 * Regenerates the example data files in examples/ from the built-in datasets, deterministically:
 * each file draws from its own seeded Rng, so the same package versions give the same bytes.
 *
 *   npx vite-node scripts/make-examples.ts
 *
 * stress.jsonl  2,000 cmudict-stress words, a seeded random pick (seed 1), in the order drawn
 * stress.conll  the first 200 of them as CoNLL columns, each sentence after a "# word" comment
 * names.csv     label,text: 300 female and 300 male names (seed 2), in a seeded shuffled order
 * g2p.csv       source,target: 1,000 CMUdict words and their phonemes, space-separated (seed 3)
 * spam.csv      text,label: 300 SpamAssassin messages, stratified by label (seed 4: 206 ham,
 *               94 spam, the corpus's shares), each cut to its first 1,000 characters, shuffled
 *
 * CSV is written as RFC 4180 (fields holding a comma, a quote or a line break are quoted, quotes
 * doubled) with "\n" line ends.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cmudictText } from "../src/node/corpus.js";
import { cmudictStress, firstNames, spamAssassin } from "../src/node/task-corpora.js";
import { parseCmudict } from "../src/tasks/cmudict.js";
import { stratifiedSplit } from "../src/tasks/split.js";
import { Rng } from "../src/tensor/random.js";

/** Fisher–Yates shuffle of a copy of `xs` with `rng`. */
function shuffled<T>(xs: readonly T[], rng: Rng): T[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** `k` elements of `xs` drawn without replacement, in the order drawn. */
function pick<T>(xs: readonly T[], k: number, rng: Rng): T[] {
  return shuffled(xs, rng).slice(0, k);
}

/** One RFC 4180 field: quoted when it holds a comma, a quote or a line break. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(",")).join("\n") + "\n";
}

/** The first `n` characters (code points, so no surrogate pair is cut) of `s`. */
function cut(s: string, n: number): string {
  const cps = Array.from(s);
  return cps.length <= n ? s : cps.slice(0, n).join("").trimEnd();
}

/** The example files, by name, as the text to write. */
export function exampleFiles(): Record<string, string> {
  const stress = pick(cmudictStress(), 2000, Rng.seeded(1));
  const word = (where: string) => where.slice(where.indexOf(":") + 1);
  const stressJsonl = stress.map((e) => JSON.stringify({ tokens: e.tokens, tags: e.tags, word: word(e.where) })).join("\n") + "\n";
  const stressConll = stress
    .slice(0, 200)
    .map((e) => `# ${word(e.where)}\n` + e.tokens.map((t, i) => `${t} ${e.tags[i]}\n`).join(""))
    .join("\n");

  const rngNames = Rng.seeded(2);
  const names = firstNames();
  const female = pick(names.filter((e) => e.label === "female"), 300, rngNames);
  const male = pick(names.filter((e) => e.label === "male"), 300, rngNames);
  const namesCsv = csv(["label", "text"], shuffled([...female, ...male], rngNames).map((e) => [e.label, e.text]));

  const g2p = pick(parseCmudict(cmudictText().text), 1000, Rng.seeded(3));
  const g2pCsv = csv(["source", "target"], g2p.map((p) => [p.word, p.phones.join(" ")]));

  const rngSpam = Rng.seeded(4);
  const mail = spamAssassin();
  const chosen = stratifiedSplit(mail.map((e) => e.label), 0, 300 / mail.length, rngSpam).test;
  const spamCsv = csv(["text", "label"], shuffled(chosen, rngSpam).map((i) => [cut(mail[i].text, 1000), mail[i].label]));

  return { "stress.jsonl": stressJsonl, "stress.conll": stressConll, "names.csv": namesCsv, "g2p.csv": g2pCsv, "spam.csv": spamCsv };
}

// Run as a script it writes the files; imported by the tests (which check that the files in
// examples/ are what this gives) it writes nothing. vite-node leaves the script's path out of
// process.argv, so the test is whether vitest is running.
if (process.env.VITEST === undefined) {
  const out = join(dirname(fileURLToPath(import.meta.url)), "..", "examples");
  mkdirSync(out, { recursive: true });
  for (const [name, text] of Object.entries(exampleFiles())) {
    writeFileSync(join(out, name), text);
    console.log(`${join("examples", name)}: ${Buffer.byteLength(text)} bytes`);
  }
}
