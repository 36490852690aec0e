// What a V8 CPU profile (node --cpu-prof) says about where a server's time went: self time by package and by
// function, and an icicle flame graph as SVG. Hand-written: the npm flame graph tools left are unmaintained and read
// an older profile format, and the arithmetic is a tree walk.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The `.cpuprofile` JSON node --cpu-prof writes (the DevTools protocol's Profiler.Profile). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    hitCount?: number;
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

type ProfileNode = CpuProfile["nodes"][number];

/** V8's pseudo-frames: time not spent running JavaScript of the program. */
const IDLE = "(idle)";

/**
 * Where a frame's code lives: a package under node_modules (scoped ones whole), a workspace service (its dist
 * folder), one of Node's own modules by area, or V8's pseudo-frames ((garbage collector), (program)).
 */
export function categoryOf(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  const service = /\/services\/([^/]+)\/(?:dist|src)\//.exec(url);
  if (service) return service[1] === "lib" ? "service kit" : `${service[1]} (service code)`;
  if (url.startsWith("node:")) {
    const mod = url.slice("node:".length).replace(/^internal\//, "");
    if (/http|_http_/.test(mod)) return "node: http";
    if (/stream/.test(mod)) return "node: streams";
    if (/^(net|dns|tls)|tcp|socket/.test(mod)) return "node: net";
    if (/timers|async_hooks|process\/task_queues/.test(mod)) return "node: timers, promises, async hooks";
    if (/events/.test(mod)) return "node: events";
    return "node: other";
  }
  return "other";
}

export interface ProfileSummary {
  /** Sampled milliseconds, idle excluded. */
  busyMs: number;
  /** Sampled milliseconds the thread was idle (waiting for I/O). */
  idleMs: number;
  /** Self time by category, largest first, as percent of busy time. */
  byCategory: { category: string; percent: number }[];
  /** The functions with the most self time, largest first. */
  topFunctions: { name: string; where: string; category: string; percent: number }[];
}

/** Milliseconds per sample: the profile's length over its sample count (V8 samples at a fixed interval). */
function msPerSample(p: CpuProfile): number {
  const samples = p.samples?.length ?? p.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
  return samples > 0 ? (p.endTime - p.startTime) / 1000 / samples : 0;
}

const frameName = (f: ProfileNode["callFrame"]) => f.functionName || "(anonymous)";
const frameWhere = (f: ProfileNode["callFrame"]) =>
  f.url === "" ? "" : `${f.url.replace(/^.*\/(node_modules|services)\//, "$1/")}:${f.lineNumber + 1}`;

export function summarize(p: CpuProfile, top = 15): ProfileSummary {
  const ms = msPerSample(p);
  let busy = 0;
  let idle = 0;
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, { name: string; where: string; category: string; hits: number }>();
  for (const node of p.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    if (node.callFrame.functionName === IDLE) {
      idle += hits;
      continue;
    }
    busy += hits;
    const category = categoryOf(node.callFrame);
    byCategory.set(category, (byCategory.get(category) ?? 0) + hits);
    const where = frameWhere(node.callFrame);
    const key = `${frameName(node.callFrame)} ${where}`;
    const f = byFunction.get(key) ?? { name: frameName(node.callFrame), where, category, hits: 0 };
    f.hits += hits;
    byFunction.set(key, f);
  }
  const percent = (hits: number) => (busy > 0 ? (hits / busy) * 100 : 0);
  return {
    busyMs: busy * ms,
    idleMs: idle * ms,
    byCategory: [...byCategory]
      .map(([category, hits]) => ({ category, percent: percent(hits) }))
      .sort((a, b) => b.percent - a.percent),
    topFunctions: [...byFunction.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, top)
      .map(({ hits, ...f }) => ({ ...f, percent: percent(hits) })),
  };
}

const escapeXml = (s: string) =>
  s.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!,
  );

/** A stable, readable fill per category (hue from its name). */
function fill(category: string): string {
  let h = 0;
  for (const ch of category) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return `hsl(${h}, 60%, 72%)`;
}

/**
 * An icicle flame graph (callers on top, callees below, width = time including callees), idle excluded, frames
 * narrower than `minPercent` of the busy time dropped. Each frame's tooltip names it, its source and its share.
 */
export function flameGraphSvg(
  p: CpuProfile,
  title: string,
  opts: { width?: number; minPercent?: number } = {},
): string {
  const width = opts.width ?? 1200;
  const rowHeight = 16;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const totals = new Map<number, number>();
  const total = (node: ProfileNode): number => {
    const known = totals.get(node.id);
    if (known !== undefined) return known;
    const self = node.callFrame.functionName === IDLE ? 0 : (node.hitCount ?? 0);
    const sum = self + (node.children ?? []).reduce((n, id) => n + total(byId.get(id)!), 0);
    totals.set(node.id, sum);
    return sum;
  };
  // The root is the node no other node names as a child.
  const childIds = new Set(p.nodes.flatMap((n) => n.children ?? []));
  const root = p.nodes.find((n) => !childIds.has(n.id));
  if (!root) throw new Error("the CPU profile has no root node");
  const rootTotal = total(root);
  const minHits = (rootTotal * (opts.minPercent ?? 0.2)) / 100;
  const rects: string[] = [];
  let depthMax = 0;
  // Iterative, not recursive: express's middleware chains make deep stacks.
  const stack: { node: ProfileNode; x: number; depth: number }[] = [{ node: root, x: 0, depth: 0 }];
  while (stack.length > 0) {
    const { node, x, depth } = stack.pop()!;
    const hits = totals.get(node.id)!;
    if (hits < minHits || hits === 0) continue;
    depthMax = Math.max(depthMax, depth);
    const w = (hits / rootTotal) * width;
    const px = (x / rootTotal) * width;
    const name = depth === 0 ? "all busy time" : frameName(node.callFrame);
    const category = depth === 0 ? "" : categoryOf(node.callFrame);
    const tip = `${name} ${frameWhere(node.callFrame)} — ${category ? `${category}, ` : ""}${((hits / rootTotal) * 100).toFixed(1)} %`;
    const label = w > 30 ? name.slice(0, Math.floor((w - 6) / 7)) : "";
    rects.push(
      `<g><title>${escapeXml(tip)}</title><rect x="${px.toFixed(1)}" y="${depth * rowHeight + 24}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${rowHeight - 1}" fill="${depth === 0 ? "#ccc" : fill(category)}"/>` +
        (label
          ? `<text x="${(px + 3).toFixed(1)}" y="${depth * rowHeight + 36}">${escapeXml(label)}</text>`
          : "") +
        "</g>",
    );
    let cx = x;
    for (const id of node.children ?? []) {
      const child = byId.get(id)!;
      stack.push({ node: child, x: cx, depth: depth + 1 });
      cx += totals.get(child.id) ?? total(child);
    }
  }
  const height = (depthMax + 1) * rowHeight + 32;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">`,
    `<text x="4" y="16" font-size="13">${escapeXml(title)} — width: CPU time including callees; hover a frame for its share</text>`,
    ...rects,
    "</svg>",
    "",
  ].join("\n");
}

/** The newest `.cpuprofile` in a folder (node --cpu-prof names them by time and pid). */
export function readNewestProfile(dir: string): CpuProfile {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort();
  const newest = files.at(-1);
  if (!newest) throw new Error(`no .cpuprofile in ${dir}: the profiled process did not exit cleanly`);
  return JSON.parse(readFileSync(join(dir, newest), "utf8")) as CpuProfile;
}
