import type { Cell, CellConfig } from "./cell.js";
import { gruCell } from "./gru.js";
import { lstmCell } from "./lstm.js";
import { rnnCell } from "./rnn.js";

export * from "./cell.js";
export { rnnCell } from "./rnn.js";
export { lstmCell, type LstmCache } from "./lstm.js";
export { gruCell, type GruCache } from "./gru.js";

/** The cell implementing `config`. */
export function createCell(config: CellConfig): Cell {
  switch (config.kind) {
    case "rnn":
      return rnnCell(config) as Cell;
    case "lstm":
      return lstmCell(config) as Cell;
    case "gru":
      return gruCell(config) as Cell;
  }
}
