// Failover drill load: constant requests to the DNS name (BASE_URL=http://<edge.hostname>:<port>) while a region
// is stopped. k6 resolves with the system resolver, so the drill runs it in a mount namespace whose resolv.conf
// points at the local DNS (see scripts/pipeline/failover.ts); dns.ttl makes k6 re-resolve every second.
import { Counter } from "k6/metrics";
import type { Options } from "k6/options";
import { loadTargets } from "./lib/targets.ts";
import { baseOptions, failover } from "./lib/presets.ts";
import { getProduct, prepare, type SetupData } from "./lib/flow.ts";
import { summaryFiles } from "./lib/summary.ts";

const targets = loadTargets();
const rate = Number(__ENV.FAILOVER_RPS || 20);
const seconds = Number(__ENV.FAILOVER_SECONDS || 30);
// One counter per region (REGIONS=region-a,region-b), from the edge's x-edge-region header: where traffic went.
const byRegion = new Map(
  (__ENV.REGIONS || "")
    .split(",")
    .filter(Boolean)
    .map((r) => [r, new Counter(`edge_${r.replace(/-/g, "_")}`)]),
);

export const options: Options = {
  ...baseOptions(),
  dns: { ttl: "1s", select: "first", policy: "preferIPv4" },
  scenarios: { failover: failover(targets, rate, seconds) },
  // A drill measures errors rather than gating on them; the bound only catches a region that never came back.
  thresholds: { http_req_failed: ["rate<0.5"] },
};

export function setup(): SetupData {
  return prepare(targets.writes);
}

export default function (data: SetupData): void {
  const region = getProduct(data).headers["X-Edge-Region"];
  if (region) byRegion.get(region)?.add(1);
}

export function handleSummary(data: Parameters<typeof summaryFiles>[1]): Record<string, string> {
  return summaryFiles(__ENV.SUMMARY_NAME || "failover", data);
}
