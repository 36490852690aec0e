// Capacity gate: the environment's requestsPerSecond for durationSeconds, with latency, error, check and rate floors.
import type { Options } from "k6/options";
import { loadTargets } from "./lib/targets.ts";
import { baseOptions, capacity } from "./lib/presets.ts";
import { capacityThresholds } from "./lib/thresholds.ts";
import { mixedRequest, prepare, type SetupData } from "./lib/flow.ts";
import { summaryFiles } from "./lib/summary.ts";

const targets = loadTargets();

export const options: Options = {
  ...baseOptions(),
  scenarios: { capacity: capacity(targets) },
  thresholds: capacityThresholds(targets, "capacity"),
};

export function setup(): SetupData {
  return prepare(targets.writes);
}

export default function (data: SetupData): void {
  mixedRequest(data);
}

export function handleSummary(data: Parameters<typeof summaryFiles>[1]): Record<string, string> {
  return summaryFiles(__ENV.SUMMARY_NAME || "capacity", data);
}
