// Breakpoint: the gates' mix at a rate that rises from a few requests per second to the environment's
// requestsPerSecond (the ceiling) over durationSeconds. No threshold judges the run: scripts/pipeline/breakpoint.ts
// reads the per-second points (k6 --out json) and finds the knee, the rate where p99 or errors break the targets;
// the capacity gate then runs at the model's kneeFraction of it.
import type { Options } from "k6/options";
import { loadTargets } from "./lib/targets.ts";
import { baseOptions, breakpoint } from "./lib/presets.ts";
import { mixedRequest, prepare, type SetupData } from "./lib/flow.ts";
import { summaryFiles } from "./lib/summary.ts";

const targets = loadTargets();

export const options: Options = {
  ...baseOptions(),
  scenarios: { breakpoint: breakpoint(targets) },
  // k6 summarises a tagged sub-metric only with a threshold; `count>=0` always holds.
  thresholds: { "http_reqs{scenario:breakpoint}": ["count>=0"] },
};

export function setup(): SetupData {
  return prepare(targets.writes);
}

export default function (data: SetupData): void {
  mixedRequest(data);
}

export function handleSummary(data: Parameters<typeof summaryFiles>[1]): Record<string, string> {
  return summaryFiles(__ENV.SUMMARY_NAME || "breakpoint", data);
}
