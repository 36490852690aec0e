import type { Options, Scenario } from "k6/options";
import { BREAKPOINT_START_RPS, breakpointRamp } from "./ramp.ts";
import { resolveHosts, type Targets } from "./targets.ts";

export const SUMMARY_TREND_STATS = ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"];

function vus(rate: number, t: Targets): { preAllocatedVUs: number; maxVUs: number } {
  // Little's law: VUs busy at the p95 target start allocated, up to the p99 target with headroom on demand.
  const pre = Math.ceil((rate * t.p95Ms) / 1000) + 2;
  return { preAllocatedVUs: pre, maxVUs: Math.max(pre, Math.ceil((rate * t.p99Ms) / 1000) * 2) };
}

/** A short, light run: every route answers, through the live or preview host. */
export function smoke(t: Targets): Scenario {
  const rate = Math.max(2, Math.min(10, Math.round(t.requestsPerSecond / 10)));
  return {
    executor: "constant-arrival-rate",
    rate,
    timeUnit: "1s",
    duration: `${t.smokeSeconds}s`,
    ...vus(rate, t),
  };
}

/** The capacity gate: the environment's target rate for its whole duration. */
export function capacity(t: Targets): Scenario {
  return {
    executor: "constant-arrival-rate",
    rate: t.requestsPerSecond,
    timeUnit: "1s",
    duration: `${t.durationSeconds}s`,
    ...vus(t.requestsPerSecond, t),
  };
}

/**
 * The breakpoint run: from 5 req/s up to the ceiling (requestsPerSecond) over durationSeconds. VUs for the
 * ceiling at the p99 budget, so k6 itself is not what stops the rate rising.
 */
export function breakpoint(t: Targets): Scenario {
  const { ceiling } = breakpointRamp(t.requestsPerSecond, t.durationSeconds);
  return {
    executor: "ramping-arrival-rate",
    startRate: BREAKPOINT_START_RPS,
    timeUnit: "1s",
    stages: [{ target: ceiling, duration: `${t.durationSeconds}s` }],
    ...vus(ceiling, t),
  };
}

/** Constant load for the failover drill; the drill stops a region while this runs. */
export function failover(t: Targets, rate: number, seconds: number): Scenario {
  return {
    executor: "constant-arrival-rate",
    rate,
    timeUnit: "1s",
    duration: `${seconds}s`,
    ...vus(rate, t),
  };
}

/** Shared options; `hosts` from RESOLVE (see resolveHosts) when the pipeline maps a hostname to a gateway address. */
export function baseOptions(): Partial<Options> {
  const hosts = resolveHosts();
  return {
    summaryTrendStats: SUMMARY_TREND_STATS,
    setupTimeout: "30s",
    noConnectionReuse: false,
    ...(hosts ? { hosts } : {}),
  };
}
