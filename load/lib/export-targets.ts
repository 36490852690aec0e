// Node side: writes the model's capacity targets as JSON for the k6 scripts (TARGETS_FILE).
// Usage: npx tsx load/lib/export-targets.ts <stack> [out.json]   (stdout without a file)
import { writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { loadBlueprint } from "../../infra/config/stack-file.js";
import type { Blueprint, Capacity } from "../../infra/model/index.js";

export interface Targets extends Capacity {
  stack: string;
  environment: string;
}

/**
 * The gate targets of the stack or, given a region, of that region's gates: the latency budgets plus the region's
 * gateRttMs, the network round trip from the runner the gates run on (a continent away is 100-250 ms).
 */
export function targetsOf(bp: Blueprint, region?: string): Targets {
  const rtt = bp.regions.find((r) => r.name === region)?.gateRttMs ?? 0;
  const { p95Ms, p99Ms } = bp.capacity;
  return {
    stack: bp.stack,
    environment: bp.environment,
    ...bp.capacity,
    p95Ms: p95Ms + rtt,
    p99Ms: p99Ms + rtt,
  };
}

export function exportTargets(stack: string, file?: string, root?: string): Targets {
  const targets = targetsOf(loadBlueprint(stack, root));
  if (file) writeFileSync(file, `${JSON.stringify(targets, null, 2)}\n`);
  return targets;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [stack, file] = process.argv.slice(2);
  if (!stack) {
    process.stderr.write("usage: npx tsx load/lib/export-targets.ts <stack> [out.json]\n");
    process.exit(2);
  }
  const targets = exportTargets(stack, file);
  if (!file) process.stdout.write(`${JSON.stringify(targets, null, 2)}\n`);
}
