import { describe, expect, it } from "vitest";
import { judgeAlerts, type AlertExpectation, type AlertSighting } from "./alerts.js";
import { expectedAlerts } from "./drills.js";
import { loadBlueprint } from "../../infra/config/stack-file.js";

const expected: AlertExpectation = {
  alertname: "ReadinessCheckFailing",
  labels: { service: "orders", check: "mongo" },
  fireWithinSeconds: 12,
  resolveWithinSeconds: 17,
};
const sighting = (over: Partial<AlertSighting> = {}): AlertSighting => ({
  labels: { alertname: "ReadinessCheckFailing", service: "orders", check: "mongo", severity: "critical" },
  firstFiringAt: 18,
  resolvedAt: 40,
  inAlertmanagerAt: 19,
  refired: 0,
  ...over,
  firingStarts: over.firingStarts ?? [over.firstFiringAt ?? 18],
});
// Fault at 10 s, restore at 30 s on the drill's clock.
const judge = (seen: AlertSighting[]) => judgeAlerts([expected], seen, 10, 30)[0]!;

describe("the drills' alert verdicts", () => {
  it("when the alert fired, reached Alertmanager and resolved within the bounds, then no problem, with its delays", () => {
    expect(judge([sighting()])).toMatchObject({
      firedAfterFaultSeconds: 8,
      resolvedAfterRestoreSeconds: 10,
      inAlertmanagerAfterFaultSeconds: 9,
      problems: [],
    });
  });

  it.each([
    ["never fired", [], /never fired/],
    ["fired only before the fault", [sighting({ firstFiringAt: 5 })], /never fired/],
    [
      "fired for another check",
      [sighting({ labels: { alertname: "ReadinessCheckFailing", service: "orders", check: "redis" } })],
      /never fired/,
    ],
    ["fired late", [sighting({ firstFiringAt: 25 })], /fired 15 s after the fault \(bound 12 s\)/],
    [
      "fired before the fault, then late again after it",
      [sighting({ firstFiringAt: 5, firingStarts: [5, 24] })],
      /fired 14 s after the fault/,
    ],
    ["never resolved", [sighting({ resolvedAt: null })], /still firing/],
    ["resolved late", [sighting({ resolvedAt: 50 })], /resolved 20 s after the restore \(bound 17 s\)/],
    ["did not reach Alertmanager", [sighting({ inAlertmanagerAt: null })], /never reached Alertmanager/],
  ])("when the alert %s, then the verdict says so", (_what, seen, problem) => {
    expect(judge(seen).problems.join("; ")).toMatch(problem);
  });

  it("when the model's timing is the local one, then the bounds follow from it, and drills without a fault to see expect nothing", () => {
    const local = loadBlueprint("local");
    expect(local.metrics).toEqual({ scrapeIntervalSeconds: 5, alertTimeScale: 20 });
    const kafka = expectedAlerts("kafka-down", local);
    expect(kafka.map((e) => e.labels.check)).toEqual([
      "kafka-consumer-orders-saga",
      "kafka-consumer-catalog-saga",
    ]);
    // 5 s scrape + 7 s `for` (1 m / 20, but one scrape and 2 s at least) + 3 s evaluation and polling + 8 s for
    // the consumer to notice.
    expect(kafka[0]).toMatchObject({ fireWithinSeconds: 23, resolveWithinSeconds: 28 });
    expect(expectedAlerts("database-down", local)).toHaveLength(2 * local.regions.length);
    expect(expectedAlerts("redis-down", local)).toEqual([]);
  });
});
