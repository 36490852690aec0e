// The gate figures from a k6 summary; plain TypeScript, read by k6 (summary.ts) and by Node (scripts/pipeline).

interface MetricData {
  type: string;
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}
export interface SummaryData {
  metrics: Record<string, MetricData>;
  state: { testRunDurationMs: number };
}

/** The numbers a gate is judged on; the scenario-scoped sub-metrics when present (setup() excluded). */
export interface Figures {
  requests: number;
  requestsPerSecond: number;
  p95Ms: number;
  p99Ms: number;
  errorRate: number;
  checksRate: number;
  failedThresholds: string[];
  routes: { name: string; p95Ms: number; p99Ms: number }[];
}

export const ROUTE = /^http_req_duration\{(?:scenario:[^,}]+,)?name:([^}]+)\}$/;

export function figures(data: SummaryData): Figures {
  const m = data.metrics;
  const scoped = (metric: string) =>
    m[Object.keys(m).find((k) => k.startsWith(`${metric}{scenario:`) && !k.includes(",")) ?? metric]
      ?.values ?? {};
  const duration = scoped("http_req_duration");
  const failedThresholds: string[] = [];
  for (const [metric, d] of Object.entries(m)) {
    for (const [expr, r] of Object.entries(d.thresholds ?? {}))
      if (!r.ok) failedThresholds.push(`${metric}: ${expr}`);
  }
  return {
    requests: scoped("http_reqs").count ?? 0,
    requestsPerSecond: scoped("http_reqs").rate ?? 0,
    p95Ms: duration["p(95)"] ?? 0,
    p99Ms: duration["p(99)"] ?? 0,
    errorRate: scoped("http_req_failed").rate ?? 0,
    checksRate: scoped("checks").rate ?? 0,
    failedThresholds,
    routes: Object.entries(m).flatMap(([k, v]) => {
      const name = ROUTE.exec(k)?.[1];
      return name ? [{ name, p95Ms: v.values["p(95)"] ?? 0, p99Ms: v.values["p(99)"] ?? 0 }] : [];
    }),
  };
}
