/** Looking inside a language model: traces of states and gates, unit–pattern correlations, unrolled BPTT. */
export * from "./trace.js";
export * from "./patterns.js";
export * from "./unrolled.js";
