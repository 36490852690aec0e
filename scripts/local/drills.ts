import { randomUUID } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { AVAILABILITY_FOR, lapsedSeconds } from "../../infra/components/monitoring.js";
import type { Blueprint } from "../../infra/model/index.js";
import {
  AlertWatch,
  alertsMarkdown,
  judgeAlerts,
  type AlertExpectation,
  type AlertOutcome,
  type AlertSighting,
} from "./alerts.js";
import { SAMPLE_PRODUCTS } from "./seed.js";
import type { LocalEnvironment } from "./types.js";

// Failure drills on the running local environment, each under constant mixed load through the primary edge:
// counts, not impressions (infra/README.md's RPO/RTO table says which figures these measure).

export const DRILLS = ["kafka-down", "redis-down", "database-down", "sigterm-rolling", "partition"] as const;
export type DrillName = (typeof DRILLS)[number];

export interface DrillOptions {
  /** Seconds the dependency stays down (sigterm-rolling: ignored, it takes as long as the restarts). */
  outageSeconds: number;
  /** Load before the fault and after the recovery. */
  warmSeconds?: number;
  afterSeconds?: number;
  /** Requests per second of the load (a fifth are orders). */
  rate?: number;
  /** Longest wait, after the load, for every acknowledged order to reach a final state. */
  settleSeconds?: number;
  reportDir?: string;
  log?: (line: string) => void;
}

type Phase = "before" | "during" | "after";
interface Sample {
  at: number;
  phase: Phase;
  region: string;
  kind: "read" | "order";
  status: number;
  retryAfter: boolean;
}
export interface PhaseCounts {
  requests: number;
  ok: number;
  client4xx: number;
  /** 503 with Retry-After: a dependency is down and the client is told when to retry. */
  unavailable503: number;
  /** Every other 5xx (500, 502, 504, a 503 without Retry-After): the goal is 0. */
  other5xx: number;
  /** No answer within the request timeout, or a reset connection. */
  networkErrors: number;
}
export interface DrillReport {
  drill: DrillName;
  startedAt: string;
  outageSeconds: number;
  phases: Record<Phase, PhaseCounts>;
  /** Orders answered 201 during the run, and those not CONFIRMED or CANCELLED after the settle wait. */
  ordersAccepted: number;
  ordersLost: string[];
  /** Seconds from the restore until the first accepted order and until reads and orders stopped failing. */
  recovery: { firstOrderSeconds: number | null; cleanSeconds: number | null };
  /** orders' /readyz in the primary region during the fault: status codes seen, and whether 503s carried Retry-After. */
  readiness: { codes: Record<string, number> };
  /**
   * partition only (the load goes to every region's edge): per region, orders accepted and requests failed while the
   * regions were cut apart, and the seconds in which more than one region's database accepted writes (split brain).
   */
  regions?: Record<string, { ordersAccepted: number; failed: number; ok: number }>;
  splitBrainSeconds?: number;
  /** Every answer's status code (0: no answer) by phase. */
  statuses: Record<Phase, Record<string, number>>;
  /** What each lost order last answered (its status, 404, or no answer). */
  lostStates: Record<string, string>;
  /** Per second: ok, 503, other failures (the report's picture). */
  timeline: { second: number; ok: number; unavailable: number; failed: number }[];
  /** The alerts the drill expects (expectedAlerts) with their delays, and every alert that fired during it. */
  alerts: { outcomes: AlertOutcome[]; seen: AlertSighting[]; faultAt: number };
  files?: { json: string; markdown: string };
}

/**
 * The alerts a drill must see (monitoring.ts availabilityRuleGroup), with bounds from the model's timing: a check
 * fails at the next scrape, then the alert waits its `for` (1 m, time-lapsed) and the next evaluation; `detect`
 * allows what the dependency's client takes to notice (a Kafka consumer's rejoin, a reconnect).
 */
export function expectedAlerts(drill: DrillName | "region-loss", bp: Blueprint): AlertExpectation[] {
  const { scrapeIntervalSeconds } = bp.metrics;
  const lag = scrapeIntervalSeconds + lapsedSeconds(AVAILABILITY_FOR, "for", bp.metrics) + 3;
  const bounds = (detect: number) => ({
    fireWithinSeconds: Math.ceil(lag + detect),
    resolveWithinSeconds: Math.ceil(lag + detect + scrapeIntervalSeconds),
  });
  const primary = bp.primaryRegion.name;
  const check = (service: string, region: string, name: string, detect: number): AlertExpectation => ({
    alertname: "ReadinessCheckFailing",
    labels: { service, region, check: name },
    ...bounds(detect),
  });
  switch (drill) {
    case "kafka-down":
      // The services' own consumers (the saga) in the region whose Kafka stopped.
      return [
        // A consumer notices a lost broker when its session and a rejoin fail: 5 to 9 s here.
        check("orders", primary, "kafka-consumer-orders-saga", 8),
        check("catalog", primary, "kafka-consumer-catalog-saga", 8),
      ];
    case "database-down":
      // Every region's FerretDB writes through the one writable PostgreSQL.
      return bp.regions.flatMap((r) => [
        check("orders", r.name, "mongo", 3),
        check("catalog", r.name, "mongo", 3),
      ]);
    case "region-loss":
      // From the restore (the region's data tier and services started and ready again) to the next good scrape.
      return bp.services.map((s) => ({
        alertname: "ServiceDown",
        labels: { service: s.name, region: primary },
        fireWithinSeconds: Math.ceil(lag + 2),
        resolveWithinSeconds: Math.ceil(lag + 2 + scrapeIntervalSeconds),
      }));
    default:
      return [];
  }
}

/** What is wrong with a drill's alerts: each expected alert's problems. */
export const alertProblems = (alerts: { outcomes: AlertOutcome[] }): string[] =>
  alerts.outcomes.flatMap((o) => o.problems);

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A sample product, drawn at random: what the drills' load reads and orders. */
export const randomSku = (): string =>
  SAMPLE_PRODUCTS[Math.floor(Math.random() * SAMPLE_PRODUCTS.length)]!.sku;

/** One request of the drills' mixed load through an edge: a read of the sku, or an order of one of it. */
export function loadRequest(
  agent: Agent,
  edgeUrl: string,
  host: string,
  kind: "read" | "order",
  order: { sku: string; customerId: string; key: string },
): Promise<Answer> {
  return kind === "read"
    ? call(agent, `${edgeUrl}/api/catalog/products/${order.sku}`, host)
    : call(
        agent,
        `${edgeUrl}/api/orders/orders`,
        host,
        "POST",
        { customerId: order.customerId, items: [{ sku: order.sku, quantity: 1 }] },
        { "idempotency-key": order.key },
      );
}

/**
 * One HTTP request with its own Host header (fetch drops Host, a forbidden header): 0 for no answer within the
 * timeout or a reset connection.
 */
export function call(
  agent: Agent,
  url: string,
  host: string,
  method = "GET",
  body?: object,
  headers = {},
): Promise<Answer> {
  return new Promise((resolve) => {
    const payload = body ? JSON.stringify(body) : undefined;
    const req = httpRequest(
      url,
      {
        method,
        agent,
        timeout: 5000,
        headers: { host, ...(payload ? { "content-type": "application/json" } : {}), ...headers },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on("error", () => resolve({ status: 0, headers: {}, body: "" }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ status: 0, headers: {}, body: "" }));
    req.end(payload);
  });
}

const emptyCounts = (): PhaseCounts => ({
  requests: 0,
  ok: 0,
  client4xx: 0,
  unavailable503: 0,
  other5xx: 0,
  networkErrors: 0,
});

/** Runs one drill: load, fault, restore, load, then waits for every accepted order and writes the report. */
export async function runDrill(
  env: LocalEnvironment,
  drill: DrillName,
  opts: DrillOptions,
): Promise<DrillReport> {
  const log = opts.log ?? (() => {});
  const warm = opts.warmSeconds ?? 5;
  const after = opts.afterSeconds ?? 15;
  const rate = opts.rate ?? 20;
  const edge = env.endpoints[0]!;
  const host = edge.publicHost;
  // A partition leaves every edge up: the load goes to all of them, to see which region still takes writes.
  const edges = drill === "partition" ? env.endpoints : [edge];
  const samples: Sample[] = [];
  const accepted: string[] = [];
  const readiness: Record<string, number> = {};
  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  let phase = "before" as Phase;
  let stopLoad = false;

  const expected = expectedAlerts(drill, env.blueprint);
  const watch = await AlertWatch.of(env, elapsed);
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const request = async (kind: Sample["kind"], target: (typeof edges)[number]) => {
      const at = elapsed();
      const current = phase;
      const res = await loadRequest(agent, target.edge, host, kind, {
        sku: randomSku(),
        customerId: "drill",
        key: randomUUID(),
      });
      if (kind === "order" && res.status === 201) accepted.push((JSON.parse(res.body) as { id: string }).id);
      samples.push({
        at,
        phase: current,
        region: target.region,
        kind,
        status: res.status,
        retryAfter: "retry-after" in res.headers,
      });
    };
    const load = (async () => {
      const inflight: Promise<void>[] = [];
      for (let i = 0; !stopLoad; i++) {
        inflight.push(request(i % 5 === 4 ? "order" : "read", edges[Math.floor(i / 5) % edges.length]!));
        await sleep(1000 / rate);
      }
      await Promise.all(inflight);
    })();
    const ordersReady = env
      .services()
      .find((p) => p.service === "orders" && p.region === env.blueprint.primaryRegion.name);
    const probe = (async () => {
      while (!stopLoad) {
        if (phase === "during" && ordersReady) {
          const res = await fetch(`${ordersReady.url}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(
            () => null,
          );
          const key = res
            ? `${res.status}${res.status === 503 && res.headers.has("retry-after") ? "+retry-after" : ""}`
            : "no answer";
          readiness[key] = (readiness[key] ?? 0) + 1;
        }
        await sleep(1000);
      }
    })();

    log(`▶ ${drill}: ${rate} req/s through ${edge.region}'s edge, ${warm} s before the fault`);
    await sleep(warm * 1000);
    phase = "during";
    const faultAt = elapsed();
    let splitBrainSeconds = 0;
    if (drill === "partition") {
      log(
        `  cut every link between ${env.endpoints.map((e) => e.region).join(" and ")} for ${opts.outageSeconds} s`,
      );
      const healPartition = await env.partition();
      try {
        for (const until = Date.now() + opts.outageSeconds * 1000; Date.now() < until;) {
          const roles = await env.databaseRoles();
          if (Object.values(roles).filter((r) => r === "primary").length > 1) splitBrainSeconds += 1;
          await sleep(1000);
        }
      } finally {
        log("  heal the partition");
        await healPartition();
      }
    } else if (drill === "sigterm-rolling") {
      for (const p of env.services()) {
        log(`  SIGTERM ${p.name}, start it again`);
        await env.restartService(p.name);
      }
    } else {
      // The primary region's Kafka or Redis, or the writable PostgreSQL (every region's FerretDB reaches it); nothing
      // promotes a standby in these drills, so the database is simply down until it is started again.
      const store = drill === "kafka-down" ? "kafka" : drill === "database-down" ? "postgres" : "redis";
      const roles = store === "postgres" ? await env.databaseRoles() : {};
      const writable = Object.keys(roles).find((r) => roles[r] === "primary");
      const target = `${store}-${store === "postgres" && writable ? writable : edge.region}`;
      log(`  stop ${target} (by PID) for ${opts.outageSeconds} s`);
      await env.stopBacking(target);
      await sleep(opts.outageSeconds * 1000);
      log(`  start ${target} again`);
      await env.startBacking(target);
    }
    const restoredAt = elapsed();
    phase = "after";
    await sleep(after * 1000);
    stopLoad = true;
    await Promise.all([load, probe]);

    // Every accepted order must reach a final state (the saga, the relays' backlog, the reconciler).
    log(`  waiting up to ${opts.settleSeconds ?? 90} s for ${accepted.length} accepted orders to be final`);
    const deadline = Date.now() + (opts.settleSeconds ?? 90) * 1000;
    let pending = [...accepted];
    const lastSeen: Record<string, string> = {};
    while (pending.length > 0 && Date.now() < deadline) {
      const states = await Promise.all(
        pending.map(async (id) => {
          const res = await call(agent, `${edge.edge}/api/orders/orders/${id}`, host);
          const status =
            res.status === 200 ? (JSON.parse(res.body) as { status: string }).status : `HTTP ${res.status}`;
          lastSeen[id] = status;
          return { id, final: status === "CONFIRMED" || status === "CANCELLED" };
        }),
      );
      pending = states.filter((s) => !s.final).map((s) => s.id);
      if (pending.length > 0) await sleep(1000);
    }

    agent.destroy();
    // The expected alerts resolve within their bounds after the restore (the settle wait above may have covered it).
    const resolveBound = Math.max(0, ...expected.map((e) => e.resolveWithinSeconds));
    await watch.settle(expected, started + (restoredAt + resolveBound + 2) * 1000);
    const seen = await watch.stop();
    const phases = { before: emptyCounts(), during: emptyCounts(), after: emptyCounts() };
    const statuses: DrillReport["statuses"] = { before: {}, during: {}, after: {} };
    for (const s of samples) {
      statuses[s.phase][s.status] = (statuses[s.phase][s.status] ?? 0) + 1;
      const c = phases[s.phase];
      c.requests += 1;
      if (s.status === 0) c.networkErrors += 1;
      else if (s.status < 400) c.ok += 1;
      else if (s.status < 500) c.client4xx += 1;
      else if (s.status === 503 && s.retryAfter) c.unavailable503 += 1;
      else c.other5xx += 1;
    }
    const afterRestore = samples.filter((s) => s.at >= restoredAt).sort((a, b) => a.at - b.at);
    const firstOrder = afterRestore.find((s) => s.kind === "order" && s.status === 201);
    const lastFailure = afterRestore.filter((s) => s.status === 0 || s.status >= 500).at(-1);
    const seconds = Math.ceil(elapsed());
    const timeline = Array.from({ length: seconds }, (_, second) => {
      const inSecond = samples.filter((s) => Math.floor(s.at) === second);
      return {
        second,
        ok: inSecond.filter((s) => s.status > 0 && s.status < 400).length,
        unavailable: inSecond.filter((s) => s.status === 503).length,
        failed: inSecond.filter((s) => s.status === 0 || (s.status >= 500 && s.status !== 503)).length,
      };
    });
    const report: DrillReport = {
      drill,
      startedAt: new Date(started).toISOString(),
      outageSeconds: Math.round((restoredAt - faultAt) * 10) / 10,
      phases,
      ordersAccepted: accepted.length,
      ordersLost: pending,
      statuses,
      lostStates: Object.fromEntries(pending.map((id) => [id, lastSeen[id] ?? "never read"])),
      recovery: {
        firstOrderSeconds: firstOrder ? round(firstOrder.at - restoredAt) : null,
        cleanSeconds: lastFailure ? round(lastFailure.at - restoredAt) : 0,
      },
      readiness: { codes: readiness },
      timeline,
      alerts: { outcomes: judgeAlerts(expected, seen, faultAt, restoredAt), seen, faultAt },
      ...(drill === "partition" ? { regions: byRegion(samples), splitBrainSeconds } : {}),
    };
    if (opts.reportDir) report.files = writeDrillReport(report, opts.reportDir);
    log(
      `✔ ${drill}: ${accepted.length} orders accepted, ${pending.length} lost; other 5xx ${phases.before.other5xx + phases.during.other5xx + phases.after.other5xx}; 503 with Retry-After ${phases.during.unavailable503}; first order ${report.recovery.firstOrderSeconds ?? "none"} s after the restore; alerts ${alertSummary(report.alerts.outcomes)}`,
    );
    return report;
  } finally {
    // Also when a step threw: the load, the probe and the alert watch stop.
    stopLoad = true;
    await watch.stop();
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

/** "ReadinessCheckFailing fired 9 s, resolved 7 s; …", or "none expected". */
export const alertSummary = (outcomes: AlertOutcome[]): string =>
  outcomes.length === 0
    ? "none expected"
    : outcomes
        .map(
          (o) =>
            `${o.expected.alertname}(${Object.values(o.expected.labels).join(",")}) fired ${o.firedAfterFaultSeconds ?? "never"} s, resolved ${o.resolvedAfterRestoreSeconds ?? "never"} s`,
        )
        .join("; ");

/** Per region, what the load saw while the fault lasted. */
function byRegion(samples: Sample[]): DrillReport["regions"] {
  const out: NonNullable<DrillReport["regions"]> = {};
  for (const s of samples.filter((x) => x.phase === "during")) {
    const r = (out[s.region] ??= { ordersAccepted: 0, failed: 0, ok: 0 });
    if (s.status === 0 || s.status >= 500) r.failed += 1;
    else r.ok += 1;
    if (s.kind === "order" && s.status === 201) r.ordersAccepted += 1;
  }
  return out;
}

/** report.json and report.md (the counts per phase and a timeline chart) under `dir`. */
export function writeDrillReport(report: DrillReport, dir: string): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${report.drill}.json`);
  const markdown = join(dir, `${report.drill}.md`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  const row = (name: string, c: PhaseCounts) =>
    `| ${name} | ${c.requests} | ${c.ok} | ${c.client4xx} | ${c.unavailable503} | ${c.other5xx} | ${c.networkErrors} |`;
  const series = (key: "ok" | "unavailable" | "failed") => report.timeline.map((t) => t[key]).join(", ");
  writeFileSync(
    markdown,
    [
      `# Drill ${report.drill} (${report.startedAt})`,
      "",
      `Fault for ${report.outageSeconds} s. Orders accepted: ${report.ordersAccepted}, lost (not final after the settle wait): ${report.ordersLost.length}.`,
      `First order accepted ${report.recovery.firstOrderSeconds ?? "never"} s after the restore; last failed request ${report.recovery.cleanSeconds ?? "-"} s after it.`,
      `orders /readyz during the fault: ${JSON.stringify(report.readiness.codes)}.`,
      "",
      "| phase | requests | ok | 4xx | 503 + Retry-After | other 5xx | network errors |",
      "| --- | --- | --- | --- | --- | --- | --- |",
      row("before", report.phases.before),
      row("during", report.phases.during),
      row("after", report.phases.after),
      "",
      ...alertsMarkdown(report.alerts.outcomes, report.alerts.seen, report.alerts.faultAt),
      ...(report.regions
        ? [
            `While cut apart (split brain: ${report.splitBrainSeconds ?? 0} s with two writable databases):`,
            "",
            "| region | ok | failed | orders accepted |",
            "| --- | --- | --- | --- |",
            ...Object.entries(report.regions).map(
              ([region, c]) => `| ${region} | ${c.ok} | ${c.failed} | ${c.ordersAccepted} |`,
            ),
            "",
          ]
        : []),
      "```mermaid",
      "xychart-beta",
      `  title "${report.drill}: requests per second (ok, 503, failed)"`,
      `  x-axis "second" [${report.timeline.map((t) => t.second).join(", ")}]`,
      '  y-axis "requests"',
      `  line [${series("ok")}]`,
      `  line [${series("unavailable")}]`,
      `  line [${series("failed")}]`,
      "```",
      "",
    ].join("\n"),
  );
  return { json, markdown };
}
