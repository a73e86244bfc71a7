/**
 * Node edge: one training per run folder. `lockRunFolder` creates `<dir>/.lock` exclusively (its
 * content: pid, host, start time); a second training into the same folder finds it and refuses,
 * so two runs never interleave their checkpoints and metrics. A lock left by a process that no
 * longer runs (killed with -9, a crash) is taken over. `release` removes it; it also goes at exit.
 */
import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, but not ours
  }
}

/** Removes the temporary files of checkpoint writes whose process died mid-write (kill -9, a crash). */
function removeStaleTemporaries(dir: string): void {
  for (const f of readdirSync(dir)) {
    const m = /\.tmp-(\d+)(?:-[0-9a-f]+)?$/.exec(f);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) {
      try {
        unlinkSync(join(dir, f));
      } catch {
        // gone already
      }
    }
  }
}

export interface RunLock {
  release(): void;
}

/** Takes the run folder `dir` (which must exist) for this process, or throws saying who has it. */
export function lockRunFolder(dir: string): RunLock {
  const path = join(dir, ".lock");
  const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`${path}: cannot create the run folder's lock: ${(e as Error).message}`);
      let held: LockInfo | null = null;
      try {
        held = JSON.parse(readFileSync(path, "utf8")) as LockInfo;
      } catch {
        // unreadable or half-written: treat as stale only if it is older than a few seconds
      }
      const sameHost = held?.host === info.host;
      if (held && (!sameHost || alive(held.pid))) {
        throw new Error(
          `${dir} is in use by another training (pid ${held.pid}${sameHost ? "" : ` on ${held.host}`}, started ${held.started}): ` +
            `choose another --out, or wait for that one to finish${sameHost ? "" : ` (delete ${path} if it is gone)`}`,
        );
      }
      unlinkSync(path); // stale: its process is gone
      continue;
    }
    writeSync(fd, JSON.stringify(info));
    closeSync(fd);
    removeStaleTemporaries(dir);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off("exit", release);
      try {
        const now = JSON.parse(readFileSync(path, "utf8")) as LockInfo;
        if (now.pid === process.pid) unlinkSync(path);
      } catch {
        // already gone
      }
    };
    process.on("exit", release);
    return { release };
  }
  throw new Error(`${path}: could not take the run folder's lock; delete the file if no training is running there`);
}

/** A training's run folder, taken for this process: its files and the metrics log. */
export interface RunFolder extends RunLock {
  readonly dir: string;
  readonly latest: string;
  readonly best: string;
  readonly metrics: string;
  /** Appends one JSON line to metrics.jsonl; a failure (a full disk) says the checkpoints are intact. */
  appendMetrics(line: unknown): void;
}

/**
 * Creates `dir` if need be, takes its lock (`lockRunFolder`) and, for a fresh run (not a resumed
 * one), empties metrics.jsonl: what `unroll train` and `unroll train --task` do before training.
 */
export function openRunFolder(dir: string, fresh: boolean): RunFolder {
  mkdirSync(dir, { recursive: true });
  const lock = lockRunFolder(dir);
  const metrics = join(dir, "metrics.jsonl");
  if (fresh) writeFileSync(metrics, "");
  return {
    dir,
    latest: join(dir, "latest.ckpt"),
    best: join(dir, "best.ckpt"),
    metrics,
    release: lock.release,
    appendMetrics(line) {
      try {
        appendFileSync(metrics, JSON.stringify(line) + "\n");
      } catch (err) {
        throw new Error(`${metrics}: cannot append to the metrics (${(err as Error).message}); the checkpoints in ${dir} are intact`);
      }
    },
  };
}

/** The time stamp of a default run folder name: 20261207-025812. */
export function runStamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}
