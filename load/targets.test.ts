import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadBlueprint, REPO_ROOT } from "../infra/config/stack-file.js";
import { TOOL_VERSIONS } from "../scripts/lib/servers/paths.js";
import { targetsOf } from "./lib/export-targets.js";

describe("gate targets per region", () => {
  it("when a region is far from the CI runner, then its gates' latency budgets add its round trip", () => {
    const bp = loadBlueprint("prod");
    const far = bp.regions.find((r) => r.gateRttMs > 0)!;
    expect(far, "prod names each region's gateRttMs").toBeDefined();
    const stack = targetsOf(bp);
    const region = targetsOf(bp, far.name);
    expect(region.p95Ms).toBe(stack.p95Ms + far.gateRttMs);
    expect(region.p99Ms).toBe(stack.p99Ms + far.gateRttMs);
    expect(region.requestsPerSecond).toBe(stack.requestsPerSecond);
    expect(new Set(bp.regions.map((r) => targetsOf(bp, r.name).p99Ms)).size).toBeGreaterThan(1);
  });
});

describe("k6 and its types", () => {
  it("when k6 is pinned, then @types/k6 is the newest release line not newer than it (same major)", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
      devDependencies: Record<string, string>;
    };
    const types = /^~?(\d+)\.(\d+)\./.exec(pkg.devDependencies["@types/k6"]!)!.slice(1).map(Number);
    const k6 = /^v(\d+)\.(\d+)\./.exec(TOOL_VERSIONS.K6_VERSION!)!.slice(1).map(Number);
    expect(types[0]).toBe(k6[0]);
    expect(types[1]).toBeLessThanOrEqual(k6[1]!);
  });
});
