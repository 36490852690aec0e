import { DURATION, NOT_SERVED, REQUESTS } from "../../infra/components/monitoring.js";
import { COLORS, type Color } from "../../infra/model/index.js";
import { prometheusApi } from "../lib/prometheus-api.js";

// The rehearsal's time series, read back from the local Prometheus after the run: what the first service of the
// model (the gateway) served per color, its 5xx and its p99, so the report shows the switch as it happened.

export interface RunSeries {
  service: string;
  /** Seconds since the run started, one per step. */
  seconds: number[];
  /** Requests per second per color: the active color is the one carrying the traffic. */
  requests: Record<Color, number[]>;
  /** 5xx answers per second, every color together. */
  errors: number[];
  /** p99 in ms over the window, every color together (0 when there were no requests). */
  p99Ms: number[];
}

interface Matrix {
  result: { metric: Record<string, string>; values: [number, string][] }[];
}

/** The queries, with the window each step reads (four scrapes at least, so every step has a rate). */
export function runQueries(
  service: string,
  windowSeconds: number,
): Record<"requests" | "errors" | "p99", string> {
  const sel = `service="${service}",${NOT_SERVED}`;
  const w = `${windowSeconds}s`;
  return {
    requests: `sum by (color) (rate(${REQUESTS}{${sel}}[${w}]))`,
    errors: `sum(rate(${REQUESTS}{${sel},status=~"5.."}[${w}]))`,
    p99: `histogram_quantile(0.99, sum by (le) (rate(${DURATION}_bucket{${sel}}[${w}])))`,
  };
}

/** Reads the run's series from Prometheus, from `startMs` to `endMs`, one point every `stepSeconds`. */
export async function fetchRunSeries(opts: {
  prometheusUrl: string;
  service: string;
  startMs: number;
  endMs: number;
  stepSeconds: number;
  windowSeconds: number;
}): Promise<RunSeries> {
  const start = Math.floor(opts.startMs / 1000);
  const end = Math.ceil(opts.endMs / 1000);
  const seconds: number[] = [];
  for (let t = start; t <= end; t += opts.stepSeconds) seconds.push(t - start);
  const q = runQueries(opts.service, opts.windowSeconds);
  const range = async (query: string) =>
    (
      await prometheusApi<Matrix>(opts.prometheusUrl, "query_range", {
        query,
        start: String(start),
        end: String(end),
        step: String(opts.stepSeconds),
      })
    ).result;
  const align = (values: [number, string][] | undefined, scale = 1) =>
    alignSeries(values, start, seconds, scale);
  const [requests, errors, p99] = await Promise.all([range(q.requests), range(q.errors), range(q.p99)]);
  return {
    service: opts.service,
    seconds,
    requests: Object.fromEntries(
      COLORS.map((c) => [c, align(requests.find((r) => r.metric.color === c)?.values)]),
    ) as Record<Color, number[]>,
    errors: align(errors[0]?.values),
    p99Ms: align(p99[0]?.values, 1000),
  };
}

/**
 * A range result on the run's steps (seconds since `start`), times `scale`, to one decimal: 0 where Prometheus has
 * no point (no traffic) or NaN (a ratio or quantile over no requests).
 */
export function alignSeries(
  values: [number, string][] | undefined,
  start: number,
  seconds: number[],
  scale = 1,
): number[] {
  const at = new Map((values ?? []).map(([t, v]) => [Math.round(t) - start, Number(v)]));
  return seconds.map((s) => {
    const v = at.get(s);
    return v === undefined || !Number.isFinite(v) ? 0 : Math.round(v * scale * 10) / 10;
  });
}

/** The report's section: requests per color, 5xx and p99 over the run, as pictures (mermaid). */
export function runSeriesSection(series: RunSeries): string[] {
  const { service } = series;
  const x = `  x-axis "second" [${series.seconds.join(", ")}]`;
  return [
    `## The run over time (${service}, from Prometheus)`,
    "",
    `Requests per second per color (${COLORS.join(" first, ")} second: the active color carries the traffic), 5xx per second, and p99${series.seconds.length > 1 ? `, every ${series.seconds[1]} s` : ""}.`,
    "",
    "```mermaid",
    "xychart-beta",
    `  title "${service}: requests per second by color (${COLORS.join(", ")})"`,
    x,
    '  y-axis "req/s"',
    ...COLORS.map((c) => `  line [${series.requests[c].join(", ")}]`),
    "```",
    "",
    "```mermaid",
    "xychart-beta",
    `  title "${service}: 5xx per second"`,
    x,
    '  y-axis "5xx/s"',
    `  bar [${series.errors.join(", ")}]`,
    "```",
    "",
    "```mermaid",
    "xychart-beta",
    `  title "${service}: p99 (ms)"`,
    x,
    '  y-axis "ms"',
    `  line [${series.p99Ms.join(", ")}]`,
    "```",
    "",
  ];
}
