// Smoke: every route answers through the given host (live after a switch, or preview). Usage in load/README.md.
import type { Options } from "k6/options";
import { loadTargets } from "./lib/targets.ts";
import { baseOptions, smoke } from "./lib/presets.ts";
import { baseThresholds } from "./lib/thresholds.ts";
import { mixedRequest, prepare, type SetupData } from "./lib/flow.ts";
import { summaryFiles } from "./lib/summary.ts";

const targets = loadTargets();

export const options: Options = {
  ...baseOptions(),
  scenarios: { smoke: smoke(targets) },
  thresholds: baseThresholds(targets, "smoke"),
};

export function setup(): SetupData {
  return prepare(targets.writes);
}

export default function (data: SetupData): void {
  mixedRequest(data);
}

export function handleSummary(data: Parameters<typeof summaryFiles>[1]): Record<string, string> {
  return summaryFiles(__ENV.SUMMARY_NAME || "smoke", data);
}
