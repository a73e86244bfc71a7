/**
 * unroll's version, for what the browser-safe core writes (the ONNX producer_version). It must
 * equal package.json's "version": test/version.test.ts fails when they part, so a release bumps both.
 */
export const VERSION = "0.1.0";
