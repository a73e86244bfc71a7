/**
 * Node edge: checkpoint files. Writing is atomic — the bytes go to a temporary file in the same
 * folder, which is flushed to disk and then renamed over the target — so a crash or a full disk
 * at any moment leaves either the previous checkpoint or the new one, never a torn file.
 */
import * as nodeFs from "node:fs";
import { randomBytes } from "node:crypto";
import { dirname } from "node:path";
import type { Checkpoint } from "../model/checkpoint.js";
import { decodeCheckpoint, encodeCheckpoint } from "../model/checkpoint-codec.js";

/**
 * The file-system calls a checkpoint write makes (a subset of `node:fs`, which is the default).
 * Tests pass a wrapper to simulate a crash or a full disk part-way through.
 */
export interface CheckpointFs {
  openSync(path: string, flags: string, mode?: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(oldPath: string, newPath: string): void;
  unlinkSync(path: string): void;
}

/**
 * Writes `ck` to `path` atomically: to `${path}.tmp-<pid>-<random>` in the same folder, fsynced,
 * then renamed over `path`, then the folder fsynced so the rename itself is durable. An existing
 * file at `path` is untouched until the rename replaces it whole. On any error the temporary file
 * is removed and the error rethrown with `path` in its message.
 */
export function writeCheckpointFile(path: string, ck: Checkpoint, fs: CheckpointFs = nodeFs): void {
  let bytes: Uint8Array;
  try {
    bytes = encodeCheckpoint(ck);
  } catch (e) {
    throw new Error(`${path}: cannot save the checkpoint: ${(e as Error).message}`, { cause: e });
  }
  writeBytesAtomic(path, bytes, fs);
}

/**
 * Writes `bytes` to `path` atomically, as `writeCheckpointFile` does (temporary file in the same
 * folder, fsync, rename, folder fsync); on any error the previous file at `path` is unchanged.
 */
export function writeBytesAtomic(path: string, bytes: Uint8Array, fs: CheckpointFs = nodeFs): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  let fd: number | null = null;
  let renamed = false;
  try {
    fd = fs.openSync(tmp, "wx", 0o666);
    for (let done = 0; done < bytes.length; ) {
      const n = fs.writeSync(fd, bytes, done, bytes.length - done, done);
      if (!(n > 0)) throw new Error(`write returned ${n} after ${done} of ${bytes.length} bytes`);
      done += n;
    }
    fs.fsyncSync(fd);
    const closing = fd;
    fd = null;
    fs.closeSync(closing);
    fs.renameSync(tmp, path);
    renamed = true;
    syncFolder(fs, dirname(path));
  } catch (e) {
    if (fd !== null) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; the original error matters
      }
    }
    if (!renamed) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // never created, or already gone
      }
    }
    const what = renamed ? "the checkpoint was written, but flushing its folder failed" : "cannot write the checkpoint (any previous file there is unchanged)";
    throw new Error(`${path}: ${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** fsync a folder so a rename in it survives a power cut; some platforms cannot (Windows, some file systems). */
function syncFolder(fs: CheckpointFs, folder: string): void {
  let fd: number;
  try {
    fd = fs.openSync(folder, "r");
  } catch (e) {
    if (ignorableFolderSyncError(e)) return;
    throw e;
  }
  try {
    fs.fsyncSync(fd);
  } catch (e) {
    if (!ignorableFolderSyncError(e)) throw e;
  } finally {
    fs.closeSync(fd);
  }
}

function ignorableFolderSyncError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "EINVAL" || code === "EPERM" || code === "EISDIR" || code === "EACCES";
}

/** Reads and validates the checkpoint at `path`; errors name the path and what to do. */
export function readCheckpointFile(path: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = nodeFs.readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Error(`no such checkpoint: ${path}; check the path ("unroll train" writes latest.ckpt and best.ckpt in its --out folder)`, { cause: e });
    if (code === "EISDIR") throw new Error(`${path} is a folder, not a checkpoint file; name a checkpoint file inside it`, { cause: e });
    throw new Error(`${path}: cannot read the checkpoint: ${(e as Error).message}`, { cause: e });
  }
  return decodeCheckpoint(bytes, path);
}
