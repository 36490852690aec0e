import { createHash } from "node:crypto";
import type { Dashboard, MappingType, Panel, RowPanel, ThresholdsMode } from "@grafana/schema";
import type { Blueprint, Service } from "../model/index.js";
import { commonLabels, type K8sObject } from "./meta.js";
import { DURATION, NOT_SERVED, REQUESTS, errorRatioSeries, p99Series } from "./monitoring.js";

// Grafana dashboards from the model: one per service (its routes' traffic, errors and p99 against the SLO, its
// readiness checks, its own metrics) and one for the rollout (traffic, errors, latency and version per color, the
// saga's outcomes, the alerts). Typed with Grafana's own schema (@grafana/schema, generated from its CUE), and every
// query is PromQL the tests parse and run on the local Prometheus.

/** Label Grafana's dashboard sidecar (kube-prometheus-stack, the Grafana chart) loads ConfigMaps by. */
export const DASHBOARD_LABEL = "grafana_dashboard";
const DATASOURCE = { type: "prometheus", uid: "${datasource}" };
/** Grafana's own step-aware window; the tests substitute it to run the queries. */
export const RATE_INTERVAL = "$__rate_interval";

interface PanelSpec {
  title: string;
  description: string;
  /** legendFormat → PromQL. */
  queries: Record<string, string>;
  unit?: string;
  /** A red threshold line (the SLO). */
  threshold?: number;
  type?: "timeseries" | "state-timeline" | "stat";
  /** A state-timeline's values as words and colors (0 and 1 would otherwise be a color gradient). */
  mappings?: Record<string, { text: string; color: string }>;
}

const UP_DOWN = { "0": { text: "fails", color: "red" }, "1": { text: "passes", color: "green" } };

/** Panels a sample service adds for its own metrics (services/*\/src), keyed by service name. */
const SERVICE_PANELS: Record<string, (sel: string) => PanelSpec[]> = {
  gateway: (sel): PanelSpec[] => [
    {
      title: "Circuit breakers",
      description: "Per upstream: 0 closed, 1 half-open, 2 open (gateway_circuit_state).",
      queries: {
        "{{upstream}} {{color}} {{region}}": `max by (upstream, color, region) (gateway_circuit_state{${sel}})`,
      },
      type: "state-timeline",
      mappings: {
        "0": { text: "closed", color: "green" },
        "1": { text: "half-open", color: "yellow" },
        "2": { text: "open", color: "red" },
      },
    },
    {
      title: "Upstream retries",
      description: "Requests the gateway retried on another attempt, per second.",
      queries: {
        "{{region}}": `sum by (region) (rate(gateway_upstream_retries_total{${sel}}[${RATE_INTERVAL}]))`,
      },
      unit: "reqps",
    },
  ],
  catalog: (sel): PanelSpec[] => [
    {
      title: "Product reads by the level that answered",
      description: "Cache-aside: the in-process cache, Redis, or the database, per second.",
      queries: {
        "{{source}}": `sum by (source) (rate(catalog_product_reads_total{${sel}}[${RATE_INTERVAL}]))`,
        "list {{source}}": `sum by (source) (rate(catalog_list_reads_total{${sel}}[${RATE_INTERVAL}]))`,
      },
      unit: "reqps",
    },
  ],
  orders: (sel): PanelSpec[] => [
    {
      title: "Saga outcomes",
      description:
        "Orders reaching CONFIRMED or CANCELLED, and what the reconciler did for stuck ones, per minute.",
      queries: {
        "{{status}}": `sum by (status) (rate(orders_final_state_total{${sel}}[${RATE_INTERVAL}])) * 60`,
        "reconciler {{action}}": `sum by (action) (rate(orders_reconciled_total{${sel}}[${RATE_INTERVAL}])) * 60`,
      },
    },
  ],
};

/** The kit's Kafka side, for a service that depends on Kafka: the outbox and the consumers. */
const kafkaPanels = (sel: string): PanelSpec[] => [
  {
    title: "Outbox",
    description:
      "Documents waiting for the relay (OutboxBacklogHigh over 100), events published and failed rounds.",
    queries: {
      "pending {{region}}": `max by (region) (outbox_pending_documents{${sel}})`,
      "published/s {{region}}": `sum by (region) (rate(outbox_published_total{${sel}}[${RATE_INTERVAL}]))`,
      "failed rounds/s {{region}}": `sum by (region) (rate(outbox_publish_errors_total{${sel}}[${RATE_INTERVAL}]))`,
    },
  },
  {
    title: "Consumers",
    description:
      "Messages not yet committed, in-place handler retries and dead letters per topic (ConsumerLagHigh, ConsumerRetryingInPlace, ConsumerDeadLetters).",
    queries: {
      "lag {{topic}} {{region}}": `max by (topic, region) (consumer_lag_messages{${sel}})`,
      "retries {{topic}}": `sum by (topic) (rate(consumer_handler_retries_total{${sel}}[${RATE_INTERVAL}]))`,
      "dead letters {{topic}}": `sum by (topic) (rate(consumer_dead_letters_total{${sel}}[${RATE_INTERVAL}]))`,
    },
  },
];

/** The service's dashboard: RED per route against the SLO, readiness, its own metrics, the process. */
function servicePanels(bp: Blueprint, service: Service, ns: string): PanelSpec[] {
  const sel = `${ns}service="${service.name}",region=~"$region"`;
  const budget = Number((1 - bp.slo.availability).toPrecision(6));
  return [
    {
      title: "Requests by route and color",
      description: "What clients asked for, per second (probes and scrapes left out).",
      queries: {
        "{{route}} {{color}}": `sum by (route, color) (rate(${REQUESTS}{${sel},${NOT_SERVED}}[${RATE_INTERVAL}]))`,
      },
      unit: "reqps",
    },
    {
      title: "5xx ratio by route (5 m)",
      description: `The recorded error ratio the burn-rate alerts read; the line is the budget, 1 - slo.availability (${bp.environment}: ${bp.slo.availability}).`,
      queries: { "{{route}} {{region}}": `max by (route, region) (${errorRatioSeries("5m")}{${sel}})` },
      unit: "percentunit",
      threshold: budget,
    },
    {
      title: "p99 by route (5 m)",
      description: `Server-side p99 per route; the line is slo.latencyP99Ms (${bp.slo.latencyP99Ms} ms).`,
      queries: { "{{route}} {{region}}": `max by (route, region) (${p99Series("5m")}{${sel}})` },
      unit: "s",
      threshold: bp.slo.latencyP99Ms / 1000,
    },
    {
      title: "Error budget burn (1 h)",
      description:
        "How many times too fast the 30-day budget burns; 14.4 over 1 h pages (SloErrorBudgetBurnFast).",
      queries: {
        "{{route}} {{region}}": `max by (route, region) (${errorRatioSeries("1h")}{${sel}}) / ${budget}`,
      },
      threshold: 14.4,
    },
    {
      title: "Readiness checks",
      description:
        "Each readiness check per instance: 1 passes, 0 fails (ReadinessCheckFailing when no instance passes).",
      queries: {
        "{{check}} {{color}} {{region}}": `min by (check, color, region) (readiness_check_up{${sel}})`,
      },
      type: "state-timeline",
      mappings: UP_DOWN,
    },
    ...(SERVICE_PANELS[service.name]?.(sel) ?? []),
    ...(service.dependsOn.includes("kafka") ? kafkaPanels(sel) : []),
    {
      title: "CPU and event loop",
      description:
        "Cores used per color and region (every instance together), and the event loop's worst p99 delay.",
      queries: {
        "cpu {{color}} {{region}}": `sum by (color, region) (rate(process_cpu_seconds_total{${sel}}[${RATE_INTERVAL}]))`,
        "loop p99 {{color}} {{region}}": `max by (color, region) (nodejs_eventloop_lag_p99_seconds{${sel}})`,
      },
    },
    {
      title: "Memory",
      description: "The largest resident memory of an instance, per color and region.",
      queries: { "{{color}} {{region}}": `max by (color, region) (process_resident_memory_bytes{${sel}})` },
      unit: "bytes",
    },
  ];
}

/** The rollout: what each color serves, how well, which version, and what the saga and the alerts say. */
function rolloutPanels(bp: Blueprint, ns: string): PanelSpec[] {
  const edge = bp.services[0]!.name;
  const sel = `${ns}region=~"$region",${NOT_SERVED}`;
  return [
    {
      title: `Traffic share per color (${edge})`,
      description:
        "The weights in effect: each color's share of the requests the first service of the model receives.",
      queries: {
        "{{color}}": `sum by (color) (rate(${REQUESTS}{service="${edge}",${sel}}[${RATE_INTERVAL}])) / ignoring(color) group_left sum(rate(${REQUESTS}{service="${edge}",${sel}}[${RATE_INTERVAL}]))`,
      },
      unit: "percentunit",
    },
    {
      title: "5xx ratio per service and color",
      description: "What the gates' server-side analysis compares: the new color against the live one.",
      queries: {
        "{{service}} {{color}}": `sum by (service, color) (rate(${REQUESTS}{${sel},status=~"5.."}[${RATE_INTERVAL}])) / sum by (service, color) (rate(${REQUESTS}{${sel}}[${RATE_INTERVAL}]))`,
      },
      unit: "percentunit",
      threshold: Number((1 - bp.slo.availability).toPrecision(6)),
    },
    {
      title: "p99 per service and color",
      description: `Server-side p99; the line is slo.latencyP99Ms (${bp.slo.latencyP99Ms} ms).`,
      queries: {
        "{{service}} {{color}}": `histogram_quantile(0.99, sum by (service, color, le) (rate(${DURATION}_bucket{${sel}}[${RATE_INTERVAL}])))`,
      },
      unit: "s",
      threshold: bp.slo.latencyP99Ms / 1000,
    },
    {
      title: "Version per color",
      description: "The SERVICE_VERSION each running instance reports (service_info).",
      queries: {
        "{{service}} {{color}} {{version}}": `max by (service, color, version) (service_info{${ns}region=~"$region"})`,
      },
      type: "state-timeline",
      mappings: { "1": { text: "running", color: "blue" } },
    },
    {
      title: "Saga outcomes",
      description:
        "Orders confirmed and cancelled per minute: a release that breaks the saga shows here first.",
      queries: {
        "{{status}}": `sum by (status) (rate(orders_final_state_total{${ns}region=~"$region"}[${RATE_INTERVAL}])) * 60`,
      },
    },
    {
      title: "Alerts firing",
      description: "Every alert of the stack's rules that fires, by name (Prometheus's ALERTS series).",
      queries: {
        "{{alertname}} {{service}}": `sum by (alertname, service) (ALERTS{${ns}alertstate="firing"})`,
      },
      type: "state-timeline",
      mappings: { "1": { text: "firing", color: "red" } },
    },
  ];
}

/** Gate results live in the pipeline's reports, not in Prometheus: the rollout dashboard says where. */
const GATES_NOTE =
  "Gate verdicts (k6 and the server-side analysis) are in the pipeline's report: reports/rehearsal-*/report.md locally, the workflow's artifacts in CI.";

function panel(spec: PanelSpec, id: number, x: number, y: number): Panel {
  return {
    id,
    type: spec.type ?? "timeseries",
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos: { h: 8, w: 12, x, y },
    targets: Object.entries(spec.queries).map(([legendFormat, expr], i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DATASOURCE,
      expr,
      legendFormat,
    })),
    fieldConfig: {
      defaults: {
        ...(spec.unit ? { unit: spec.unit } : {}),
        ...(spec.mappings
          ? {
              mappings: [
                {
                  type: "value" as MappingType.ValueToText,
                  options: Object.fromEntries(
                    Object.entries(spec.mappings).map(([v, m], index) => [v, { ...m, index }]),
                  ),
                },
              ],
            }
          : {}),
        ...(spec.threshold !== undefined
          ? {
              thresholds: {
                // The enum's value, without loading the package at run time (only its types are used).
                mode: "absolute" as ThresholdsMode.Absolute,
                steps: [
                  { value: null, color: "green" },
                  { value: spec.threshold, color: "red" },
                ],
              },
              custom: { thresholdsStyle: { mode: "line" } },
            }
          : {}),
      },
      overrides: [],
    },
    options: {},
  };
}

function dashboard(
  bp: Blueprint,
  ns: string,
  uid: string,
  title: string,
  specs: PanelSpec[],
  note?: string,
): Dashboard {
  const panels: (Panel | RowPanel)[] = specs.map((s, i) =>
    panel(s, i + 1, (i % 2) * 12, Math.floor(i / 2) * 8),
  );
  if (note)
    panels.push({
      id: specs.length + 1,
      type: "text",
      title: "Gates",
      gridPos: { h: 3, w: 24, x: 0, y: Math.ceil(specs.length / 2) * 8 },
      options: { mode: "markdown", content: note },
    });
  return {
    uid,
    title,
    tags: ["blueprint", bp.environment, bp.namespace],
    timezone: "browser",
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    time: { from: "now-1h", to: "now" },
    refresh: "30s",
    templating: {
      list: [
        { name: "datasource", type: "datasource", query: "prometheus", label: "Prometheus" },
        {
          name: "region",
          type: "query",
          label: "Region",
          datasource: DATASOURCE,
          query: `label_values(${REQUESTS}${ns ? `{${ns.slice(0, -1)}}` : ""}, region)`,
          includeAll: true,
          multi: true,
          allValue: ".*",
          current: { text: "All", value: "$__all" },
          refresh: 2,
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
}

/** What each dashboard is of, in buildDashboards' order: the services, then the rollout. */
const dashboardNames = (bp: Blueprint): string[] => [...bp.services.map((s) => s.name), "rollout"];

/** A dashboard's uid: bp-<namespace>-<what>, or a hash of the namespace where that passes Grafana's 40 characters. */
function dashboardUid(bp: Blueprint, what: string): string {
  const plain = `bp-${bp.namespace}-${what}`;
  if (plain.length <= 40) return plain;
  return `bp-${createHash("sha256").update(bp.namespace).digest("hex").slice(0, 10)}-${what}`.slice(0, 40);
}

/**
 * Every dashboard of the stack: one per service, then the rollout's. With a `namespace` (on clusters), every query
 * reads that namespace's series only, as the rules do; the local environment's series have no namespace label.
 */
export function buildDashboards(bp: Blueprint, scope: { namespace?: string } = {}): Dashboard[] {
  const ns = scope.namespace ? `namespace="${scope.namespace}",` : "";
  return [
    ...bp.services.map((s) =>
      dashboard(bp, ns, dashboardUid(bp, s.name), `${s.name} (${bp.namespace})`, servicePanels(bp, s, ns)),
    ),
    dashboard(
      bp,
      ns,
      dashboardUid(bp, "rollout"),
      `Rollout (${bp.namespace})`,
      rolloutPanels(bp, ns),
      GATES_NOTE,
    ),
  ];
}

/** One ConfigMap per dashboard, labelled for Grafana's dashboard sidecar (with platform.monitoring). */
export function buildDashboardConfigMaps(bp: Blueprint): K8sObject[] {
  if (bp.platform.monitoring !== "prometheus-operator") return [];
  const names = dashboardNames(bp);
  return buildDashboards(bp, { namespace: bp.namespace }).map(
    (d, i) =>
      ({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: `dashboard-${names[i]}`,
          namespace: bp.namespace,
          labels: { ...commonLabels("blueprint", "monitoring"), [DASHBOARD_LABEL]: "1" },
        },
        data: { [`${d.uid}.json`]: JSON.stringify(d, null, 2) },
      }) as K8sObject,
  );
}

/** A query as Grafana sends it, the variables replaced: `window` for $__rate_interval, every region. */
export const runnable = (expr: string, window = "1m"): string =>
  expr.replaceAll(RATE_INTERVAL, window).replaceAll('region=~"$region"', 'region=~".*"');

/** Every query of a dashboard, for the tests: its panel, legend and PromQL. */
export function dashboardQueries(d: Dashboard): { panel: string; legend: string; expr: string }[] {
  return (d.panels ?? []).flatMap((p) =>
    ((p as Panel).targets ?? []).map((t) => ({
      panel: p.title ?? "",
      legend: (t as { legendFormat?: string }).legendFormat ?? "",
      expr: (t as { expr?: string }).expr ?? "",
    })),
  );
}
