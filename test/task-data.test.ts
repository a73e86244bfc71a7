import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseRecords, parseTagged, readLabelledFile, readRecordFile, readTaggedFile, recordFormat, taggedFormat } from "../src/node/records.js";
import { classIds, labelSet } from "../src/tasks/labelled.js";
import { randomSplit, stratifiedSplit } from "../src/tasks/split.js";
import { Rng } from "../src/tensor/random.js";

const dir = mkdtempSync(join(tmpdir(), "unroll-records-"));
const file = (name: string, body: string) => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};

describe("labelled files", () => {
  it("reads RFC 4180 CSV: quoted commas, doubled quotes, line breaks inside quotes, with the line each record starts on", () => {
    const p = file("a.csv", 'text,label\n"hello, world",ham\n"two\nlines ""quoted""",spam\nplain,ham\n');
    expect(readLabelledFile(p)).toEqual([
      { text: "hello, world", label: "ham", where: `${p}:2` },
      { text: 'two\nlines "quoted"', label: "spam", where: `${p}:3` },
      { text: "plain", label: "ham", where: `${p}:5` },
    ]);
  });

  it("reads TSV and JSONL, and extra columns are kept", () => {
    const t = file("b.tsv", "id\ttext\tlabel\n1\ta, b\tx\n");
    expect(readRecordFile(t, ["text", "label"])[0].fields).toEqual({ id: "1", text: "a, b", label: "x" });
    const j = file("c.jsonl", '{"text": "héllo", "label": "fr"}\n\n{"text": "hi", "label": 3}\n');
    expect(readLabelledFile(j)).toEqual([
      { text: "héllo", label: "fr", where: `${j}:1` },
      { text: "hi", label: "3", where: `${j}:3` },
    ]);
  });

  it("picks the format by extension, else by the first character", () => {
    expect(recordFormat("x.csv", "{")).toBe("csv");
    expect(recordFormat("x.TSV", "")).toBe("tsv");
    expect(recordFormat("x.ndjson", "")).toBe("jsonl");
    expect(recordFormat("x.txt", '  {"text":1}')).toBe("jsonl");
    expect(recordFormat("x.txt", "text,label")).toBe("csv");
  });

  it("bad input: one line naming the file and the line", () => {
    const check = (name: string, body: string, message: RegExp) => expect(() => readLabelledFile(file(name, body))).toThrow(message);
    check("m.csv", "text,lab\nx,y\n", /m\.csv:1: no "label" column; the header row has "text", "lab"/);
    check("e.csv", "text,label\nx,\n", /e\.csv:2: empty label/);
    check("n.jsonl", '{"text":"a","label":"b"}\n{oops\n', /n\.jsonl:2: not JSON/);
    check("o.jsonl", '["a","b"]\n', /o\.jsonl:1: not a JSON object/);
    check("f.jsonl", '{"text":"a"}\n', /f\.jsonl:1: no "label" field/);
    check("q.csv", 'text,label\n"open,x\n', /q\.csv:2: not valid CSV \(Quote Not Closed/);
    check("w.csv", "text,label\na,b,c\n", /w\.csv:2: not valid CSV/);
    check("z.csv", "text,label\n", /z\.csv: holds no examples/);
    const latin1 = join(dir, "u.csv");
    writeFileSync(latin1, Buffer.from([0x74, 0x65, 0x78, 0x74, 0x0a, 0xe9, 0x0a]));
    expect(() => readLabelledFile(latin1)).toThrow(/u\.csv is not valid UTF-8 text; convert it first/);
    expect(() => readLabelledFile(join(dir, "missing.csv"))).toThrow(/missing\.csv: no such file/);
    expect(() => parseRecords("text,label\n", "csv", ["text"], "s")).toThrow(/s: holds no examples/);
  });

  it("a label seen only outside training is named with its file and line", () => {
    const p = file("l.csv", "text,label\na,x\nb,y\nc,z\n");
    const all = readLabelledFile(p);
    const labels = labelSet(all.slice(0, 2));
    expect(labels).toEqual(["x", "y"]);
    expect(Array.from(classIds(all.slice(0, 2), labels, "training"))).toEqual([0, 1]);
    expect(() => classIds(all, labels, "test")).toThrow(new RegExp(`l\\.csv:4: label "z" appears in the test split but never in training`));
  });
});

describe("tagged files", () => {
  it("reads JSONL: one sentence a line, blank lines skipped, other fields ignored", () => {
    const p = file("t.jsonl", '{"tokens": ["the", "cat"], "tags": ["DET", "NOUN"], "id": 7}\n\n{"tokens": ["ran"], "tags": ["VERB"]}\n');
    expect(readTaggedFile(p)).toEqual([
      { tokens: ["the", "cat"], tags: ["DET", "NOUN"], where: `${p}:1` },
      { tokens: ["ran"], tags: ["VERB"], where: `${p}:3` },
    ]);
  });

  it("reads CoNLL columns: spaces or tabs, blank lines between sentences, # comments, CRLF", () => {
    const p = file("t.conll", "# sent 1\nthe DET\ncat\tNOUN\n\n\n# sent 2\r\n  ran   VERB  \r\n# inside\r\n. PUNCT\r\n");
    expect(readTaggedFile(p)).toEqual([
      { tokens: ["the", "cat"], tags: ["DET", "NOUN"], where: `${p}:2` },
      { tokens: ["ran", "."], tags: ["VERB", "PUNCT"], where: `${p}:7` },
    ]);
    // no blank line at the end, and the same parse for .txt and .tsv
    expect(readTaggedFile(file("t.txt", "a X\nb Y"))).toHaveLength(1);
    expect(readTaggedFile(file("t.tsv", "a\tX\n\nb\tY\n"))).toHaveLength(2);
  });

  it("picks the format by extension, else JSONL when the file starts with {", () => {
    expect(taggedFormat("x.jsonl", "")).toBe("jsonl");
    expect(taggedFormat("x.JSON", "")).toBe("jsonl");
    expect(taggedFormat("x.ndjson", "")).toBe("jsonl");
    expect(taggedFormat("x.conll", "{")).toBe("conll");
    expect(taggedFormat("x.txt", "{")).toBe("conll");
    expect(taggedFormat("x.tsv", "")).toBe("conll");
    expect(taggedFormat("x.data", '  {"tokens":[]}')).toBe("jsonl");
    expect(taggedFormat("x.data", "a X")).toBe("conll");
  });

  it("bad JSONL: one line naming the file, the line, what is wrong and what to do", () => {
    const check = (body: string, message: RegExp) => expect(() => readTaggedFile(file("bad.jsonl", body))).toThrow(message);
    const ok = '{"tokens": ["a"], "tags": ["X"]}\n';
    check(ok + "{oops\n", /bad\.jsonl:2: not JSON .*; each line must be one object such as \{"tokens"/);
    check(ok + '["a"]\n', /bad\.jsonl:2: not a JSON object/);
    check(ok + ok + '{"tokens": ["a"]}\n', /bad\.jsonl:3: no "tags" field; each line needs "tokens" and "tags"/);
    check('{"tokens": "a b", "tags": ["X"]}\n', /bad\.jsonl:1: "tokens" is not an array; write it as a list of strings/);
    check('{"tokens": ["a", 5], "tags": ["X", "Y"]}\n', /bad\.jsonl:1: tokens\[1\] is 5, not a string; quote it/);
    check('{"tokens": ["a", "b"], "tags": ["X", " "]}\n', /bad\.jsonl:1: tags\[1\] is empty; every token and tag must be a non-empty string/);
    check('{"tokens": ["a", "b"], "tags": ["X"]}\n', /bad\.jsonl:1: 2 tokens but 1 tags; give exactly one tag per token/);
    check('{"tokens": [], "tags": []}\n', /bad\.jsonl:1: no tokens; give each line at least one token and its tag/);
    check("\n\n", /bad\.jsonl: holds no tagged sentences/);
  });

  it("bad CoNLL: a line with other than two columns names the file and the line", () => {
    const check = (name: string, body: string, message: RegExp) => expect(() => readTaggedFile(file(name, body))).toThrow(message);
    check("c.conll", "a X\nb Y\n\nc\n", /c\.conll:4: a token without a tag \("c"\); each line is "token tag" separated by whitespace, with a blank line between sentences/);
    check("d.conll", "# c\na X extra\n", /d\.conll:2: 3 columns \("a X extra"\)/);
    check("j.txt", '{"tokens": ["a"], "tags": ["X"]}\n', /j\.txt:1: 4 columns .*this line looks like JSON: name the file \.jsonl/);
    check("e.conll", "# only comments\n\n", /e\.conll: holds no tagged sentences/);
    expect(() => readTaggedFile(join(dir, "missing.conll"))).toThrow(/missing\.conll: no such file \(give a \.jsonl file/);
    const latin1 = join(dir, "l.conll");
    writeFileSync(latin1, Buffer.from([0xe9, 0x20, 0x58, 0x0a]));
    expect(() => readTaggedFile(latin1)).toThrow(/l\.conll is not valid UTF-8 text/);
    expect(() => parseTagged("a X\nb\n", "conll", "s")).toThrow(/^s:2: a token without a tag/);
  });
});

describe("seeded splits", () => {
  const classes = [...Array(70).fill("a"), ...Array(20).fill("b"), ...Array(10).fill("c")];

  it("stratified: every class in the same shares, disjoint parts covering everything, same seed same split", () => {
    const s = stratifiedSplit(classes, 0.1, 0.2, Rng.seeded(7));
    const count = (ids: readonly number[], c: string) => ids.filter((i) => classes[i] === c).length;
    expect([count(s.test, "a"), count(s.test, "b"), count(s.test, "c")]).toEqual([14, 4, 2]);
    expect([count(s.val, "a"), count(s.val, "b"), count(s.val, "c")]).toEqual([7, 2, 1]);
    expect([...s.train, ...s.val, ...s.test].sort((x, y) => x - y)).toEqual(classes.map((_, i) => i));
    expect(s).toEqual(stratifiedSplit(classes, 0.1, 0.2, Rng.seeded(7)));
    expect(s.test).not.toEqual(stratifiedSplit(classes, 0.1, 0.2, Rng.seeded(8)).test);
    for (const part of [s.train, s.val, s.test]) expect([...part]).toEqual([...part].sort((x, y) => x - y));
  });

  it("random: 90/5/5 of 1000, disjoint and seeded", () => {
    const s = randomSplit(1000, 0.05, 0.05, Rng.seeded(1));
    expect([s.train.length, s.val.length, s.test.length]).toEqual([900, 50, 50]);
    expect(new Set([...s.train, ...s.val, ...s.test]).size).toBe(1000);
    expect(s).toEqual(randomSplit(1000, 0.05, 0.05, Rng.seeded(1)));
  });

  it("refuses fractions that leave no training data", () => {
    expect(() => randomSplit(10, 0.5, 0.5, Rng.seeded(1))).toThrow(/sum below 1/);
    expect(() => stratifiedSplit([1], -0.1, 0, Rng.seeded(1))).toThrow(/≥ 0/);
  });
});
