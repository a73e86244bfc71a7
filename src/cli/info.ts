import { Command } from "commander";
import { backendNames, getBackend } from "../backend/select.js";

/** `unroll info`: what runs where. */
export function infoCommand(): Command {
  return new Command("info").summary("print the compute backend and environment").action(() => {
    console.log(`backend:   ${getBackend().name} (available: ${backendNames().join(", ")})`);
    console.log(`node:      ${process.version} (${process.platform}-${process.arch})`);
  });
}
