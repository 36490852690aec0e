// handleSummary helpers: the k6 summary as JSON (with the gate figures scripts/pipeline reads) and markdown.
import { figures, ROUTE, type SummaryData } from "./figures.ts";

const n = (v: number, digits = 1) => v.toFixed(digits);

export function markdown(name: string, data: SummaryData): string {
  const f = figures(data);
  const lines = [
    `## k6 ${name}`,
    "",
    `| requests | req/s | p95 ms | p99 ms | error rate | checks |`,
    `| --- | --- | --- | --- | --- | --- |`,
    `| ${f.requests} | ${n(f.requestsPerSecond)} | ${n(f.p95Ms)} | ${n(f.p99Ms)} | ${n(f.errorRate * 100, 2)}% | ${n(f.checksRate * 100, 2)}% |`,
    "",
    `| route | p95 ms | p99 ms |`,
    `| --- | --- | --- |`,
    ...f.routes.map((r) => `| ${r.name} | ${n(r.p95Ms)} | ${n(r.p99Ms)} |`),
    "",
    `| threshold | result |`,
    `| --- | --- |`,
  ];
  for (const [metric, d] of Object.entries(data.metrics)) {
    if (ROUTE.test(metric)) continue;
    for (const [expr, r] of Object.entries(d.thresholds ?? {})) {
      lines.push(`| \`${metric}: ${expr}\` | ${r.ok ? "pass" : "**FAIL**"} |`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Writes `<SUMMARY_DIR>/<name>.json` and `.md` when SUMMARY_DIR is set; the markdown also goes to stdout. */
export function summaryFiles(name: string, data: SummaryData): Record<string, string> {
  const md = markdown(name, data);
  const out: Record<string, string> = { stdout: md };
  const dir = __ENV.SUMMARY_DIR;
  if (dir) {
    out[`${dir}/${name}.json`] = JSON.stringify({ figures: figures(data), ...data }, null, 2);
    out[`${dir}/${name}.md`] = md;
  }
  return out;
}
