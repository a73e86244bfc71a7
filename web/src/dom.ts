/** Small DOM helpers for the web lab: no framework, just elements. */

type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

/** Creates an element: h("button", { class: "go", onclick: f }, "Train"). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

/** The element with this id (throws when the page lacks it: a bug, not a user error). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** A labelled number input. */
export function numberField(label: string, id: string, value: number, o: { min?: number; max?: number; step?: number; title?: string } = {}): HTMLLabelElement {
  return h("label", { title: o.title }, label, h("input", { id, type: "number", value, min: o.min, max: o.max, step: o.step ?? "any" }));
}

/** A labelled select. */
export function selectField(label: string, id: string, options: readonly (readonly [string, string])[], value?: string): HTMLLabelElement {
  const s = h("select", { id }, ...options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  return h("label", {}, label, s);
}

/** The value of a number input, checked: a clear message names the field when it is not a number in range. */
export function readNumber(id: string, o: { min?: number; max?: number; integer?: boolean } = {}): number {
  const el = byId<HTMLInputElement>(id);
  const v = Number(el.value);
  const name = el.closest("label")?.firstChild?.textContent?.trim() ?? id;
  if (el.value.trim() === "" || !Number.isFinite(v)) throw new Error(`${name}: "${el.value}" is not a number`);
  if (o.integer && !Number.isInteger(v)) throw new Error(`${name} must be a whole number, got ${v}`);
  if (o.min !== undefined && v < o.min) throw new Error(`${name} must be at least ${o.min}, got ${v}`);
  if (o.max !== undefined && v > o.max) throw new Error(`${name} must be at most ${o.max}, got ${v}`);
  return v;
}

/** Saves bytes as a file download. */
export function download(name: string, bytes: Uint8Array | string, type = "application/octet-stream"): void {
  const blob = new Blob([bytes as BlobPart], { type });
  const a = h("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** Formats a count with thousands separators. */
export const fmt = (n: number, digits = 0): string => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Colour for a value in [-1, 1]: blue (negative) through white to red (positive), as in Karpathy's figures. */
export function divergingColor(v: number): string {
  const x = Math.max(-1, Math.min(1, v));
  const a = Math.abs(x);
  const r = x > 0 ? 255 : Math.round(255 * (1 - a * 0.75));
  const g = Math.round(255 * (1 - a * 0.75));
  const b = x < 0 ? 255 : Math.round(255 * (1 - a * 0.75));
  return `rgb(${r},${g},${b})`;
}
