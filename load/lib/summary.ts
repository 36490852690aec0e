// handleSummary helpers: the k6 summary as JSON (read by scripts/pipeline) and as markdown (for people).

interface MetricData {
  type: string;
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}
interface SummaryData {
  metrics: Record<string, MetricData>;
  state: { testRunDurationMs: number };
}

const n = (v: number | undefined, digits = 1) => (v === undefined ? "-" : v.toFixed(digits));

export function markdown(name: string, data: SummaryData): string {
  const m = data.metrics;
  const d = m.http_req_duration?.values ?? {};
  const lines = [
    `## k6 ${name}`,
    "",
    `| requests | req/s | p95 ms | p99 ms | error rate | checks |`,
    `| --- | --- | --- | --- | --- | --- |`,
    `| ${m.http_reqs?.values.count ?? 0} | ${n(m.http_reqs?.values.rate)} | ${n(d["p(95)"])} | ${n(d["p(99)"])} | ${n((m.http_req_failed?.values.rate ?? 0) * 100, 2)}% | ${n((m.checks?.values.rate ?? 0) * 100, 2)}% |`,
    "",
    `| route | p95 ms | p99 ms |`,
    `| --- | --- | --- |`,
    ...Object.entries(m)
      .filter(([k]) => k.startsWith("http_req_duration{name:"))
      .map(([k, v]) => `| ${k.slice(23, -1)} | ${n(v.values["p(95)"])} | ${n(v.values["p(99)"])} |`),
    "",
    `| threshold | result |`,
    `| --- | --- |`,
  ];
  for (const [metric, data] of Object.entries(m)) {
    if (metric.startsWith("http_req_duration{name:")) continue;
    for (const [expr, res] of Object.entries(data.thresholds ?? {})) {
      lines.push(`| \`${metric}: ${expr}\` | ${res.ok ? "pass" : "**FAIL**"} |`);
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
    out[`${dir}/${name}.json`] = JSON.stringify(data, null, 2);
    out[`${dir}/${name}.md`] = md;
  }
  return out;
}
