/**
 * Node edge: a static file server for the web lab (and the browser tests and benchmarks). Every
 * response carries the two headers that make a page cross-origin isolated, so the wasm backend can
 * use SharedArrayBuffer threads:
 *   Cross-Origin-Opener-Policy: same-origin
 *   Cross-Origin-Embedder-Policy: require-corp
 * plus Cross-Origin-Resource-Policy: same-origin on every file. Serves from one folder only (no
 * path outside it, no directory listings), GET and HEAD only, loopback by default.
 */
import { createServer, type Server } from "node:http";
import { createReadStream, statSync } from "node:fs";
import { extname, join, normalize, resolve, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
  ".map": "application/json",
  ".ckpt": "application/octet-stream",
};

/** The headers of cross-origin isolation (and the resource policy that goes with them). */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};

export interface ServeOptions {
  /** The folder to serve. */
  readonly root: string;
  /** Port (0: any free one). Default 8080. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Send the isolation headers (default true; false shows the page's single-thread fallback). */
  readonly isolate?: boolean;
  /** Extra folders served under a URL prefix, e.g. { "/tfjs/": ".../dist" }. */
  readonly mounts?: Readonly<Record<string, string>>;
}

export interface RunningServer {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

/** The file a URL path names under `root`, or null when it leaves the folder. */
function within(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  const path = normalize(join(root, decoded));
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep) ? path : null;
}

/** Starts serving; resolves once it listens. */
export function serveStatic(o: ServeOptions): Promise<RunningServer> {
  const root = resolve(o.root);
  const mounts = Object.entries(o.mounts ?? {}).map(([prefix, dir]) => [prefix, resolve(dir)] as const);
  const isolate = o.isolate ?? true;
  const server = createServer((req, res) => {
    const headers: Record<string, string> = { "Cache-Control": "no-cache", ...(isolate ? ISOLATION_HEADERS : {}) };
    const fail = (code: number, text: string) => {
      res.writeHead(code, { ...headers, "Content-Type": "text/plain; charset=utf-8" });
      res.end(text + "\n");
    };
    if (req.method !== "GET" && req.method !== "HEAD") return fail(405, "only GET and HEAD");
    const urlPath = new URL(req.url ?? "/", "http://localhost").pathname;
    const mount = mounts.find(([prefix]) => urlPath.startsWith(prefix));
    let file = mount ? within(mount[1], urlPath.slice(mount[0].length)) : within(root, urlPath);
    if (file === null) return fail(403, "forbidden");
    let st;
    try {
      st = statSync(file);
      if (st.isDirectory()) {
        file = join(file, "index.html");
        st = statSync(file);
      }
    } catch {
      return fail(404, "not found");
    }
    res.writeHead(200, { ...headers, "Content-Type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream", "Content-Length": String(st.size) });
    if (req.method === "HEAD") return res.end();
    createReadStream(file).pipe(res);
  });
  return new Promise((done, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 8080, o.host ?? "127.0.0.1", () => {
      const a = server.address();
      const port = typeof a === "object" && a ? a.port : o.port;
      const host = o.host ?? "127.0.0.1";
      done({
        server,
        url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/`,
        close: () =>
          new Promise<void>((ok) => {
            server.close(() => ok());
            server.closeAllConnections(); // keep-alive connections would hold the close for seconds
          }),
      });
    });
  });
}
