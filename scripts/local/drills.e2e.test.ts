import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import { alertProblems, runDrill, type DrillReport } from "./drills.js";
import { createLocalEnvironment, type LocalEnvironment } from "./environment.js";
import { regionLossProblems, runRegionLoss } from "./region-loss.js";

// The failure drills in their short form, on the whole local environment (own ports and state dir): the counts
// each drill reports are asserted, not only printed.
const stateDir = mkdtempSync(join(tmpdir(), "blueprint-drills-e2e-"));
const reportDir = join(REPO_ROOT, "reports", "drills-e2e");
let env: LocalEnvironment;
const short = { warmSeconds: 2, afterSeconds: 6, rate: 15, settleSeconds: 90, reportDir };
const fiveHundreds = (r: DrillReport) =>
  r.phases.before.other5xx + r.phases.during.other5xx + r.phases.after.other5xx;

beforeAll(async () => {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "inherit" });
  env = createLocalEnvironment({ stateDir, basePort: 29000 });
  await env.up();
}, 300_000);
afterAll(async () => {
  await env?.down();
  rmSync(stateDir, { recursive: true, force: true });
}, 120_000);

describe("failure drills under load (short form)", () => {
  // The outages last past the alerts' fire bound (expectedAlerts: a scrape, the time-lapsed `for`, an evaluation).
  it("kafka-down: orders are still accepted, no 5xx, every accepted order is final after Kafka returns, and the consumers' alerts fire and resolve", async () => {
    const r = await runDrill(env, "kafka-down", { ...short, outageSeconds: 28 });
    expect(alertProblems(r.alerts)).toEqual([]);
    expect(r.ordersAccepted).toBeGreaterThan(10);
    expect(r.ordersLost).toEqual([]);
    expect(fiveHundreds(r)).toBe(0);
    expect(r.phases.during.networkErrors).toBe(0);
    // orders stays ready without Kafka (non-critical), so it keeps taking orders during the outage.
    expect(r.phases.during.ok).toBeGreaterThan(0);
    expect(r.phases.during.unavailable503).toBe(0);
  });

  it("redis-down: reads go on, orders answer 503 with Retry-After (never 500), and recover on their own", async () => {
    const r = await runDrill(env, "redis-down", { ...short, outageSeconds: 5 });
    expect(r.ordersLost).toEqual([]);
    expect(fiveHundreds(r)).toBe(0);
    expect(r.phases.during.unavailable503).toBeGreaterThan(0);
    expect(r.phases.during.ok).toBeGreaterThan(0);
    expect(r.recovery.firstOrderSeconds).not.toBeNull();
    expect(r.recovery.firstOrderSeconds!).toBeLessThan(8);
    expect(Object.keys(r.readiness.codes)).toContain("503+retry-after");
  });

  it("database-down: no accepted order is lost, the system recovers on its own, and the mongo check's alerts fire and resolve", async () => {
    const r = await runDrill(env, "database-down", { ...short, outageSeconds: 22 });
    expect(alertProblems(r.alerts)).toEqual([]);
    expect(r.ordersLost).toEqual([]);
    expect(r.recovery.firstOrderSeconds).not.toBeNull();
    expect(r.recovery.firstOrderSeconds!).toBeLessThan(8);
    expect(r.phases.after.networkErrors).toBe(0);
  });

  it("sigterm-rolling: every service restarted one at a time under load loses no accepted order", async () => {
    const r = await runDrill(env, "sigterm-rolling", { ...short, outageSeconds: 0 });
    expect(r.ordersAccepted).toBeGreaterThan(10);
    expect(r.ordersLost).toEqual([]);
    expect(r.phases.after.other5xx + r.phases.after.networkErrors).toBe(0);
    expect(r.files?.markdown).toBeDefined();
  });

  it("partition: the regions cut apart — never two writable databases, no accepted order lost, writes resume after the heal", async () => {
    // Twice the usual after-phase: the requests that must succeed are those after the retransmission bound below.
    const r = await runDrill(env, "partition", { ...short, outageSeconds: 6, afterSeconds: 12 });
    expect(r.splitBrainSeconds).toBe(0);
    expect(r.ordersLost).toEqual([]);
    expect(Object.keys(r.regions!).sort()).toEqual(["region-a", "region-b"]);
    // Reads are served from each region's own cache and database connection throughout.
    expect(r.regions!["region-a"]!.ok).toBeGreaterThan(0);
    expect(r.recovery.firstOrderSeconds).not.toBeNull();
    // A connection with data in flight across the cut (the standby's replication stream, which every synchronous
    // commit waits for; a pooled database connection) resumes at its next TCP retransmission, and the backoff
    // doubles from 200 ms: up to about the outage's length after the heal. Requests started later must succeed.
    expect(r.phases.after.networkErrors).toBe(0);
    expect(r.recovery.cleanSeconds!).toBeLessThanOrEqual(r.outageSeconds + 1);
  });

  // Last: it leaves the database primary in the survivor (as a replica set keeps its new primary).
  it("region-loss: everything of the primary region SIGKILLed — no acknowledged order lost or doubled, DNS moves and comes back, stock adds up, ServiceDown fires and resolves", async () => {
    const r = await runRegionLoss(env, {
      warmSeconds: 4,
      electionSeconds: 3,
      outageSeconds: 20,
      afterSeconds: 6,
      rate: 15,
      retrySeconds: 40,
      settleSeconds: 150,
      reportDir,
    });
    expect(regionLossProblems(r)).toEqual([]);
    expect(alertProblems(r.alerts)).toEqual([]);
    expect(r.alerts.outcomes.map((o) => o.expected.labels.service)).toEqual(["gateway", "catalog", "orders"]);
    expect(r.rpo.acknowledgedBeforeKill).toBeGreaterThan(5);
    expect(r.rto.firstFailureSeconds).not.toBeNull();
    // The DNS check runs every second with one failure to flip, plus the 1 s TTL the client honours.
    expect(r.rto.dnsMovedSeconds!).toBeLessThan(6);
    expect(r.rto.firstOrderInSurvivorSeconds).not.toBeNull();
    expect(r.events.promotedAt).not.toBeNull();
    expect(r.reconciliation.confirmed).toBeGreaterThan(0);
    expect(await env.databaseRoles()).toEqual({ "region-a": "standby", "region-b": "primary" });
  }, 400_000);
});
