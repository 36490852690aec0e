import type { BreakpointResult } from "./breakpoint.js";
import type { FailoverResult } from "./failover.js";
import type { ProbeCounts, LiveSample } from "./live-probe.js";
import type { PromotionResult } from "./machine.js";
import { runSeriesSection, type RunSeries } from "./run-series.js";
import type { GateResult } from "./target.js";

export interface RehearsalReport {
  startedAt: string;
  wallMs: number;
  stack: string;
  failGate: boolean;
  /** The bad release fails only order reads, under k6's limit (--fail-server-side). */
  serverSideRegression?: boolean;
  ok: boolean;
  verdict: string;
  promotion: PromotionResult;
  liveBefore: LiveSample[];
  liveAfter: LiveSample[];
  switchProbe: ProbeCounts | undefined;
  /** The breakpoint run that set the capacity gate's rate, when the model asks for one. */
  breakpoint?: (BreakpointResult & { gateRps: number }) | undefined;
  failover: FailoverResult | undefined;
  /** The run's time series from Prometheus, or why they could not be read. */
  series?: RunSeries;
  seriesError?: string;
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pct = (rate: number) => `${(rate * 100).toFixed(2)}%`;
const rel = (file: string | undefined) =>
  file ? `[${file.split("/").at(-1)}](${file.split("/").at(-1)})` : "-";

function gateRow(g: GateResult): string {
  const server = g.serverSide ? (g.serverSide.ok ? "pass" : "**FAIL**") : "—";
  return `| ${g.kind} via ${g.via}${g.region ? ` (${g.region})` : ""} | ${g.ok ? "pass" : "**FAIL**"} | ${server} | ${g.requests} | ${g.requestsPerSecond.toFixed(1)} | ${g.p95Ms.toFixed(1)} | ${g.p99Ms.toFixed(1)} | ${pct(g.errorRate)} | ${pct(g.checksRate)} | ${rel(g.files.dashboard)} |`;
}

/** Every route the services served to the gate's color, from their own metrics (the capacity gate's window). */
function serverSideSection(gates: GateResult[]): string[] {
  const g = gates.find((x) => x.kind === "capacity" && x.serverSide) ?? gates.find((x) => x.serverSide);
  const a = g?.serverSide;
  if (!g || !a) return [];
  const ms = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(0));
  return [
    `## Server-side analysis (${g.kind} via ${g.via}, ${a.region}: ${a.color} against live ${a.baselineColor}, last ${a.windowSeconds} s)`,
    "",
    "| service | route | requests | 5xx | p99 ms | live requests | live 5xx | live p99 ms |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...a.candidate.map((c) => {
      const b = a.baseline.find((x) => x.service === c.service && x.route === c.route);
      return `| ${c.service} | \`${c.route}\` | ${Math.round(c.requests)} | ${pct(c.errorRatio)} | ${ms(c.p99Ms)} | ${b ? Math.round(b.requests) : 0} | ${b ? pct(b.errorRatio) : "—"} | ${ms(b?.p99Ms)} |`;
    }),
    "",
    a.failures.length
      ? `Failed: ${a.failures.map((f) => `\`${f}\``).join(", ")}`
      : "Every route within the gate's limits.",
    "",
  ];
}

function liveRows(samples: LiveSample[]): string[] {
  return samples.map((l) => `| ${l.region} | ${l.status} | ${l.color ?? "-"} | ${l.version ?? "-"} |`);
}

/** The rehearsal report as markdown: steps, durations, gate figures, switch errors, failover, rollback evidence. */
export function renderReport(r: RehearsalReport): string {
  const p = r.promotion;
  const out = [
    `# Blue-green rehearsal — ${r.stack}, ${r.startedAt}`,
    "",
    `**${r.verdict}** · version ${p.version} · wall time ${s(r.wallMs)}${r.serverSideRegression ? " · deliberately bad release (--fail-server-side)" : r.failGate ? " · deliberately bad release (--fail-gate)" : ""}`,
    "",
    p.reason ? `Promotion stopped: ${p.reason}\n` : "",
    "## Steps",
    "",
    "| # | step | result | duration |",
    "| --- | --- | --- | --- |",
    ...p.steps.map(
      (st, i) =>
        `| ${i + 1} | ${st.name} | ${st.ok ? "ok" : `**failed**: ${st.error ?? ""}`} | ${s(st.durationMs)} |`,
    ),
    "",
    ...(r.breakpoint ? breakpointSection(r.breakpoint) : []),
    "## k6 gates",
    "",
    "| gate | result | server-side | requests | req/s | p95 ms | p99 ms | errors | checks | dashboard |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...p.gates.map(gateRow),
    ...p.gates.flatMap((g) =>
      g.failedThresholds.length
        ? [
            `\nFailed thresholds (${g.kind}${g.region ? `, ${g.region}` : ""}): ${g.failedThresholds.map((t) => `\`${t}\``).join(", ")}`,
          ]
        : [],
    ),
    "",
    ...serverSideSection(p.gates),
    "## Switch",
    "",
    r.switchProbe
      ? `Live requests during the edge switch: ${r.switchProbe.requests}, 5xx: ${r.switchProbe.failures}, raw connection errors (resets, refused, timeouts): ${r.switchProbe.connectionErrors}; failed after one retry on a new connection: ${r.switchProbe.failedAfterRetry}.`
      : "The switch step did not run.",
    "",
    "## Live color and version (edge headers `x-color`, `x-service-version`)",
    "",
    "| region | status | color | version |",
    "| --- | --- | --- | --- |",
    "| **before** | | | |",
    ...liveRows(r.liveBefore),
    "| **after** | | | |",
    ...liveRows(r.liveAfter),
    "",
    p.rolledBack
      ? `Rolled back: live traffic ${p.steps.some((s) => s.ok && s.name.startsWith("switch live traffic")) ? "returned to" : "stayed on"} ${p.before.activeColor} ${p.before.versions?.[p.before.activeColor ?? "blue"] ?? ""}.`
      : "",
  ];
  if (r.failover) out.push(...failoverSection(r.failover));
  if (r.series) out.push("", ...runSeriesSection(r.series));
  else if (r.seriesError)
    out.push("", `The run's time series could not be read from Prometheus: ${r.seriesError}`);
  return `${out.filter((line, i, all) => !(line === "" && all[i - 1] === "")).join("\n")}\n`;
}

function breakpointSection(b: BreakpointResult & { gateRps: number }): string[] {
  const xs = b.seconds;
  return [
    "## Breakpoint (the live release, before the gate)",
    "",
    `Ramp 5 → ${b.ceilingRps} req/s on the primary region's live host: **knee ${b.kneeRps} req/s** (${b.reason}). The capacity gate ran the new release at **${b.gateRps} req/s**.${b.files.dashboard ? ` Dashboard: ${rel(b.files.dashboard)}; per second: ${rel(b.files.seconds)}.` : ` Per second: ${rel(b.files.seconds)}.`}`,
    "",
    "```mermaid",
    "xychart-beta",
    '  title "requests per second: planned (first line) and carried (second)"',
    `  x-axis "second" [${xs.map((x) => x.second).join(", ")}]`,
    '  y-axis "req/s"',
    `  line [${xs.map((x) => x.plannedRps).join(", ")}]`,
    `  line [${xs.map((x) => x.requests).join(", ")}]`,
    "```",
    "",
    "```mermaid",
    "xychart-beta",
    '  title "p99 per second (ms)"',
    `  x-axis "second" [${xs.map((x) => x.second).join(", ")}]`,
    '  y-axis "ms"',
    `  bar [${xs.map((x) => Math.round(x.p99Ms)).join(", ")}]`,
    "```",
    "",
  ];
}

function failoverSection(f: FailoverResult): string[] {
  return [
    "",
    "## Failover drill",
    "",
    `Stopped the edge of ${f.stoppedRegion}. DNS answered ${f.toRegion} after **${f.failoverMs ?? "—"} ms** (bound: three health-check intervals, ${f.boundMs} ms); back to ${f.stoppedRegion} ${f.failbackMs ?? "—"} ms after the restart.${f.error ? ` Error: ${f.error}` : ""}`,
    "",
    f.load
      ? `Constant load through the DNS name: ${f.load.requests} requests at ${f.load.requestsPerSecond.toFixed(1)} req/s, failed ${Math.round(f.load.errorRate * f.load.requests)} (${pct(f.load.errorRate)}), p95 ${f.load.p95Ms.toFixed(1)} ms — ${rel(f.load.files.dashboard)}.`
      : `k6 load through the DNS name did not run: ${f.k6Skipped ?? "unknown reason"}.`,
    "",
    `Responses per edge (x-edge-region): ${
      Object.entries(f.responsesByRegion)
        .map(([r, n]) => `${r} ${n}`)
        .join(", ") || "-"
    }; DNS queries from k6 through the relay: ${f.dnsQueries}.`,
    "",
    "| phase | ms after the edge stopped / started | DNS answer |",
    "| --- | --- | --- |",
    ...f.dnsTimeline.map((t) => `| ${t.phase} | ${t.atMs} | ${t.answer.join(", ") || "(none)"} |`),
  ];
}
