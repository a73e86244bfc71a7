import type { Backend } from "../backend.js";
import { gemm } from "./gemm.js";

/** The plain-TypeScript backend: the specification every faster backend must reproduce. */
export const jsBackend: Backend = { name: "js", gemm };
