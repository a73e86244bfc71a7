import type { Backend } from "../backend.js";
import { gemm } from "./gemm.js";
import { gemmBlocked } from "./gemm-blocked.js";

/** Plain loops, nothing else: the specification every faster backend must reproduce. */
export const referenceBackend: Backend = { name: "reference", gemm };

/** Plain TypeScript with register-blocked GEMM: the portable default. */
export const jsBackend: Backend = { name: "js", gemm: gemmBlocked };
