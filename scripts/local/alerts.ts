import { setTimeout as sleep } from "node:timers/promises";
import { prometheusApi } from "../lib/prometheus-api.js";
import type { LocalEnvironment } from "./types.js";

// What the drills expect the monitoring to say: an alert that fires within a bound after the fault and resolves
// within a bound after the restore, read from the environment's Prometheus (its alert states) and Alertmanager
// (what it received), once a second.

/** An alert the drill expects: its name and the labels that identify it (others, such as severity, are free). */
export interface AlertExpectation {
  alertname: string;
  labels: Record<string, string>;
  /** Seconds after the fault by which it must fire, and after the restore by which it must have resolved. */
  fireWithinSeconds: number;
  resolveWithinSeconds: number;
}

/** One alert as the watch saw it, on the drill's clock (seconds). */
export interface AlertSighting {
  labels: Record<string, string>;
  firstFiringAt: number;
  /** The last time it stopped firing (null: still firing when the watch stopped). */
  resolvedAt: number | null;
  /** When Alertmanager first listed it. */
  inAlertmanagerAt: number | null;
  /** Times it went from resolved to firing again. */
  refired: number;
  /** Every time it started firing (the first is firstFiringAt). */
  firingStarts: number[];
}

export interface AlertOutcome {
  expected: AlertExpectation;
  /** The sighting that matched, seconds after the fault and after the restore. */
  firedAfterFaultSeconds: number | null;
  resolvedAfterRestoreSeconds: number | null;
  inAlertmanagerAfterFaultSeconds: number | null;
  /** Empty when it fired, reached Alertmanager and resolved within its bounds. */
  problems: string[];
}

const keyOf = (labels: Record<string, string>) =>
  JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
const matches = (labels: Record<string, string>, e: AlertExpectation) =>
  labels.alertname === e.alertname && Object.entries(e.labels).every(([k, v]) => labels[k] === v);

interface PrometheusAlert {
  labels: Record<string, string>;
  state: "pending" | "firing" | "inactive";
}

/** Polls Prometheus's /api/v1/alerts and Alertmanager's /api/v2/alerts every second until stopped. */
export class AlertWatch {
  private readonly seen = new Map<string, AlertSighting>();
  private readonly firing = new Set<string>();
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly urls: { prometheus: string; alertmanager: string },
    private readonly clock: () => number,
  ) {
    this.loop = this.run();
  }

  /** The Prometheus and Alertmanager of a running local environment. */
  static async of(env: LocalEnvironment, clock: () => number): Promise<AlertWatch> {
    const status = await env.status();
    const url = (role: string) => {
      const p = status.find((s) => s.role === role);
      if (!p) throw new Error(`the local environment runs no ${role}: restart it with 'npm run local -- up'`);
      return p.url;
    };
    return new AlertWatch({ prometheus: url("prometheus"), alertmanager: url("alertmanager") }, clock);
  }

  /** Bounded: a drill that throws before stop() leaves no loop behind for longer than this. */
  private static readonly MAX_WATCH_MS = 30 * 60_000;

  private async run(): Promise<void> {
    const until = Date.now() + AlertWatch.MAX_WATCH_MS;
    while (!this.stopped && Date.now() < until) {
      await this.poll().catch(() => undefined);
      await sleep(1000);
    }
  }

  private async poll(): Promise<void> {
    // Apart: Alertmanager not answering for a second must not lose that second's Prometheus states.
    const [fromPrometheus, fromAlertmanager] = await Promise.allSettled([
      prometheusApi<{ alerts: PrometheusAlert[] }>(this.urls.prometheus, "alerts", {}, 2000),
      getJson<{ labels: Record<string, string> }[]>(`${this.urls.alertmanager}/api/v2/alerts`),
    ]);
    if (fromPrometheus.status === "rejected") return;
    const prometheus = fromPrometheus.value;
    const alertmanager = fromAlertmanager.status === "fulfilled" ? fromAlertmanager.value : [];
    const now = this.clock();
    const firingNow = new Set<string>();
    for (const a of prometheus.alerts.filter((x) => x.state === "firing")) {
      const key = keyOf(a.labels);
      firingNow.add(key);
      const s = this.seen.get(key);
      if (!s)
        this.seen.set(key, {
          labels: a.labels,
          firstFiringAt: now,
          resolvedAt: null,
          inAlertmanagerAt: null,
          refired: 0,
          firingStarts: [now],
        });
      else if (!this.firing.has(key)) {
        s.refired += 1;
        s.firingStarts.push(now);
        s.resolvedAt = null;
      }
    }
    for (const key of this.firing) if (!firingNow.has(key)) this.seen.get(key)!.resolvedAt = now;
    this.firing.clear();
    for (const key of firingNow) this.firing.add(key);
    for (const a of alertmanager) {
      const s = this.seen.get(keyOf(a.labels));
      if (s && s.inAlertmanagerAt === null) s.inAlertmanagerAt = now;
    }
  }

  sightings(): AlertSighting[] {
    return [...this.seen.values()];
  }

  /** Waits until every expectation that fired has resolved, or until `deadline` (ms since the epoch). */
  async settle(expected: AlertExpectation[], deadline: number): Promise<void> {
    const open = () =>
      this.sightings().some((s) => s.resolvedAt === null && expected.some((e) => matches(s.labels, e)));
    while (open() && Date.now() < deadline) await sleep(500);
  }

  async stop(): Promise<AlertSighting[]> {
    this.stopped = true;
    await this.loop;
    return this.sightings();
  }
}

/** Alertmanager's v2 API answers bare JSON (no envelope). */
async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Each expectation against what the watch saw, with the fault and the restore on the same clock. */
export function judgeAlerts(
  expected: AlertExpectation[],
  sightings: AlertSighting[],
  faultAt: number,
  restoredAt: number,
): AlertOutcome[] {
  const round = (n: number) => Math.round(n * 10) / 10;
  return expected.map((e) => {
    const name = `${e.alertname}{${Object.entries(e.labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(",")}}`;
    // The first time it started firing after the fault (one already firing before it may have fired again).
    const started = (x: AlertSighting) => x.firingStarts.find((t) => t >= faultAt);
    const s = sightings
      .filter((x) => matches(x.labels, e) && started(x) !== undefined)
      .sort((a, b) => started(a)! - started(b)!)[0];
    if (!s)
      return {
        expected: e,
        firedAfterFaultSeconds: null,
        resolvedAfterRestoreSeconds: null,
        inAlertmanagerAfterFaultSeconds: null,
        problems: [`${name} never fired`],
      };
    const fired = round(started(s)! - faultAt);
    const resolved = s.resolvedAt === null ? null : round(Math.max(0, s.resolvedAt - restoredAt));
    const problems = [
      ...(fired > e.fireWithinSeconds
        ? [`${name} fired ${fired} s after the fault (bound ${e.fireWithinSeconds} s)`]
        : []),
      ...(resolved === null ? [`${name} still firing when the drill ended`] : []),
      ...(resolved !== null && resolved > e.resolveWithinSeconds
        ? [`${name} resolved ${resolved} s after the restore (bound ${e.resolveWithinSeconds} s)`]
        : []),
      ...(s.inAlertmanagerAt === null ? [`${name} never reached Alertmanager`] : []),
    ];
    return {
      expected: e,
      firedAfterFaultSeconds: fired,
      resolvedAfterRestoreSeconds: resolved,
      inAlertmanagerAfterFaultSeconds:
        s.inAlertmanagerAt === null ? null : round(s.inAlertmanagerAt - faultAt),
      problems,
    };
  });
}

/** Markdown lines: the expected alerts with their delays, then every other alert seen during the drill. */
export function alertsMarkdown(
  outcomes: AlertOutcome[],
  sightings: AlertSighting[],
  faultAt: number,
): string[] {
  if (outcomes.length === 0 && sightings.length === 0) return [];
  const label = (labels: Record<string, string>) =>
    Object.entries(labels)
      .filter(([k]) => k !== "alertname")
      .map(([k, v]) => `${k}=${v}`)
      .join(", ");
  const expectedKeys = new Set<string>();
  const rows = outcomes.map((o) => {
    const fmt = (n: number | null) => (n === null ? "—" : `${n} s`);
    return `| ${o.expected.alertname} | ${label(o.expected.labels)} | ${fmt(o.firedAfterFaultSeconds)} (≤ ${o.expected.fireWithinSeconds} s) | ${fmt(o.inAlertmanagerAfterFaultSeconds)} | ${fmt(o.resolvedAfterRestoreSeconds)} (≤ ${o.expected.resolveWithinSeconds} s) | ${o.problems.length === 0 ? "ok" : o.problems.join("; ")} |`;
  });
  for (const s of sightings)
    if (outcomes.some((o) => matches(s.labels, o.expected))) expectedKeys.add(keyOf(s.labels));
  const others = sightings.filter((s) => !expectedKeys.has(keyOf(s.labels)));
  return [
    "Alerts (Prometheus's states and Alertmanager's list, read every second; delays from the fault and from the restore):",
    "",
    "| alert | labels | fired after the fault | in Alertmanager | resolved after the restore | verdict |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
    ...others.map(
      (s) =>
        `| ${s.labels.alertname} (also seen) | ${label(s.labels)} | ${s.firstFiringAt < faultAt ? "before the fault" : `${Math.round((s.firstFiringAt - faultAt) * 10) / 10} s`} | ${s.inAlertmanagerAt === null ? "—" : "yes"} | ${s.resolvedAt === null ? "still firing" : "resolved"} | — |`,
    ),
    "",
  ];
}
