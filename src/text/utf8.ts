/**
 * UTF-8 through the TextEncoder/TextDecoder Web APIs, which browsers and Node both have but
 * TypeScript's lib ES2022 does not declare (the core compiles without DOM or Node typings).
 */
interface Utf8Globals {
  readonly TextEncoder: new () => { encode(s: string): Uint8Array };
  readonly TextDecoder: new (label: string, opts: { fatal: boolean }) => { decode(b: Uint8Array): string };
}

const web = globalThis as unknown as Utf8Globals;

export function encodeUtf8(s: string): Uint8Array {
  return new web.TextEncoder().encode(s);
}

/** Strict by default: invalid bytes throw instead of becoming U+FFFD (`strict: false` replaces them). */
export function decodeUtf8(b: Uint8Array, strict = true): string {
  return new web.TextDecoder("utf-8", { fatal: strict }).decode(b);
}
