import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadResult } from "./measure.js";
import type { ProfileSummary } from "./profile.js";

export interface RowResult extends LoadResult {
  id: string;
  label: string;
  connections: number;
  /** req/s over the bare express app's, in the same run. */
  ratio: number;
  /** CPU of the measured processes (the bare app alone, or every process of the environment) per request. */
  cpuUsPerRequest: number;
  /** Busy CPU of the whole machine (wrk included) per request. */
  machineCpuUsPerRequest: number;
  /** CPU per request of each measured process that used at least 1 µs, largest first. */
  cpuUsByProcess?: Record<string, number>;
}

/** One server's CPU profile under one row's load (node --cpu-prof). */
export interface ProfileResult extends ProfileSummary {
  service: string;
  row: string;
  /** Requests of the load the profile covers. */
  requests: number;
  /** The flame graph SVG, relative to the report's folder. */
  flameGraph: string;
}

export interface BenchReport {
  at: string;
  seconds: number;
  rounds: number;
  tool: string;
  rows: RowResult[];
  /** The database's own single-document insert rate (mongodb driver), per concurrency. */
  inserts: { connections: number; rps: number; p99: number; cpuUsPerInsert: number }[];
  idle?: {
    ordersStored: number;
    seconds: number;
    percentOfOneCore: number;
    byProcess: Record<string, number>;
    /** How long the saga took to finish the load rows' orders, and how many orders and events were left. */
    drain: { seconds: number; leftAtStart: number };
  };
  profiles?: ProfileResult[];
}

export interface Goal {
  goal: string;
  target: string;
  measured: string;
  met: boolean;
  /** Where the time goes on the row the goal reads: the processes with the largest CPU per request. */
  cpu?: string;
}

const fmt = (n: number, digits = 0) => n.toFixed(digits);

/** "gateway-blue-region-a 210, catalog-blue-region-a 150, edge-region-a 60": the three largest CPU shares. */
const largest = (byProcess: Record<string, number> | undefined): string =>
  byProcess
    ? Object.entries(byProcess)
        .slice(0, 3)
        .map(([name, us]) => `${name} ${fmt(us)}`)
        .join(", ")
    : "–";

/** Issue 11's goals, evaluated on the figures of this one run. */
export function goals(r: BenchReport): Goal[] {
  const row = (id: string) => r.rows.find((x) => x.id === id);
  const catalog = row("catalog");
  const gateway = row("gateway");
  const edge = row("edge-sku");
  const list = row("edge-list");
  // A goal whose rows did not run (npm run bench -- --rows …) is left out.
  const out: Goal[] = [];
  if (edge)
    out.push({
      goal: "edge → gateway → catalog, cached read",
      target: "≥ 0.40 × bare express",
      measured: `${fmt(edge.ratio, 2)} ×`,
      met: edge.ratio >= 0.4,
      cpu: largest(edge.cpuUsByProcess),
    });
  if (gateway && catalog)
    out.push({
      goal: "the gateway hop's cost",
      target: "≤ 30 % of catalog direct's throughput",
      measured: `${fmt((1 - gateway.rps / catalog.rps) * 100)} %`,
      met: gateway.rps >= 0.7 * catalog.rps,
      cpu: `${largest(gateway.cpuUsByProcess)} (catalog direct: ${largest(catalog.cpuUsByProcess)})`,
    });
  if (list)
    out.push({
      goal: "`GET /products` through the edge",
      target: "≥ 0.30 × bare express",
      measured: `${fmt(list.ratio, 2)} ×`,
      met: list.ratio >= 0.3,
      cpu: largest(list.cpuUsByProcess),
    });
  for (const ins of r.inserts) {
    const orders = row(`edge-orders-c${ins.connections}`)!;
    out.push({
      goal: `\`POST /orders\` through the edge, c=${ins.connections}`,
      target: "≥ 0.5 × the database's insert rate, p99 < 250 ms, 0 non-2xx",
      measured: `${fmt(orders.rps / ins.rps, 2)} × (${fmt(orders.rps)} vs ${fmt(ins.rps)}/s), p99 ${fmt(orders.p99)} ms, ${orders.non2xx} non-2xx, ${orders.timeouts} timeouts`,
      met: orders.rps >= 0.5 * ins.rps && orders.p99 < 250 && orders.non2xx === 0 && orders.timeouts === 0,
      cpu: largest(orders.cpuUsByProcess),
    });
  }
  if (r.idle)
    out.push({
      goal: `idle, ${r.idle.ordersStored} orders stored`,
      target: "≤ 5 % of one core, every process together",
      measured: `${fmt(r.idle.percentOfOneCore, 1)} %`,
      met: r.idle.percentOfOneCore <= 5,
      cpu: Object.entries(r.idle.byProcess)
        .slice(0, 3)
        .map(([name, pct]) => `${name} ${fmt(pct, 1)} %`)
        .join(", "),
    });
  return out;
}

/** Per profiled server: its busy time per request, by package, its hottest functions and its flame graph. */
function profileSections(profiles: ProfileResult[]): string[] {
  return profiles.flatMap((p) => [
    "",
    `## Where ${p.service}'s CPU goes (node --cpu-prof under the ${p.row} row's load)`,
    "",
    `${fmt((p.busyMs * 1000) / p.requests)} µs of JavaScript thread time per request (${fmt(p.busyMs)} ms busy, ${fmt(p.idleMs)} ms idle, ${p.requests} requests). Self time by package:`,
    "",
    "| package | % of busy |",
    "| --- | --: |",
    ...p.byCategory.filter((c) => c.percent >= 0.5).map((c) => `| ${c.category} | ${fmt(c.percent, 1)} |`),
    "",
    "| hottest functions (self time) | where | package | % of busy |",
    "| --- | --- | --- | --: |",
    ...p.topFunctions.map(
      (f) => `| \`${f.name}\` | ${f.where ? `\`${f.where}\`` : ""} | ${f.category} | ${fmt(f.percent, 1)} |`,
    ),
    "",
    `![${p.service} flame graph](${p.flameGraph})`,
  ]);
}

/** The table printed on the console and written to the markdown report. */
export function table(r: BenchReport): string {
  const lines = [
    "| path | c | req/s | × bare | p50 ms | p99 ms | non-2xx | timeouts | CPU µs/req (servers) | CPU µs/req (machine) | largest CPU µs/req |",
    "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |",
  ];
  for (const x of r.rows)
    lines.push(
      `| ${x.label} | ${x.connections} | ${fmt(x.rps)} | ${fmt(x.ratio, 2)} | ${fmt(x.p50, 1)} | ${fmt(x.p99, 1)} | ${x.non2xx} | ${x.timeouts} | ${fmt(x.cpuUsPerRequest)} | ${fmt(x.machineCpuUsPerRequest)} | ${largest(x.cpuUsByProcess)} |`,
    );
  for (const i of r.inserts)
    lines.push(
      `| mongodb driver \`insertOne\`, the same database | ${i.connections} | ${fmt(i.rps)} | – | – | ${fmt(i.p99, 1)} | 0 | 0 | ${fmt(i.cpuUsPerInsert)} | – | – |`,
    );
  return lines.join("\n");
}

export function writeBenchReport(
  r: BenchReport,
  dir: string,
): { json: string; markdown: string; table: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, "bench.json");
  const markdown = join(dir, "bench.md");
  const results = goals(r);
  writeFileSync(json, JSON.stringify({ ...r, goals: results }, null, 2));
  const t = table(r);
  const goalLines = [
    "| goal | target | measured | met | largest CPU (µs/req; idle: % of a core) |",
    "| --- | --- | --- | --- | --- |",
    ...results.map(
      (g) => `| ${g.goal} | ${g.target} | ${g.measured} | ${g.met ? "yes" : "**no**"} | ${g.cpu ?? "–"} |`,
    ),
  ];
  const bars = [
    "```mermaid",
    "xychart-beta",
    '  title "req/s per path (one run)"',
    `  x-axis [${r.rows.map((x) => `"${x.id}"`).join(", ")}]`,
    '  y-axis "req/s"',
    `  bar [${r.rows.map((x) => fmt(x.rps)).join(", ")}]`,
    "```",
  ];
  const idle = r.idle
    ? [
        "",
        `## Idle, ${r.idle.ordersStored} orders stored, ${fmt(r.idle.seconds)} s`,
        "",
        `Every process together: **${fmt(r.idle.percentOfOneCore, 1)} %** of one core. Measured once the saga had finished the load rows' orders: ${r.idle.drain.leftAtStart} pending orders and outbox events were left when the load ended, drained in ${fmt(r.idle.drain.seconds)} s.`,
        "",
        "| process | % of one core |",
        "| --- | --: |",
        ...Object.entries(r.idle.byProcess).map(([name, pct]) => `| ${name} | ${fmt(pct, 1)} |`),
      ]
    : [];
  writeFileSync(
    markdown,
    [
      `# Benchmark, ${r.at}`,
      "",
      `Load: ${r.tool}, ${r.seconds} s per run, ${r.rounds} interleaved round(s), median per row; every server on loopback on this machine, the gateway's rate limit lifted. Ratios are within this one run; the absolute figures move with the machine.`,
      "",
      t,
      "",
      ...bars,
      "",
      "## Goals (issue 11)",
      "",
      ...goalLines,
      ...idle,
      ...profileSections(r.profiles ?? []),
      "",
    ].join("\n"),
  );
  return { json, markdown, table: `${t}\n\n${goalLines.join("\n")}` };
}
