import type { Threshold } from "k6/options";
import type { Targets } from "./targets.ts";

// A clearly broken release ends a gate early; the delay lets a few seconds of data accumulate first.
const ABORT_DELAY = "5s";

/** Request names of load/lib/flow.ts; a route's own latency shows where capacity ends. */
export const ROUTES = ["GET /products/:sku", "GET /products", "POST /orders", "GET /orders/:id"];

/**
 * Thresholds every gate keeps on: failed requests, p95/p99 latency, checks. They are scoped to the scenario, so
 * setup()'s requests (readiness probe, seeding) do not count.
 */
export function baseThresholds(t: Targets, scenario: string): Record<string, Threshold[]> {
  const scoped = (metric: string, tags = "") => `${metric}{scenario:${scenario}${tags}}`;
  // k6 only summarises a tagged sub-metric that has a threshold; `max>=0` always holds, so these never gate.
  const perRoute = Object.fromEntries(
    ROUTES.map((r) => [scoped("http_req_duration", `,name:${r}`), ["max>=0"]]),
  );
  return {
    ...perRoute,
    [scoped("http_reqs")]: ["count>=0"],
    // The gate is judged on the whole run; only a release far outside it (5x the error budget) stops early.
    [scoped("http_req_failed")]: [
      `rate<=${t.maxErrorRate}`,
      { threshold: `rate<=${abortErrorRate(t)}`, abortOnFail: true, delayAbortEval: ABORT_DELAY },
    ],
    [scoped("http_req_duration")]: [`p(95)<${t.p95Ms}`, `p(99)<${t.p99Ms}`],
    [scoped("checks")]: [
      `rate>=${t.minChecksRate}`,
      { threshold: `rate>=${round(1 - abortErrorRate(t))}`, abortOnFail: true, delayAbortEval: ABORT_DELAY },
    ],
  };
}

/**
 * The capacity gate also needs throughput: at most 5% of the planned iterations dropped (the arrival rate was
 * held), and a request-rate floor over the whole run, whose duration also counts setup and the final drain
 * (a few seconds of a 20 s run, hence 0.8).
 */
export function capacityThresholds(t: Targets, scenario: string): Record<string, Threshold[]> {
  const planned = t.requestsPerSecond * t.durationSeconds;
  return {
    ...baseThresholds(t, scenario),
    dropped_iterations: [`count<=${Math.floor(0.05 * planned)}`],
    [`http_reqs{scenario:${scenario}}`]: [`rate>=${round(0.8 * t.requestsPerSecond)}`],
  };
}

function abortErrorRate(t: Targets): number {
  return round(Math.min(0.5, Math.max(0.05, 5 * t.maxErrorRate)));
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
