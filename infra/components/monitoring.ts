import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parser } from "@prometheus-io/lezer-promql";
import { parse } from "yaml";
import type { Blueprint, Region, Service } from "../model/index.js";
import { commonLabels, type K8sObject } from "./meta.js";

// The services' metrics (services/lib/src/metrics.ts and the outbox relay, saga and reconciler): each instance labels
// its series with service, region and color.
export const REQUESTS = "http_requests_total";
export const DURATION = "http_request_duration_seconds";
/** The kit's own endpoints: probes and scrapes are not what a client is promised. */
export const NOT_SERVED = 'route!~"/livez|/readyz|/metrics"';
const CONSUMER_RULES = join(
  import.meta.dirname,
  "..",
  "..",
  "services",
  "lib",
  "alerts",
  "consumer.rules.yml",
);

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  /** How often Prometheus evaluates the group; unset: its global evaluation_interval. */
  interval?: string;
  rules: Rule[];
}

/**
 * Multi-window, multi-burn-rate pairs for a 30-day SLO (the Google SRE workbook's table): an alert fires when the
 * error budget burns `factor` times too fast over both the long window and the short one (which makes it resolve
 * soon after the burn stops). 14.4 over 1 h spends 2 % of the budget; 6 over 6 h, 5 %; these page. 3 over 1 d and
 * 1 over 3 d are tickets.
 */
export const BURN_RATES = [
  { alert: "SloErrorBudgetBurnFast", long: "1h", short: "5m", factor: 14.4, severity: "critical" },
  { alert: "SloErrorBudgetBurnHigh", long: "6h", short: "30m", factor: 6, severity: "critical" },
  { alert: "SloErrorBudgetBurnSteady", long: "1d", short: "2h", factor: 3, severity: "warning" },
  { alert: "SloErrorBudgetBurnSlow", long: "3d", short: "6h", factor: 1, severity: "warning" },
] as const;
const LATENCY_WINDOWS = ["5m", "30m"] as const;
/** Documents waiting for the relay before OutboxBacklogHigh fires (the relay publishes 50 per round). */
const OUTBOX_BACKLOG_LIMIT = 100;

/** The recorded series of the SLO rules (per service, region and route), which the dashboards read too. */
export const errorRatioSeries = (window: string) => `slo:http_errors:ratio_rate${window}`;
export const p99Series = (window: string) => `slo:http_request_duration_seconds:p99_rate${window}`;
const errorRatio = errorRatioSeries;
const p99 = p99Series;

/**
 * A service's SLO rules: the error ratio and p99 per route over every window the alerts read (recording rules), the
 * burn-rate alerts on the environment's availability objective, and the p99 alert on its latency objective.
 */
export function sloRuleGroup(bp: Blueprint, service: Service): RuleGroup {
  const sel = `service="${service.name}",${NOT_SERVED}`;
  const by = "service, region, route";
  const windows = [...new Set([...BURN_RATES.flatMap((b) => [b.long, b.short]), ...LATENCY_WINDOWS])];
  const { availability, latencyP99Ms } = bp.slo;
  const budget = Number((1 - availability).toPrecision(6));
  const recordings: Rule[] = windows.flatMap((w) => [
    {
      record: errorRatio(w),
      expr: `sum by (${by}) (rate(${REQUESTS}{${sel},status=~"5.."}[${w}])) / sum by (${by}) (rate(${REQUESTS}{${sel}}[${w}]))`,
    },
    ...(LATENCY_WINDOWS.includes(w as never)
      ? [
          {
            record: p99(w),
            expr: `histogram_quantile(0.99, sum by (${by}, le) (rate(${DURATION}_bucket{${sel}}[${w}])))`,
          },
        ]
      : []),
  ]);
  const only = `{service="${service.name}"}`;
  const alerts: Rule[] = BURN_RATES.map((b) => ({
    alert: b.alert,
    expr: `${errorRatio(b.long)}${only} > ${b.factor} * ${budget} and ${errorRatio(b.short)}${only} > ${b.factor} * ${budget}`,
    labels: { severity: b.severity, slo: "availability" },
    annotations: {
      summary: `{{ $labels.service }} {{ $labels.route }} burns its error budget ${b.factor}x too fast in {{ $labels.region }}`,
      description: `{{ $value | humanizePercentage }} of {{ $labels.route }}'s requests answered 5xx over ${b.long}, and still over ${b.factor}x the budget over ${b.short}; the objective allows ${(budget * 100).toPrecision(3)}% over 30 days (${bp.environment}: slo.availability ${availability}).`,
    },
  }));
  const seconds = latencyP99Ms / 1000;
  alerts.push({
    alert: "SloLatencyP99High",
    expr: LATENCY_WINDOWS.map((w) => `${p99(w)}${only} > ${seconds}`).join(" and "),
    labels: { severity: "warning", slo: "latency" },
    annotations: {
      summary: `{{ $labels.service }} {{ $labels.route }} p99 is over ${latencyP99Ms} ms in {{ $labels.region }}`,
      description: `The server-side p99 of {{ $labels.route }} is {{ $value | humanizeDuration }} over ${LATENCY_WINDOWS[0]}, and over the objective over ${LATENCY_WINDOWS[1]} too (${bp.environment}: slo.latencyP99Ms ${latencyP99Ms}).`,
    },
  });
  return { name: `slo-${service.name}`, rules: [...recordings, ...alerts] };
}

/** The saga and the outbox: orders the reconciler had to cancel, retries that do not end, a relay that cannot publish. */
export function sagaRuleGroup(): RuleGroup {
  return {
    name: "saga-and-outbox",
    rules: [
      {
        alert: "SagaOrdersTimedOut",
        expr: 'sum by (service, region) (increase(orders_reconciled_total{action="cancelled"}[30m])) > 0',
        labels: { severity: "warning" },
        annotations: {
          summary:
            "{{ $labels.service }} cancelled orders stuck PENDING past their timeout in {{ $labels.region }}",
          description:
            "{{ $value | printf \"%.0f\" }} order(s) got no stock answer within the order timeout and were cancelled by the reconciler in the last 30 minutes: the saga's events are not flowing (Kafka, the relays, catalog's consumer).",
        },
      },
      {
        alert: "SagaOrdersRetrying",
        expr: 'sum by (service, region) (rate(orders_reconciled_total{action="retried"}[10m])) > 0',
        for: "15m",
        labels: { severity: "warning" },
        annotations: {
          summary:
            "{{ $labels.service }} keeps asking catalog again for stuck orders in {{ $labels.region }}",
          description:
            "The reconciler has re-sent OrderCreated for stuck PENDING orders for 15 minutes; check catalog's consumer and the dead-letter topics.",
        },
      },
      {
        alert: "OutboxBacklogHigh",
        // Every instance of both colors counts the same shared collection: the max is the backlog.
        expr: `max by (service, region) (outbox_pending_documents) > ${OUTBOX_BACKLOG_LIMIT}`,
        for: "10m",
        labels: { severity: "warning" },
        annotations: {
          summary:
            "{{ $labels.service }} has {{ $value }} documents waiting to publish in {{ $labels.region }}",
          description: `More than ${OUTBOX_BACKLOG_LIMIT} documents have held unpublished outbox events for 10 minutes: the relays publish slower than the service writes, or not at all (see OutboxPublishFailing). Nothing is lost; the saga lags by that much.`,
        },
      },
      {
        alert: "OutboxPublishFailing",
        expr: "sum by (service, region, color) (rate(outbox_publish_errors_total[5m])) > 0",
        for: "10m",
        labels: { severity: "critical" },
        annotations: {
          summary:
            "{{ $labels.service }} ({{ $labels.color }}) cannot publish its outbox in {{ $labels.region }}",
          description:
            "Publish rounds have failed for 10 minutes: events wait in the outbox (none is lost) and the saga stands still. Check Kafka and Redis (the relay marks under a Redis lock).",
        },
      },
    ],
  };
}

/** How long ReadinessCheckFailing and ServiceDown wait before they fire (time-lapsed locally). */
export const AVAILABILITY_FOR = "1m";

/**
 * What the drills break: a readiness check no instance of a service passes in a region (the kit exports every check
 * as readiness_check_up at each scrape: Redis, MongoDB, the Kafka consumers, the outbox relay), and a service none of
 * whose instances answers its scrape there. A region lost whole, its Prometheus with it, is seen from outside it:
 * by the DNS failover's health checks, and by the survivor's own alerts on what it lost.
 */
export function availabilityRuleGroup(bp: Blueprint): RuleGroup {
  const services = bp.services.map((s) => s.name).join("|");
  const check = (critical: boolean): Rule => ({
    alert: "ReadinessCheckFailing",
    // Any instance (of either color) passing means the dependency is there; a single pod's trouble is its probe's.
    expr: `max by (service, region, check) (readiness_check_up{critical="${critical}"}) == 0`,
    for: AVAILABILITY_FOR,
    labels: { severity: critical ? "critical" : "warning" },
    annotations: {
      summary: `{{ $labels.service }} fails its {{ $labels.check }} check in {{ $labels.region }}`,
      description: critical
        ? "No instance of {{ $labels.service }} passes {{ $labels.check }}: every instance answers 503 on /readyz and is out of rotation, and its clients get 503 with Retry-After. Fix the dependency; the service recovers on its own."
        : "No instance of {{ $labels.service }} passes {{ $labels.check }} (not critical: it still serves). Events wait in the outbox or the consumers stand still until it is back.",
    },
  });
  return {
    name: "availability",
    rules: [
      check(true),
      check(false),
      {
        alert: "ServiceDown",
        expr: `max by (service, region) (up{service=~"${services}"}) == 0`,
        for: AVAILABILITY_FOR,
        labels: { severity: "critical" },
        annotations: {
          summary: "No instance of {{ $labels.service }} answers in {{ $labels.region }}",
          description:
            "Every scrape of {{ $labels.service }} in {{ $labels.region }} fails: its pods crash, hang or are cut off. (Pods that are gone, or never got an address, leave no target to fail: the edge's health check and the DNS failover see those.) The DNS failover moves clients to the other regions while the edge's health check fails.",
        },
      },
    ],
  };
}

/** The kit's Kafka consumer alerts (services/lib/alerts/consumer.rules.yml, which promtool tests there). */
export function consumerRuleGroups(): RuleGroup[] {
  return (parse(readFileSync(CONSUMER_RULES, "utf8")) as { groups: RuleGroup[] }).groups;
}

/**
 * `expr` with `matcher` added to every vector selector, found by Prometheus's own PromQL grammar (lezer-promql):
 * `m[5m]` becomes `m{matcher}[5m]` and `m{a="b"}` becomes `m{matcher,a="b"}`. Throws on an expression it cannot parse.
 */
export function withMatcher(expr: string, matcher: string): string {
  const inserts: { at: number; text: string }[] = [];
  const cursor = parser.parse(expr).cursor();
  do {
    if (cursor.type.isError) throw new Error(`not PromQL at ${cursor.from}: ${expr}`);
    if (cursor.name !== "VectorSelector") continue;
    const selector = cursor.node;
    const matchers = selector.getChild("LabelMatchers");
    if (!matchers) inserts.push({ at: selector.to, text: `{${matcher}}` });
    else {
      const empty = matchers.to - matchers.from === 2;
      inserts.push({ at: matchers.from + 1, text: empty ? matcher : `${matcher},` });
    }
  } while (cursor.next());
  return inserts
    .sort((a, b) => b.at - a.at)
    .reduce((out, { at, text }) => out.slice(0, at) + text + out.slice(at), expr);
}

/**
 * Every rule group of the stack: what the PrometheusRules carry, and what promtool checks as one file. With a
 * `namespace` (on clusters), every selector reads that namespace's series only and every recorded series and alert
 * carries it, so stacks that share a cluster and its Prometheus (a preview beside dev) neither mix their series nor
 * record the same one twice. The local environment's series have no namespace label.
 */
export function ruleGroups(bp: Blueprint, scope: { namespace?: string } = {}): RuleGroup[] {
  const groups = [
    ...bp.services.map((s) => sloRuleGroup(bp, s)),
    sagaRuleGroup(),
    availabilityRuleGroup(bp),
    ...consumerRuleGroups(),
  ];
  const { namespace } = scope;
  const scoped = namespace
    ? groups.map((g) => ({
        ...g,
        rules: g.rules.map((r) => ({
          ...r,
          expr: withMatcher(r.expr, `namespace="${namespace}"`),
          labels: { ...r.labels, namespace },
        })),
      }))
    : groups;
  return timeLapsed(scoped, bp.metrics);
}

/** "90s", "5m", "1h", "3d" in seconds. */
export function durationSeconds(d: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(d);
  if (!m) throw new Error(`not a duration this code writes: ${d}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as "s" | "m" | "h" | "d"];
}

/**
 * Seconds a rule's range window (`window`) or `for` (`for`) lasts under the time-lapse: divided by `alertTimeScale`,
 * a window never below four scrapes (a rate needs two samples in it), a `for` never below one scrape and 2 s (so one
 * failed scrape, whose 0 stands until the next one is stored, a scrape's own duration later, cannot fire alone).
 */
export function lapsedSeconds(
  d: string,
  kind: "window" | "for",
  timing: { scrapeIntervalSeconds: number; alertTimeScale: number },
): number {
  const seconds = durationSeconds(d);
  if (timing.alertTimeScale === 1) return seconds;
  const floor = kind === "window" ? 4 * timing.scrapeIntervalSeconds : timing.scrapeIntervalSeconds + 2;
  return Math.max(floor, Math.round(seconds / timing.alertTimeScale));
}

/**
 * The rule groups with every range window and `for` time-lapsed (lapsedSeconds; the local environment's
 * metricsTimingOf). Recorded series keep their nominal names (`…_rate5m` reads 20 s locally), so the alerts and
 * dashboards read the same names everywhere.
 */
export function timeLapsed(
  groups: RuleGroup[],
  timing: { scrapeIntervalSeconds: number; alertTimeScale: number },
): RuleGroup[] {
  const scale = timing.alertTimeScale;
  if (scale === 1) return groups;
  return groups.map((g) => ({
    ...g,
    rules: g.rules.map((r) => ({
      ...r,
      expr: withRangesScaled(r.expr, (d) => `${lapsedSeconds(d, "window", timing)}s`),
      ...(r.for ? { for: `${lapsedSeconds(r.for, "for", timing)}s` } : {}),
      ...(r.alert
        ? {
            annotations: {
              ...r.annotations,
              timing: `time-lapsed ${scale}x: windows and for are ${scale} times shorter than they read`,
            },
          }
        : {}),
    })),
  }));
}

/** `expr` with each range window (`m[5m]`) rewritten by `scale`; subqueries and offsets are refused, not guessed. */
function withRangesScaled(expr: string, scale: (d: string) => string): string {
  const edits: { from: number; to: number; text: string }[] = [];
  const cursor = parser.parse(expr).cursor();
  do {
    if (cursor.name === "SubqueryExpr" || cursor.name === "OffsetExpr")
      throw new Error(`cannot time-lapse a subquery or an offset: ${expr}`);
    if (cursor.name !== "MatrixSelector") continue;
    const window = cursor.node.getChild("DurationExpr");
    if (!window) throw new Error(`no range window at ${cursor.from}: ${expr}`);
    edits.push({ from: window.from, to: window.to, text: scale(expr.slice(window.from, window.to)) });
  } while (cursor.next());
  return edits
    .sort((a, b) => b.from - a.from)
    .reduce((out, e) => out.slice(0, e.from) + e.text + out.slice(e.to), expr);
}

/**
 * With `platform.monitoring: prometheus-operator`: a ServiceMonitor per service (both colors' Services, /metrics on
 * the http port) and one PrometheusRule with every rule group. The platform's Prometheus selects them by their
 * namespace and labels.
 */
export function buildMonitoring(bp: Blueprint, region: Region): K8sObject[] {
  if (bp.platform.monitoring !== "prometheus-operator") return [];
  const ns = bp.namespace;
  const monitors = bp.services.map(
    (s) =>
      ({
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name: s.name, namespace: ns, labels: commonLabels(s.name, "monitoring") },
        spec: {
          selector: {
            matchLabels: { "app.kubernetes.io/name": s.name, "app.kubernetes.io/component": "service" },
          },
          endpoints: [
            {
              port: "http",
              path: "/metrics",
              interval: `${bp.metrics.scrapeIntervalSeconds}s`,
              scrapeTimeout: "5s",
              // The services label their own series service/region/color: those win over the operator's target
              // labels (its `service` is the Kubernetes Service, orders-blue), which would rename them exported_*.
              honorLabels: true,
              // And `up`, which only the target labels carry, gets the same three (ServiceDown reads them).
              relabelings: [
                {
                  sourceLabels: ["__meta_kubernetes_service_label_app_kubernetes_io_name"],
                  targetLabel: "service",
                },
                { sourceLabels: ["__meta_kubernetes_pod_label_color"], targetLabel: "color" },
                { targetLabel: "region", replacement: region.name },
              ],
            },
          ],
        },
      }) as K8sObject,
  );
  const rule = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "blueprint-slo", namespace: ns, labels: commonLabels("blueprint", "monitoring") },
    spec: { groups: ruleGroups(bp, { namespace: ns }) },
  } as K8sObject;
  return [...monitors, rule];
}
