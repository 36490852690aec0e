import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadResult } from "./measure.js";

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
}

export interface Goal {
  goal: string;
  target: string;
  measured: string;
  met: boolean;
}

const fmt = (n: number, digits = 0) => n.toFixed(digits);

/** Issue 11's goals, evaluated on the figures of this one run. */
export function goals(r: BenchReport): Goal[] {
  const row = (id: string) => r.rows.find((x) => x.id === id)!;
  const catalog = row("catalog");
  const gateway = row("gateway");
  const edge = row("edge-sku");
  const list = row("edge-list");
  const out: Goal[] = [
    {
      goal: "edge → gateway → catalog, cached read",
      target: "≥ 0.40 × bare express",
      measured: `${fmt(edge.ratio, 2)} ×`,
      met: edge.ratio >= 0.4,
    },
    {
      goal: "the gateway hop's cost",
      target: "≤ 30 % of catalog direct's throughput",
      measured: `${fmt((1 - gateway.rps / catalog.rps) * 100)} %`,
      met: gateway.rps >= 0.7 * catalog.rps,
    },
    {
      goal: "`GET /products` through the edge",
      target: "≥ 0.30 × bare express",
      measured: `${fmt(list.ratio, 2)} ×`,
      met: list.ratio >= 0.3,
    },
  ];
  for (const ins of r.inserts) {
    const orders = row(`edge-orders-c${ins.connections}`);
    out.push({
      goal: `\`POST /orders\` through the edge, c=${ins.connections}`,
      target: "≥ 0.5 × the database's insert rate, p99 < 250 ms, 0 non-2xx",
      measured: `${fmt(orders.rps / ins.rps, 2)} × (${fmt(orders.rps)} vs ${fmt(ins.rps)}/s), p99 ${fmt(orders.p99)} ms, ${orders.non2xx} non-2xx, ${orders.timeouts} timeouts`,
      met: orders.rps >= 0.5 * ins.rps && orders.p99 < 250 && orders.non2xx === 0 && orders.timeouts === 0,
    });
  }
  if (r.idle)
    out.push({
      goal: `idle, ${r.idle.ordersStored} orders stored`,
      target: "≤ 5 % of one core, every process together",
      measured: `${fmt(r.idle.percentOfOneCore, 1)} %`,
      met: r.idle.percentOfOneCore <= 5,
    });
  return out;
}

/** The table printed on the console and written to the markdown report. */
export function table(r: BenchReport): string {
  const lines = [
    "| path | c | req/s | × bare | p50 ms | p99 ms | non-2xx | timeouts | CPU µs/req (servers) | CPU µs/req (machine) |",
    "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |",
  ];
  for (const x of r.rows)
    lines.push(
      `| ${x.label} | ${x.connections} | ${fmt(x.rps)} | ${fmt(x.ratio, 2)} | ${fmt(x.p50, 1)} | ${fmt(x.p99, 1)} | ${x.non2xx} | ${x.timeouts} | ${fmt(x.cpuUsPerRequest)} | ${fmt(x.machineCpuUsPerRequest)} |`,
    );
  for (const i of r.inserts)
    lines.push(
      `| mongodb driver \`insertOne\`, the same database | ${i.connections} | ${fmt(i.rps)} | – | – | ${fmt(i.p99, 1)} | 0 | 0 | ${fmt(i.cpuUsPerInsert)} | – |`,
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
    "| goal | target | measured | met |",
    "| --- | --- | --- | --- |",
    ...results.map((g) => `| ${g.goal} | ${g.target} | ${g.measured} | ${g.met ? "yes" : "**no**"} |`),
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
      "",
    ].join("\n"),
  );
  return { json, markdown, table: `${t}\n\n${goalLines.join("\n")}` };
}
