/**
 * Node edge: SVG → PNG with resvg (@resvg/resvg-js, a self-contained renderer; no browser, no
 * Cairo). resvg draws text only with fonts it can load, and ships none: it loads the system's
 * fonts. Charts ask for the generic "sans-serif", so we point resvg at an installed sans-serif
 * font we know (DejaVu Sans, Liberation Sans, Arial, Helvetica, Noto Sans, …); without one, resvg
 * would fall back to the first font it finds, often a serif one. With no fonts at all, text is not
 * drawn: `canRenderText` says so, and the caller can warn (the SVG renders fine in any browser).
 */
import { Resvg, type ResvgRenderOptions } from "@resvg/resvg-js";
import { existsSync, readdirSync, type Dirent } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Sans-serif font files we recognise, in order of preference, with their family names. */
const SANS_FONTS: readonly (readonly [file: string, family: string])[] = [
  ["DejaVuSans.ttf", "DejaVu Sans"],
  ["LiberationSans-Regular.ttf", "Liberation Sans"],
  ["Arial.ttf", "Arial"],
  ["arial.ttf", "Arial"],
  ["Helvetica.ttc", "Helvetica"],
  ["HelveticaNeue.ttc", "Helvetica Neue"],
  ["NotoSans-Regular.ttf", "Noto Sans"],
  ["Roboto-Regular.ttf", "Roboto"],
  ["OpenSans-Regular.ttf", "Open Sans"],
  ["FreeSans.ttf", "FreeSans"],
  ["FreeSans.otf", "FreeSans"],
  ["segoeui.ttf", "Segoe UI"],
  ["Verdana.ttf", "Verdana"],
  ["verdana.ttf", "Verdana"],
];

/** Folders where operating systems keep fonts (resvg's fontdb looks in these too). */
function fontDirs(): string[] {
  const home = homedir();
  const dirs = [
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    join(home, ".fonts"),
    join(home, ".local/share/fonts"),
    "/System/Library/Fonts",
    "/Library/Fonts",
    join(home, "Library/Fonts"),
  ];
  const win = process.env.WINDIR ?? process.env.SystemRoot;
  if (win) dirs.push(join(win, "Fonts"));
  if (process.env.LOCALAPPDATA) dirs.push(join(process.env.LOCALAPPDATA, "Microsoft/Windows/Fonts"));
  return dirs;
}

/** A font: its file and family name. */
export interface FontChoice {
  readonly file: string;
  readonly family: string;
}

/**
 * The preferred installed sans-serif font, found by walking the font folders (a few levels deep,
 * a bounded number of entries), or null when none we recognise is installed.
 */
export function findSansFont(dirs: readonly string[] = fontDirs()): FontChoice | null {
  const rank = new Map(SANS_FONTS.map(([f], i) => [f, i]));
  let best: { file: string; rank: number } | null = null;
  let budget = 20_000;
  const walk = (dir: string, depth: number): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (--budget < 0) return;
      const r = rank.get(e.name);
      if (r !== undefined) {
        if (!best || r < best.rank) best = { file: join(dir, e.name), rank: r };
      } else if (depth < 4 && (e.isDirectory() || e.isSymbolicLink())) {
        walk(join(dir, e.name), depth + 1);
      }
    }
  };
  for (const d of dirs) if (existsSync(d)) walk(d, 0);
  const found = best as { file: string; rank: number } | null;
  return found ? { file: found.file, family: SANS_FONTS[found.rank][1] } : null;
}

/** Options of `svgToPng`. */
export interface PngOptions {
  /** Font files to load in addition to (or, with `systemFonts: false`, instead of) the system's. */
  readonly fontFiles?: readonly string[];
  /** The family to draw "sans-serif" text with; default: `findSansFont()`'s. */
  readonly fontFamily?: string;
  /** Load the system's fonts (default true). */
  readonly systemFonts?: boolean;
}

function resvgOptions(width: number | undefined, o: PngOptions): ResvgRenderOptions {
  const found = o.fontFamily === undefined ? findSansFont() : null;
  const family = o.fontFamily ?? found?.family;
  const files = [...(o.fontFiles ?? []), ...(found ? [found.file] : [])];
  return {
    fitTo: width === undefined ? { mode: "original" } : { mode: "width", value: Math.round(width) },
    background: "#ffffff",
    font: {
      loadSystemFonts: o.systemFonts ?? true,
      fontFiles: files,
      ...(family ? { defaultFontFamily: family, sansSerifFamily: family } : {}),
    },
    logLevel: "off",
  };
}

/**
 * Renders SVG text to a PNG image, `width` pixels wide (default: the SVG's own width); the height
 * keeps the aspect ratio. Throws when the SVG is not well-formed.
 */
export function svgToPng(svg: string, width?: number, options: PngOptions = {}): Buffer {
  if (width !== undefined && !(Number.isInteger(width) && width > 0 && width <= 16384)) {
    throw new Error(`PNG width must be an integer from 1 to 16384 pixels, got ${width}`);
  }
  return new Resvg(svg, resvgOptions(width, options)).render().asPng();
}

/**
 * Whether `svgToPng` can draw text here, i.e. resvg finds at least one font. False on a machine
 * with no fonts installed (some minimal containers): install one, e.g. `apt-get install
 * fonts-dejavu-core`, or pass `fontFiles`.
 */
export function canRenderText(options: PngOptions = {}): boolean {
  const probe = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text x="2" y="15" font-family="sans-serif" font-size="12">Hg</text></svg>`;
  return new Resvg(probe, resvgOptions(undefined, options)).innerBBox() !== undefined;
}
