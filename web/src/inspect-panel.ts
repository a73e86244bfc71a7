import type { Lab } from "./context.js";
import { h } from "./dom.js";

export function mountInspect(root: HTMLElement, _lab: Lab): void {
  root.append(h("p", {}, "coming"));
}
