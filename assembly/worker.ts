/**
 * The worker's side of every job, at the top of the kernels' layering: it imports the kernels
 * (gemm.ts, cells.ts, optim.ts, xent.ts, qgemv.ts) and the control block (threads.ts); none of
 * them imports it, so the layering reads one way:
 * threads ← gemm ← cells, optim, xent, qgemv ← worker ← index.
 */
import { gemmJob, packJob, setTile } from "./gemm";
import { runRowsJob } from "./cells";
import { optimJob } from "./optim";
import { qgemvJob } from "./qgemv";
import { ARGS, finishJob, OP_ADAM, OP_GEMM, OP_PACK, OP_QGEMV, OP_QUIT, OP_SCALE, OP_XENT } from "./threads";
import { xentJob } from "./xent";

/**
 * The worker's side, part 2 (part 1 is threads.ts `workerPoll`): runs job `seq` described at `c`
 * with this thread's edge tile, then reports it done; returns the op (0: quit).
 */
export function workerRun(c: usize, tile: usize, seq: i32): i32 {
  if (!ASC_FEATURE_THREADS) return 0;
  setTile(tile);
  const op = load<i32>(c, 8);
  const a = c + ARGS;
  if (op == OP_GEMM) gemmJob(a);
  else if (op == OP_PACK) packJob(a);
  else if (op >= OP_ADAM && op <= OP_SCALE) optimJob(op, a);
  else if (op == OP_XENT) xentJob(a);
  else if (op == OP_QGEMV) qgemvJob(a);
  else if (op != OP_QUIT) runRowsJob(op, a, load<i32>(c, 12), load<i32>(c, 16));
  finishJob(c, seq);
  return op;
}
