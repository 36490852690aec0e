import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalEnvironment, type LocalEnvironment } from "../local/environment.js";
import { gateRate } from "./breakpoint.js";
import { runFailoverDrill } from "./failover.js";
import { sampleLive } from "./live-probe.js";
import { runRehearsal } from "./rehearsal.js";

// The real local environment (Redis, Kafka, FerretDB, nginx, PowerDNS, the built services) and real k6, on
// loopback ports away from `npm run local` (18000) so both can run at once.
const dir = mkdtempSync(join(tmpdir(), "rehearsal-e2e-"));
let env: LocalEnvironment;

beforeAll(async () => {
  env = createLocalEnvironment({ stateDir: join(dir, "state"), basePort: 26000 });
  await env.up();
}, 180_000);

afterAll(async () => {
  await env?.down();
}, 120_000);

describe.sequential("blue-green rehearsal on the local environment", () => {
  it("when a good release is promoted, then it passes the gates, goes live everywhere, and the report has the figures", async () => {
    const reportDir = join(dir, "good");
    const result = await runRehearsal(env, { reportDir, version: "1.1.0" });
    const target = env.blueprint.capacity;

    expect(result.promotion.reason).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.promotion.steps.map((s) => s.name)).toEqual([
      "read current rollout",
      "deploy 1.1.0 to green",
      "wait until green is ready",
      "capacity gate via preview",
      "switch live traffic to green",
      "smoke gate on live",
      `keep blue for the rollback window (${env.blueprint.rollout.rollbackWindowSeconds} s)`,
      "smoke gate on live at the end of the rollback window",
      "retire blue",
    ]);
    const capacity = result.promotion.gates.find((g) => g.kind === "capacity")!;
    const [primary, ...others] = env.endpoints.map((e) => e.region);
    // Capacity through the primary region, a smoke gate through every other region, all via preview, then a live
    // smoke gate in every region after the switch and again at the end of the rollback window.
    expect(result.promotion.gates.map((g) => [g.kind, g.via, g.region, g.ok])).toEqual([
      ["capacity", "preview", primary, true],
      ...others.map((r) => ["smoke", "preview", r, true]),
      ...[1, 2].flatMap(() => env.endpoints.map((e) => ["smoke", "live", e.region, true])),
    ]);
    for (const g of result.promotion.gates)
      expect(g.requests, `${g.kind} ${g.via} ${g.region}`).toBeGreaterThan(0);
    // The gate's rate comes from the live release's knee, measured just before (capacity.breakpoint).
    const breakpoint = result.breakpoint!;
    expect(breakpoint.seconds.length).toBeGreaterThan(5);
    expect(breakpoint.kneeRps).toBeGreaterThan(target.requestsPerSecond);
    expect(breakpoint.gateRps).toBe(gateRate(breakpoint.kneeRps, target));
    expect(capacity.requestsPerSecond).toBeGreaterThanOrEqual(0.8 * breakpoint.gateRps);
    expect(capacity.p95Ms).toBeLessThan(target.p95Ms);
    expect(capacity.p99Ms).toBeLessThan(target.p99Ms);
    expect(capacity.errorRate).toBeLessThanOrEqual(target.maxErrorRate);
    expect(capacity.checksRate).toBeGreaterThanOrEqual(target.minChecksRate);
    expect(result.liveAfter.map((l) => [l.status, l.color, l.version])).toEqual(
      env.endpoints.map(() => [200, "green", "1.1.0"]),
    );
    // nginx reloads gracefully: live requests during the switch see neither 5xx nor dropped connections.
    // Raw resets are reported, not asserted: an nginx reload may reset a request racing an idle close.
    expect(result.switchProbe).toMatchObject({ failures: 0, failedAfterRetry: 0 });
    expect(result.switchProbe!.connectionErrors).toBeLessThanOrEqual(4);
    expect(result.switchProbe!.requests).toBeGreaterThan(10);

    const md = readFileSync(result.reportFile, "utf8");
    expect(md).toContain(
      `| capacity via preview (${primary}) | pass | pass | ${capacity.requests} | ${capacity.requestsPerSecond.toFixed(1)} | ${capacity.p95Ms.toFixed(1)} |`,
    );
    expect(md).toMatch(/\| smoke via live \(region-b\) \| pass \| (pass|—) \|/);
    // The services' own view of the capacity gate: every hop of green in the primary region, within the limits.
    expect(capacity.serverSide).toMatchObject({ ok: true, color: "green", region: primary, failures: [] });
    expect(capacity.serverSide!.candidate.map((c) => c.service)).toEqual(
      expect.arrayContaining(["gateway", "catalog", "orders"]),
    );
    expect(md).toContain(`**knee ${breakpoint.kneeRps} req/s**`);
    expect(md).toContain(`new release at **${breakpoint.gateRps} req/s**`);
    expect(existsSync(capacity.files.dashboard!)).toBe(true);
    // The run over time, from Prometheus: blue carried the traffic first, green once it was switched live.
    const { requests } = result.series!;
    const first = (xs: number[]) => xs.findIndex((v) => v > 0);
    expect(first(requests.blue)).toBeGreaterThanOrEqual(0);
    expect(first(requests.green)).toBeGreaterThan(first(requests.blue));
    expect(md).toContain("gateway: requests per second by color (blue, green)");
  });

  it("when a bad release fails its capacity gate, then it is rolled back and the edges still answer the old color and version", async () => {
    const before = await sampleLive(env);
    const result = await runRehearsal(env, { reportDir: join(dir, "bad"), failGate: true });
    const after = await sampleLive(env);

    expect(result.ok).toBe(true);
    expect(result.promotion).toMatchObject({ ok: false, rolledBack: true });
    expect(result.promotion.reason).toMatch(
      /^(capacity|smoke) gate via preview failed \(k6 exit 99\) in region-/,
    );
    const gate = result.promotion.gates[0]!;
    expect(gate).toMatchObject({ kind: "capacity", region: env.endpoints[0]!.region, ok: false });
    // Faults are injected at the gateway only: clients see the 30% set, not 51% compounded over gateway and catalog.
    expect(gate.errorRate).toBeGreaterThan(0.2);
    expect(gate.errorRate).toBeLessThan(0.4);
    expect(result.promotion.gates.every((g) => !g.ok)).toBe(true);
    expect(result.promotion.steps.some((s) => s.name.startsWith("switch live traffic"))).toBe(false);
    expect(after).toEqual(before);
    const live = before[0]!;
    expect(after.every((l) => l.status === 200 && l.color === live.color && l.version === live.version)).toBe(
      true,
    );
    const badColor = live.color === "blue" ? "green" : "blue";
    const bad = (await env.status()).filter((p) => p.name.includes(`-${badColor}-`) && p.alive);
    expect(bad).toEqual([]);
    expect(readFileSync(result.reportFile, "utf8")).toContain(
      `Rolled back: live traffic stayed on ${live.color} ${live.version}.`,
    );
  });

  it("when a release fails only a small route, under k6's limit, then the server-side analysis fails the gate and it is rolled back", async () => {
    const before = await sampleLive(env);
    const result = await runRehearsal(env, {
      reportDir: join(dir, "server-side"),
      serverSideRegression: true,
    });
    const after = await sampleLive(env);

    expect(result.ok).toBe(true);
    expect(result.promotion).toMatchObject({ ok: false, rolledBack: true });
    const gate = result.promotion.gates[0]!;
    // k6's view passed: 5% of a tenth of the mix is 0.5% of the run, under its 1%.
    expect(gate).toMatchObject({ kind: "capacity", exitCode: 0, ok: false });
    expect(gate.errorRate).toBeLessThan(env.blueprint.capacity.maxErrorRate);
    expect(result.promotion.reason).toMatch(
      /^capacity gate via preview failed \(k6 passed; the server-side analysis did not\)/,
    );
    // The services' own metrics name the hop in front of the bad route: the gateway's orders route, over 1%. (orders
    // itself labels the injected answers "unmatched": the fault fires before its router matches a route.)
    expect(gate.serverSide!.failures.join("\n")).toMatch(
      /^gateway \/api\/orders\{\/\*rest\}: [\d.]+% 5xx of \d+ requests \(limit 1\.00%\)$/m,
    );
    expect(after).toEqual(before);
    expect(readFileSync(result.reportFile, "utf8")).toContain("## Server-side analysis");
  });

  it("when region A's edge stops under load through the DNS name, then DNS answers region B within three health-check intervals", async () => {
    const drill = await runFailoverDrill(env, { reportDir: join(dir, "failover") });
    const interval = env.blueprint.dns.healthCheck.intervalSeconds;

    expect(drill.error).toBeUndefined();
    expect(drill.failoverMs).toBeLessThanOrEqual(3 * interval * 1000);
    expect(drill.failbackMs).toBeDefined();
    expect(drill.load, drill.k6Skipped).toBeDefined();
    expect(drill.dnsQueries).toBeGreaterThan(0);
    const [a, b] = env.endpoints.map((e) => drill.responsesByRegion[e.region] ?? 0);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
  });
});
