import { describe, expect, it } from "vitest";
import { GateFailedError, promote } from "./machine.js";
import { InMemoryTarget } from "./testing/in-memory-target.js";

const initial = { activeColor: "blue" as const, versions: { blue: "1.0.0" }, rollbackWindowSeconds: 5 };

function clock() {
  let t = 0;
  return { now: () => (t += 7), sleep: async (ms: number) => void (t += ms) };
}

describe("promotion state machine (in-memory target test double)", () => {
  it("when every step passes, then the steps run in the blue-green order and the old color is retired", async () => {
    const target = new InMemoryTarget(initial);
    const result = await promote(target, { version: "1.1.0", ...clock() });

    expect(result.ok).toBe(true);
    expect(target.calls).toEqual([
      "current",
      "deploy green 1.1.0",
      "waitReady green",
      "gate capacity preview green 1.1.0",
      "switch green",
      "gate smoke live green 1.1.0",
      "gate smoke live green 1.1.0 end of window",
      "retire blue",
    ]);
    expect(result.steps.map((s) => s.name)).toEqual([
      "read current rollout",
      "deploy 1.1.0 to green",
      "wait until green is ready",
      "capacity gate via preview",
      "switch live traffic to green",
      "smoke gate on live",
      "keep blue for the rollback window (5 s)",
      "smoke gate on live at the end of the rollback window",
      "retire blue",
    ]);
    expect(result.after).toEqual({
      activeColor: "green",
      versions: { green: "1.1.0" },
      rollbackWindowSeconds: 5,
      weights: undefined,
    });
    expect(target.live()).toEqual({ color: "green", version: "1.1.0" });
    expect(target.running).toEqual({ green: "1.1.0" });
  });

  it("when a promotion runs, then every step is timed, the rollback window included", async () => {
    const result = await promote(new InMemoryTarget(initial), { version: "1.1.0", ...clock() });

    for (const s of result.steps) expect(s.durationMs, s.name).toBeGreaterThan(0);
    expect(result.steps.find((s) => s.name.startsWith("keep blue"))!.durationMs).toBeGreaterThanOrEqual(5000);
  });

  it("when the capacity gate fails, then live color and versions are unchanged and the bad color is retired", async () => {
    const target = new InMemoryTarget(initial, { gate: { capacity: true } });
    const result = await promote(target, { version: "6.6.6", ...clock() });

    expect(result.ok).toBe(false);
    expect(result.rolledBack).toBe(true);
    expect(result.reason).toMatch(
      /^capacity gate via preview failed \(k6 exit 99\): http_req_failed: rate<=0.01/,
    );
    expect(target.calls).not.toContain("switch green");
    expect(target.calls.at(-1)).toBe("rollback green");
    expect(target.live()).toEqual({ color: "blue", version: "1.0.0" });
    expect(target.running).toEqual({ blue: "1.0.0" });
    expect(target.rollout).toEqual(initial);
    expect(result.steps.at(-1)).toMatchObject({ name: "roll back to blue 1.0.0", ok: true });
  });

  it("when the live smoke gate fails after the switch, then traffic returns to the previous color", async () => {
    const target = new InMemoryTarget(initial, { gate: { smoke: true } });
    const result = await promote(target, { version: "1.1.0", ...clock() });

    expect(result.ok).toBe(false);
    expect(target.calls).toContain("switch green");
    expect(target.live()).toEqual({ color: "blue", version: "1.0.0" });
    expect(target.running).toEqual({ blue: "1.0.0" });
    expect(result.gates.map((g) => [g.kind, g.ok])).toEqual([
      ["capacity", true],
      ["smoke", false],
    ]);
  });

  it("when live traffic regresses during the rollback window, then the end-of-window gate rolls back to the old color, still deployed", async () => {
    const target = new InMemoryTarget(initial, { windowGate: true });
    const result = await promote(target, { version: "1.1.0", ...clock() });

    expect(result).toMatchObject({ ok: false, rolledBack: true, after: initial });
    expect(result.reason).toMatch(/^smoke gate via live failed \(k6 exit 99\)/);
    expect(target.calls.slice(-3)).toEqual([
      "gate smoke live green 1.1.0",
      "gate smoke live green 1.1.0 end of window",
      "rollback green",
    ]);
    expect(target.calls).not.toContain("retire blue");
    expect(target.live()).toEqual({ color: "blue", version: "1.0.0" });
    expect(target.running).toEqual({ blue: "1.0.0" });
    expect(result.steps.map((s) => [s.name, s.ok]).slice(-3)).toEqual([
      ["keep blue for the rollback window (5 s)", true],
      ["smoke gate on live at the end of the rollback window", false],
      ["roll back to blue 1.0.0", true],
    ]);
  });

  it("when the switch fails, then the promotion rolls back and names the failed step's reason", async () => {
    const target = new InMemoryTarget(initial, { switch: true });
    const result = await promote(target, { version: "1.1.0", ...clock() });

    expect(result).toMatchObject({ ok: false, rolledBack: true, reason: "edge reload failed (injected)" });
    expect(target.live()).toEqual({ color: "blue", version: "1.0.0" });
    expect(result.steps.find((s) => !s.ok)).toMatchObject({ name: "switch live traffic to green" });
  });

  it("when the new color never becomes ready, then no gate runs and the color is removed", async () => {
    const target = new InMemoryTarget(initial, { waitReady: true });
    const result = await promote(target, { version: "1.1.0", ...clock() });

    expect(result.ok).toBe(false);
    expect(result.gates).toEqual([]);
    expect(target.running).toEqual({ blue: "1.0.0" });
  });

  it("when retiring the old color fails, then the new release stays live and the result is a failure", async () => {
    const target = new InMemoryTarget(initial, { retire: true });
    const result = await promote(target, { version: "1.1.0", ...clock() });

    expect(result).toMatchObject({ ok: false, rolledBack: false });
    expect(result.reason).toBe("retiring blue failed: scale-down failed (injected)");
    expect(target.live()).toEqual({ color: "green", version: "1.1.0" });
  });

  it("when the version is already live, then nothing is deployed", async () => {
    const target = new InMemoryTarget(initial);
    const result = await promote(target, { version: "1.0.0", ...clock() });

    expect(result.ok).toBe(true);
    expect(target.calls).toEqual(["current"]);
  });

  it("when green is active, then the next version goes to blue", async () => {
    const target = new InMemoryTarget({
      activeColor: "green",
      versions: { green: "2.0.0" },
      rollbackWindowSeconds: 0,
    });
    await promote(target, { version: "2.1.0", ...clock() });

    expect(target.live()).toEqual({ color: "blue", version: "2.1.0" });
  });

  it("when a gate fails, then the error carries the gate figures", () => {
    const err = new GateFailedError({
      kind: "smoke",
      via: "live",
      ok: false,
      exitCode: 99,
      requests: 10,
      requestsPerSecond: 2,
      p95Ms: 12.4,
      p99Ms: 30,
      errorRate: 0.25,
      checksRate: 0.75,
      failedThresholds: ["checks: rate>=0.99"],
      files: {},
    });
    expect(err.message).toBe(
      "smoke gate via live failed (k6 exit 99): checks: rate>=0.99 — 2.0 req/s, p95 12 ms, errors 25.00%",
    );
  });

  it("when canary steps are given, then live traffic moves 10% → 50% → 100% with a live smoke gate at each step", async () => {
    const target = new InMemoryTarget(initial);
    const result = await promote(target, { version: "1.1.0", canaryPercents: [10, 50], ...clock() });

    expect(result.ok).toBe(true);
    expect(target.calls.slice(3, 9)).toEqual([
      "gate capacity preview green 1.1.0",
      "switch blue 90/10",
      "gate smoke live green 1.1.0 canary 10%",
      "switch blue 50/50",
      "gate smoke live green 1.1.0 canary 50%",
      "switch green",
    ]);
    expect(result.after.weights).toBeUndefined();
  });

  it("when the smoke gate fails at a canary step, then all live traffic returns to the old color", async () => {
    const target = new InMemoryTarget(initial, { gate: { smoke: true } });
    const result = await promote(target, { version: "1.1.0", canaryPercents: [10], ...clock() });

    expect(result).toMatchObject({ ok: false, rolledBack: true });
    expect(target.calls).not.toContain("switch green");
    expect(target.rollout).toEqual(initial);
    expect(target.live()).toEqual({ color: "blue", version: "1.0.0" });
  });

  it("when canary percents are out of order or range, then nothing runs and the error says what is allowed", async () => {
    const target = new InMemoryTarget(initial);
    await expect(promote(target, { version: "1.1.0", canaryPercents: [50, 10] })).rejects.toThrow(
      "canary percents must be integers from 1 to 99 in rising order (got 50,10)",
    );
    await expect(promote(target, { version: "1.1.0", canaryPercents: [100] })).rejects.toThrow(/1 to 99/);
    expect(target.calls).toEqual([]);
  });
});
