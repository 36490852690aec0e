import { parser } from "@prometheus-io/lezer-promql";
import { describe, expect, it } from "vitest";
import { testBlueprint } from "../model/test-blueprints.js";
import {
  DASHBOARD_LABEL,
  buildDashboardConfigMaps,
  buildDashboards,
  dashboardQueries,
  runnable,
} from "./dashboards.js";
import { ruleGroups } from "./monitoring.js";

// The dashboards are typed with Grafana's schema (tsc checks them); here: what a type cannot say. The local e2e
// runs every query on the local Prometheus (scripts/local/local.e2e.test.ts).
const bp = testBlueprint({ regions: 2 }, { data: { mongo: { backup: { enabled: false } } } });

/** Metric names a PromQL expression reads (its vector selectors' names). */
function metricsOf(expr: string): string[] {
  const names: string[] = [];
  const cursor = parser.parse(expr).cursor();
  do {
    if (cursor.type.isError) throw new Error(`not PromQL at ${cursor.from}: ${expr}`);
    if (cursor.name === "VectorSelector") {
      const id = cursor.node.getChild("Identifier");
      if (id) names.push(expr.slice(id.from, id.to));
    }
  } while (cursor.next());
  return names;
}

describe("the dashboards", () => {
  const dashboards = buildDashboards(bp);

  it("when built, then one per service and the rollout's, each uid unique and within Grafana's 40 characters", () => {
    expect(dashboards.map((d) => d.title)).toEqual([
      "gateway (blueprint-prod)",
      "catalog (blueprint-prod)",
      "orders (blueprint-prod)",
      "Rollout (blueprint-prod)",
    ]);
    const uids = dashboards.map((d) => d.uid!);
    expect(new Set(uids).size).toBe(uids.length);
    for (const uid of uids) expect(uid.length).toBeLessThanOrEqual(40);
  });

  it("when laid out, then panel ids are unique and no two panels overlap", () => {
    for (const d of dashboards) {
      const panels = d.panels ?? [];
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
      const cells = new Set<string>();
      for (const p of panels) {
        const g = p.gridPos!;
        expect(g.x + g.w).toBeLessThanOrEqual(24);
        for (let x = g.x; x < g.x + g.w; x++)
          for (let y = g.y; y < g.y + g.h; y++) {
            expect(cells.has(`${x},${y}`), `${d.title}: ${p.title} overlaps at ${x},${y}`).toBe(false);
            cells.add(`${x},${y}`);
          }
      }
    }
  });

  it("when a query reads a recorded series, then the stack's rules record it; every query is PromQL", () => {
    const recorded = new Set(
      ruleGroups(bp).flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))),
    );
    for (const d of dashboards)
      for (const q of dashboardQueries(d))
        for (const name of metricsOf(runnable(q.expr)))
          if (name.includes(":")) expect(recorded, `${d.title} / ${q.panel}: ${name}`).toContain(name);
    expect(() => metricsOf("sum(rate(x[5m])")).toThrow(/not PromQL/);
  });

  it("when the service depends on Kafka, then it has the outbox and consumer panels; the gateway does not", () => {
    const titles = (name: string) =>
      (dashboards.find((d) => d.title?.startsWith(name))!.panels ?? []).map((p) => p.title);
    expect(titles("orders")).toEqual(expect.arrayContaining(["Outbox", "Consumers", "Saga outcomes"]));
    expect(titles("gateway")).not.toContain("Outbox");
    expect(titles("gateway")).toContain("Circuit breakers");
  });

  it("when the platform runs the Prometheus Operator, then a ConfigMap per dashboard labelled for Grafana's sidecar holds its JSON", () => {
    const maps = buildDashboardConfigMaps(bp);
    expect(maps.map((m) => m.metadata.name)).toEqual([
      "dashboard-gateway",
      "dashboard-catalog",
      "dashboard-orders",
      "dashboard-rollout",
    ]);
    const [map] = maps;
    expect(map!.metadata.labels?.[DASHBOARD_LABEL]).toBe("1");
    const [json] = Object.values((map as unknown as { data: Record<string, string> }).data);
    expect(JSON.parse(json!)).toEqual(buildDashboards(bp, { namespace: bp.namespace })[0]);
  });

  it("when scoped to the stack's namespace (clusters), then every selector of every query reads that namespace only", () => {
    for (const d of buildDashboards(bp, { namespace: bp.namespace }))
      for (const q of dashboardQueries(d)) {
        const expr = runnable(q.expr);
        const cursor = parser.parse(expr).cursor();
        do
          if (cursor.name === "VectorSelector")
            expect(expr.slice(cursor.from, cursor.to), `${d.title} / ${q.panel}`).toContain(
              `namespace="${bp.namespace}"`,
            );
        while (cursor.next());
      }
  });

  it("when the namespace is long, then the uids stay within 40 characters and apart, and the ConfigMap names are valid", () => {
    const long = { ...bp, namespace: "a-very-long-namespace-name-for-a-preview-stack-42" };
    const uids = buildDashboards(long).map((d) => d.uid!);
    for (const uid of uids) expect(uid.length).toBeLessThanOrEqual(40);
    expect(new Set(uids).size).toBe(uids.length);
    for (const m of buildDashboardConfigMaps(long))
      expect(m.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  it("when a panel is a state timeline, then its values have words and colors, not a gradient", () => {
    for (const d of dashboards)
      for (const p of (d.panels ?? []).filter((x) => x.type === "state-timeline"))
        expect(
          (p as { fieldConfig?: { defaults?: { mappings?: unknown[] } } }).fieldConfig?.defaults?.mappings,
          `${d.title} / ${p.title}`,
        ).toHaveLength(1);
  });
});
