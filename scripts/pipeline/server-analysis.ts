import { DURATION, NOT_SERVED, REQUESTS } from "../../infra/components/monitoring.js";
import type { Color } from "../../infra/model/index.js";
import { setTimeout as sleep } from "node:timers/promises";
import { prometheusApi } from "../lib/prometheus-api.js";
import type { GateResult } from "./target.js";

/**
 * The gates' second opinion, from the services' own metrics (Flagger- and Argo-style analysis): every route of every
 * service of the new color, over the window its k6 run covered, against the limits k6 holds the whole run to, and
 * against the live color's figures for the same routes in the same window when live had traffic. k6 sees only the
 * edge's answers in aggregate; a hop behind the gateway or a route with a small share of the mix can regress with
 * the aggregate still inside its thresholds.
 */
export interface RouteFigures {
  service: string;
  route: string;
  requests: number;
  errorRatio: number;
  /** Server-side p99 in milliseconds; undefined without histogram samples in the window. */
  p99Ms: number | undefined;
}

export interface AnalysisLimits {
  /** Highest 5xx share of a route (the gate's maxErrorRate). */
  maxErrorRatio: number;
  /** Highest server-side p99 of a route (the gate's p99Ms). */
  p99Ms: number;
  /** Routes with fewer requests in the window are not judged (one error in three requests says little). */
  minRequests: number;
}

export interface ServerAnalysis {
  ok: boolean;
  color: Color;
  baselineColor: Color;
  region: string;
  windowSeconds: number;
  candidate: RouteFigures[];
  baseline: RouteFigures[];
  failures: string[];
}

/** How much slower than live a route may get before it fails, when live is already above the absolute limit. */
const P99_GROWTH = 1.5;

/** The three PromQL queries of one color over a window, per service and route (the kit's probes excluded). */
export function analysisQueries(
  color: Color,
  region: string,
  windowSeconds: number,
): Record<"requests" | "errors" | "p99", string> {
  const sel = `color="${color}",region="${region}",${NOT_SERVED}`;
  const w = `[${windowSeconds}s]`;
  return {
    requests: `sum by (service, route) (increase(${REQUESTS}{${sel}}${w}))`,
    errors: `sum by (service, route) (increase(${REQUESTS}{${sel},status=~"5.."}${w}))`,
    p99: `histogram_quantile(0.99, sum by (service, route, le) (rate(${DURATION}_bucket{${sel}}${w})))`,
  };
}

/** Why the candidate fails, one line per route; empty when it passes. */
export function judge(candidate: RouteFigures[], baseline: RouteFigures[], limits: AnalysisLimits): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const failures: string[] = [];
  for (const c of candidate) {
    if (c.requests < limits.minRequests) continue;
    const live = baseline.find(
      (b) => b.service === c.service && b.route === c.route && b.requests >= limits.minRequests,
    );
    const name = `${c.service} ${c.route}`;
    const errorLimit = Math.max(limits.maxErrorRatio, live ? live.errorRatio + limits.maxErrorRatio : 0);
    if (c.errorRatio > errorLimit)
      failures.push(
        `${name}: ${pct(c.errorRatio)} 5xx of ${Math.round(c.requests)} requests (limit ${pct(errorLimit)}${live ? `; live ${pct(live.errorRatio)}` : ""})`,
      );
    const p99Limit = Math.max(limits.p99Ms, live?.p99Ms !== undefined ? live.p99Ms * P99_GROWTH : 0);
    if (c.p99Ms !== undefined && c.p99Ms > p99Limit)
      failures.push(
        `${name}: p99 ${c.p99Ms.toFixed(0)} ms (limit ${p99Limit.toFixed(0)} ms${live?.p99Ms !== undefined ? `; live ${live.p99Ms.toFixed(0)} ms` : ""})`,
      );
  }
  return failures;
}

type Vector = { metric: Record<string, string>; value: [number, string] }[];

async function query(prometheusUrl: string, q: string, at: number): Promise<Vector> {
  return (await prometheusApi<{ result: Vector }>(prometheusUrl, "query", { query: q, time: String(at) }))
    .result;
}

/** The figures of one color per service and route, evaluated at `at` (unix seconds). */
export async function routeFigures(
  prometheusUrl: string,
  color: Color,
  region: string,
  windowSeconds: number,
  at: number,
): Promise<RouteFigures[]> {
  const q = analysisQueries(color, region, windowSeconds);
  const [requests, errors, p99] = await Promise.all([
    query(prometheusUrl, q.requests, at),
    query(prometheusUrl, q.errors, at),
    query(prometheusUrl, q.p99, at),
  ]);
  const key = (m: Record<string, string>) => `${m.service} ${m.route}`;
  const value = (v: Vector, k: string) => {
    const x = Number(v.find((r) => key(r.metric) === k)?.value[1]);
    return Number.isFinite(x) ? x : undefined;
  };
  return requests
    .map((r) => {
      const k = key(r.metric);
      const n = Number(r.value[1]);
      const p = value(p99, k);
      return {
        service: r.metric.service!,
        route: r.metric.route!,
        requests: n,
        errorRatio: n > 0 ? (value(errors, k) ?? 0) / n : 0,
        p99Ms: p === undefined ? undefined : p * 1000,
      };
    })
    .filter((f) => f.requests > 0)
    .sort((a, b) => `${a.service} ${a.route}`.localeCompare(`${b.service} ${b.route}`));
}

/** The analysis of `color` against `baselineColor` in one region over the last windowSeconds up to `at`. */
export async function analyseServerSide(opts: {
  prometheusUrl: string;
  color: Color;
  baselineColor: Color;
  region: string;
  windowSeconds: number;
  at: number;
  limits: AnalysisLimits;
}): Promise<ServerAnalysis> {
  const figures = (color: Color) =>
    routeFigures(opts.prometheusUrl, color, opts.region, opts.windowSeconds, opts.at);
  const [candidate, baseline] = await Promise.all([figures(opts.color), figures(opts.baselineColor)]);
  const failures = judge(candidate, baseline, opts.limits);
  if (candidate.length === 0)
    failures.push(`no request of ${opts.color} in Prometheus over the last ${opts.windowSeconds} s`);
  return {
    ok: failures.length === 0,
    color: opts.color,
    baselineColor: opts.baselineColor,
    region: opts.region,
    windowSeconds: opts.windowSeconds,
    candidate,
    baseline,
    failures,
  };
}

/** A route with fewer requests in a gate's window is not judged server-side. */
export const MIN_JUDGED_REQUESTS = 20;

/**
 * A k6 gate's result with the server-side analysis of the same window added: it waits one scrape (the run's last
 * requests reach Prometheus with the next one), judges `expect.color` against the other color in the gate's region,
 * and fails the gate when either side fails. Both targets gate this way: the local one against the environment's
 * Prometheus, the cloud one against the region's `prometheusUrl` from the model.
 */
export async function withServerSide(
  result: GateResult & { region: string },
  opts: {
    prometheusUrl: string;
    color: Color;
    baselineColor: Color;
    /** When the k6 run started (ms since the epoch): the window runs from there to now. */
    startedMs: number;
    scrapeIntervalSeconds: number;
    limits: Omit<AnalysisLimits, "minRequests">;
    log?: ((line: string) => void) | undefined;
    name: string;
  },
): Promise<GateResult & { region: string }> {
  await sleep(opts.scrapeIntervalSeconds * 1000 + 1000);
  const serverSide = await analyseServerSide({
    prometheusUrl: opts.prometheusUrl,
    color: opts.color,
    baselineColor: opts.baselineColor,
    region: result.region,
    windowSeconds: Math.ceil((Date.now() - opts.startedMs) / 1000),
    at: Date.now() / 1000,
    limits: { ...opts.limits, minRequests: MIN_JUDGED_REQUESTS },
  });
  for (const f of serverSide.failures) opts.log?.(`  server-side ${opts.name}: ${f}`);
  return {
    ...result,
    serverSide,
    ok: result.ok && serverSide.ok,
    failedThresholds: [...result.failedThresholds, ...serverSide.failures.map((f) => `server-side ${f}`)],
  };
}
