import type { Threshold } from "k6/options";
import type { Targets } from "./targets.ts";

// Errors far above the target end a gate early; the delay lets a few seconds of data accumulate first.
const ABORT_DELAY = "5s";

/** Request names of load/lib/flow.ts; a route's own latency shows where capacity ends. */
export const ROUTES = ["GET /products/:sku", "GET /products", "POST /orders", "GET /orders/:id"];

/** Thresholds every gate keeps on: failed requests, p95/p99 latency, checks. */
export function baseThresholds(t: Targets): Record<string, Threshold[]> {
  // k6 only summarises a tagged sub-metric that has a threshold; `max>=0` always holds, so these never gate.
  const perRoute = Object.fromEntries(ROUTES.map((r) => [`http_req_duration{name:${r}}`, ["max>=0"]]));
  return {
    ...perRoute,
    http_req_failed: [
      { threshold: `rate<=${t.maxErrorRate}`, abortOnFail: true, delayAbortEval: ABORT_DELAY },
    ],
    http_req_duration: [`p(95)<${t.p95Ms}`, `p(99)<${t.p99Ms}`],
    checks: [{ threshold: `rate>=${t.minChecksRate}`, abortOnFail: true, delayAbortEval: ABORT_DELAY }],
  };
}

/** The capacity gate also needs a throughput floor: dropped iterations show up as a lower request rate. */
export function capacityThresholds(t: Targets, floor = 0.95): Record<string, Threshold[]> {
  return { ...baseThresholds(t), http_reqs: [`rate>=${round(floor * t.requestsPerSecond)}`] };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
