/** placeholder until the inspect library lands */
import type { WorkerHandler } from "../../src/browser/index.js";
export const inspectHandlers: Record<string, WorkerHandler> = {};
