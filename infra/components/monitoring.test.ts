import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { testBlueprint } from "../model/test-blueprints.js";
import { buildMonitoring, type RuleGroup, ruleGroups, timeLapsed, withMatcher } from "./monitoring.js";

// The generated rules, checked and unit-tested by promtool (Debian's prometheus package; npm run setup installs it)
// on the series the services really write: prod's SLO (availability 0.999, p99 400 ms).
const noBackup = { data: { mongo: { backup: { enabled: false } } } };
const prod = testBlueprint({ regions: 2 }, noBackup);
const dir = mkdtempSync(join(tmpdir(), "blueprint-rules-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts: { exp_labels: Record<string, string>; exp_annotations?: Record<string, string> }[];
}

/** Runs `promtool test rules` on these rule groups (prod's by default) with these series; returns promtool's output, throws if red. */
function promtoolTest(
  series: { series: string; values: string }[],
  alerts: AlertTest[],
  groups: RuleGroup[] = ruleGroups(prod),
  interval = "1m",
): string {
  writeFileSync(join(dir, "rules.yml"), stringify({ groups }));
  writeFileSync(
    join(dir, "test.yml"),
    stringify({
      rule_files: ["rules.yml"],
      evaluation_interval: interval,
      tests: [{ interval, input_series: series, alert_rule_test: alerts }],
    }),
  );
  return execFileSync("promtool", ["test", "rules", "test.yml"], {
    cwd: dir,
    encoding: "utf8",
    stdio: "pipe",
  });
}

const labels = (route: string, status: string, namespace?: string) =>
  `{${namespace ? `namespace="${namespace}",` : ""}service="orders",region="eu-west",color="blue",method="POST",route="${route}",status="${status}"}`;
/** A counter rising by `perMinute` each minute for two hours. */
const rising = (perMinute: number) => `0+${perMinute}x120`;
/** The alert promtool must see firing for this route of orders. */
const firing = (
  route: string,
  severity: string,
  slo: string,
  summary: string,
  description: string,
  scope: { namespace?: string } = {},
) => ({
  exp_labels: { ...scope, service: "orders", region: "eu-west", route, severity, slo },
  exp_annotations: { summary, description },
});
const budget = "the objective allows 0.100% over 30 days (prod: slo.availability 0.999).";
/** The page promtool must see after 10 minutes of 2 % 5xx on orders' /orders. */
const fastBurnOfOrders = (scope: { namespace?: string } = {}): AlertTest => ({
  eval_time: "10m",
  alertname: "SloErrorBudgetBurnFast",
  exp_alerts: [
    firing(
      "/orders",
      "critical",
      "availability",
      "orders /orders burns its error budget 14.4x too fast in eu-west",
      `2% of /orders's requests answered 5xx over 1h, and still over 14.4x the budget over 5m; ${budget}`,
      scope,
    ),
  ],
});

describe("the stack's alert rules (promtool)", () => {
  it("when checked, then promtool accepts every group, and each service has its SLO group", () => {
    writeFileSync(join(dir, "check.yml"), stringify({ groups: ruleGroups(prod) }));
    execFileSync("promtool", ["check", "rules", join(dir, "check.yml")], { stdio: "pipe" });
    expect(ruleGroups(prod).map((g) => g.name)).toEqual(
      expect.arrayContaining([
        "slo-gateway",
        "slo-catalog",
        "slo-orders",
        "saga-and-outbox",
        "availability",
        "kafka-consumers",
      ]),
    );
  });

  it("when a route answers 2 % 5xx, then the fast burn pages for that route only; probes and a healthy route do not", () => {
    const out = promtoolTest(
      [
        { series: `http_requests_total${labels("/orders", "201")}`, values: rising(980) },
        { series: `http_requests_total${labels("/orders", "500")}`, values: rising(20) },
        { series: `http_requests_total${labels("/orders/:id", "200")}`, values: rising(1000) },
        { series: `http_requests_total${labels("/readyz", "503")}`, values: rising(100) },
      ],
      [fastBurnOfOrders()],
    );
    expect(out).toContain("SUCCESS");
  });

  it("when a route answers 0.5 % 5xx, then no page (under 14.4x and 6x the 0.1 % budget), but the 3x ticket", () => {
    const series = [
      { series: `http_requests_total${labels("/orders", "201")}`, values: rising(995) },
      { series: `http_requests_total${labels("/orders", "500")}`, values: rising(5) },
    ];
    expect(
      promtoolTest(series, [
        { eval_time: "30m", alertname: "SloErrorBudgetBurnFast", exp_alerts: [] },
        { eval_time: "60m", alertname: "SloErrorBudgetBurnHigh", exp_alerts: [] },
        {
          eval_time: "60m",
          alertname: "SloErrorBudgetBurnSteady",
          exp_alerts: [
            firing(
              "/orders",
              "warning",
              "availability",
              "orders /orders burns its error budget 3x too fast in eu-west",
              `0.5% of /orders's requests answered 5xx over 1d, and still over 3x the budget over 2h; ${budget}`,
            ),
          ],
        },
      ]),
    ).toContain("SUCCESS");
  });

  it("when a route's requests take 300-500 ms, then the p99 alert fires (objective 400 ms); under 250 ms it does not", () => {
    const bucket = (route: string, le: string, perMinute: number) => ({
      series: `http_request_duration_seconds_bucket{service="orders",region="eu-west",color="blue",method="GET",route="${route}",status="200",le="${le}"}`,
      values: rising(perMinute),
    });
    const slow = ["0.25", "0.5", "1", "+Inf"].map((le) => bucket("/slow", le, le === "0.25" ? 0 : 100));
    const fast = ["0.25", "0.5", "1", "+Inf"].map((le) => bucket("/fast", le, 100));
    const out = promtoolTest(
      [...slow, ...fast],
      [
        {
          eval_time: "40m",
          alertname: "SloLatencyP99High",
          exp_alerts: [
            firing(
              "/slow",
              "warning",
              "latency",
              "orders /slow p99 is over 400 ms in eu-west",
              "The server-side p99 of /slow is 497.5ms over 5m, and over the objective over 30m too (prod: slo.latencyP99Ms 400).",
            ),
          ],
        },
      ],
    );
    expect(out).toContain("SUCCESS");
  });
});

describe("the outbox backlog alert (promtool)", () => {
  const backlog = (color: string, values: string) => ({
    series: `outbox_pending_documents{service="orders",region="eu-west",color="${color}"}`,
    values,
  });

  it("when over 100 documents wait for 10 minutes, then it fires once per service and region; a burst that drains does not", () => {
    const summary = "orders has 250 documents waiting to publish in eu-west";
    const description =
      "More than 100 documents have held unpublished outbox events for 10 minutes: the relays publish slower than the service writes, or not at all (see OutboxPublishFailing). Nothing is lost; the saga lags by that much.";
    const stuck = promtoolTest(
      [backlog("blue", "250x20"), backlog("green", "250x20")],
      [
        { eval_time: "9m", alertname: "OutboxBacklogHigh", exp_alerts: [] },
        {
          eval_time: "12m",
          alertname: "OutboxBacklogHigh",
          exp_alerts: [
            {
              exp_labels: { service: "orders", region: "eu-west", severity: "warning" },
              exp_annotations: { summary, description },
            },
          ],
        },
      ],
    );
    expect(stuck).toContain("SUCCESS");
    const burst = promtoolTest(
      [backlog("blue", "0 500 500 500 0x16")],
      [{ eval_time: "15m", alertname: "OutboxBacklogHigh", exp_alerts: [] }],
    );
    expect(burst).toContain("SUCCESS");
  });
});

const mongoFailing = {
  summary: "orders fails its mongo check in eu-west",
  description:
    "No instance of orders passes mongo: every instance answers 503 on /readyz and is out of rotation, and its clients get 503 with Retry-After. Fix the dependency; the service recovers on its own.",
};

describe("the availability alerts (promtool)", () => {
  const check = (color: string, values: string, check = "mongo", critical = "true") => ({
    series: `readiness_check_up{service="orders",region="eu-west",color="${color}",check="${check}",critical="${critical}"}`,
    values,
  });
  const up = (service: string, color: string, values: string) => ({
    series: `up{job="services",service="${service}",region="eu-west",color="${color}"}`,
    values,
  });
  const alert = (labels: Record<string, string>, exp_annotations: Record<string, string>) => ({
    exp_labels: { region: "eu-west", ...labels },
    exp_annotations,
  });

  it("when no instance passes a check for a minute, then ReadinessCheckFailing fires (critical for a critical check); one color passing keeps it quiet", () => {
    const out = promtoolTest(
      [
        check("blue", "1 0x10"),
        check("green", "1 0x10"),
        check("blue", "1 0x10", "kafka-consumer-orders", "false"),
        check("green", "1x10", "kafka-consumer-orders", "false"),
      ],
      [
        { eval_time: "1m", alertname: "ReadinessCheckFailing", exp_alerts: [] },
        {
          eval_time: "3m",
          alertname: "ReadinessCheckFailing",
          exp_alerts: [alert({ service: "orders", check: "mongo", severity: "critical" }, mongoFailing)],
        },
      ],
    );
    expect(out).toContain("SUCCESS");
  });

  it("when every instance of a service fails its scrape for a minute, then ServiceDown fires for it; a color left down does not", () => {
    const out = promtoolTest(
      [
        up("orders", "blue", "1 0x10"),
        up("orders", "green", "0x11"),
        up("catalog", "blue", "1x10"),
        up("catalog", "green", "0x11"),
      ],
      [
        { eval_time: "1m", alertname: "ServiceDown", exp_alerts: [] },
        {
          eval_time: "3m",
          alertname: "ServiceDown",
          exp_alerts: [
            alert(
              { service: "orders", severity: "critical" },
              {
                summary: "No instance of orders answers in eu-west",
                description:
                  "Every scrape of orders in eu-west fails: its pods crash, hang or are cut off. (Pods that are gone, or never got an address, leave no target to fail: the edge's health check and the DNS failover see those.) The DNS failover moves clients to the other regions while the edge's health check fails.",
              },
            ),
          ],
        },
      ],
    );
    expect(out).toContain("SUCCESS");
  });
});

describe("time-lapsed rules (the local environment)", () => {
  const local = { scrapeIntervalSeconds: 5, alertTimeScale: 20 };

  it("when time-lapsed 20x, then windows and for shrink 20x, a window never below four scrapes, a for never below one scrape and 2 s, and names stay", () => {
    const [group] = timeLapsed(
      [
        {
          name: "g",
          rules: [
            { record: "r:rate5m", expr: "sum(rate(a[5m])) / sum(rate(b[1h]))" },
            { alert: "A", expr: "sum(increase(c[3d])) > 0", for: "10m" },
            { alert: "B", expr: "a > 0", for: "1m" },
          ],
        },
      ],
      local,
    );
    expect(group!.rules.map(({ record, alert, expr, for: f }) => ({ record, alert, expr, for: f }))).toEqual([
      {
        record: "r:rate5m",
        alert: undefined,
        expr: "sum(rate(a[20s])) / sum(rate(b[180s]))",
        for: undefined,
      },
      { record: undefined, alert: "A", expr: "sum(increase(c[12960s])) > 0", for: "30s" },
      { record: undefined, alert: "B", expr: "a > 0", for: "7s" },
    ]);
    expect(() => timeLapsed([{ name: "g", rules: [{ record: "x", expr: "a[1h:1m]" }] }], local)).toThrow(
      /subquery/,
    );
    expect(timeLapsed(ruleGroups(prod), { scrapeIntervalSeconds: 15, alertTimeScale: 1 })).toEqual(
      ruleGroups(prod),
    );
  });

  it("when the local rules see a database check fail, then the alert fires within seconds (for 1m reads one scrape and 2 s, 7 s), and promtool accepts every local rule", () => {
    const groups = timeLapsed(ruleGroups(prod), local);
    writeFileSync(join(dir, "local.yml"), stringify({ groups }));
    execFileSync("promtool", ["check", "rules", join(dir, "local.yml")], { stdio: "pipe" });
    const series = ["blue", "green"].map((color) => ({
      series: `readiness_check_up{service="orders",region="eu-west",color="${color}",check="mongo",critical="true"}`,
      values: "1 0x20",
    }));
    const out = promtoolTest(
      series,
      [
        { eval_time: "7s", alertname: "ReadinessCheckFailing", exp_alerts: [] },
        {
          eval_time: "9s",
          alertname: "ReadinessCheckFailing",
          exp_alerts: [
            {
              exp_labels: { service: "orders", region: "eu-west", check: "mongo", severity: "critical" },
              exp_annotations: {
                ...mongoFailing,
                timing: "time-lapsed 20x: windows and for are 20 times shorter than they read",
              },
            },
          ],
        },
      ],
      groups,
      "1s",
    );
    expect(out).toContain("SUCCESS");
  });
});

describe("rules scoped to a namespace (clusters)", () => {
  it("when scoped, then every selector gets the matcher, with or without its own, and bad PromQL is refused", () => {
    const ns = 'namespace="dev"';
    expect(withMatcher('sum(rate(a[5m])) / sum(rate(b{x="1"}[5m])) > 0.1 * c{}', ns)).toBe(
      'sum(rate(a{namespace="dev"}[5m])) / sum(rate(b{namespace="dev",x="1"}[5m])) > 0.1 * c{namespace="dev"}',
    );
    expect(() => withMatcher("sum(rate(a[5m])", ns)).toThrow(/not PromQL/);
    for (const rule of ruleGroups(prod, { namespace: "dev" }).flatMap((g) => g.rules)) {
      expect(rule.labels?.namespace).toBe("dev");
      expect(rule.expr).not.toMatch(/[a-z_:]+(\[|\{(?!namespace="dev"))/);
    }
  });

  it("when a preview shares dev's cluster, then dev's errors page dev only, labelled with its namespace", () => {
    // Both stacks' rules in one Prometheus: without the matcher, the preview's rules would read dev's series and
    // page as well, and both would record the same series.
    const groups = ["dev", "pr-7"].flatMap((namespace) =>
      ruleGroups(prod, { namespace }).map((g) => ({ ...g, name: `${namespace}-${g.name}` })),
    );
    const out = promtoolTest(
      [
        { series: `http_requests_total${labels("/orders", "201", "dev")}`, values: rising(980) },
        { series: `http_requests_total${labels("/orders", "500", "dev")}`, values: rising(20) },
        { series: `http_requests_total${labels("/orders", "201", "pr-7")}`, values: rising(1000) },
      ],
      [fastBurnOfOrders({ namespace: "dev" })],
      groups,
    );
    expect(out).toContain("SUCCESS");
  });
});

describe("the monitoring objects", () => {
  it("when the platform runs the Prometheus Operator, then a ServiceMonitor per service and one PrometheusRule", () => {
    const objects = buildMonitoring(prod, prod.regions[1]!);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ServiceMonitor/gateway",
      "ServiceMonitor/catalog",
      "ServiceMonitor/orders",
      "PrometheusRule/blueprint-slo",
    ]);
    // The services' own service/region/color labels win, and `up` gets the same ones (ServiceDown reads them).
    const [endpoint] = (objects[2]!.spec as { endpoints: Record<string, unknown>[] }).endpoints;
    expect(endpoint).toMatchObject({
      honorLabels: true,
      relabelings: expect.arrayContaining([
        { targetLabel: "region", replacement: prod.regions[1]!.name },
        {
          sourceLabels: ["__meta_kubernetes_service_label_app_kubernetes_io_name"],
          targetLabel: "service",
        },
      ]),
    });
  });

  it("when monitoring is none, then no monitoring object", () => {
    expect(
      buildMonitoring(
        testBlueprint({ regions: 1 }, { ...noBackup, platform: { monitoring: "none" } }),
        prod.regions[0]!,
      ),
    ).toEqual([]);
  });
});
