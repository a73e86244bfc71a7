/** The plain cell types, defined beside the backend interface that takes them (backend/cell-types.ts). */
export type * from "../backend/cell-types.js";
