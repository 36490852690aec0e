import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MongoClient } from "mongodb";
import { resolveA } from "./dns-server.js";
import { AlertWatch, alertsMarkdown, judgeAlerts, type AlertOutcome, type AlertSighting } from "./alerts.js";
import { alertSummary, expectedAlerts, loadRequest, randomSku, type Answer } from "./drills.js";
import { SAMPLE_PRODUCTS } from "./seed.js";
import type { LocalEnvironment } from "./types.js";

// The region-loss drill: everything of the primary region is SIGKILLed at once under constant mixed load from a
// client that follows DNS, the survivor's PostgreSQL is promoted after the election timeout, then the lost region
// comes back. Counts, not impressions: RTO, RPO (acknowledged orders lost), duplicates, and the reconciliation.

export interface RegionLossOptions {
  /** Seconds of load before the kill, and after the fail-back. */
  warmSeconds?: number;
  afterSeconds?: number;
  /** Seconds from the kill until the lost region is brought back. */
  outageSeconds?: number;
  /**
   * Seconds the primary's database must be unreachable before the survivor is promoted: MongoDB's default
   * `electionTimeoutMillis` (10 s) is when a replica set starts an election.
   */
  electionSeconds?: number;
  /** Requests per second (a fifth are orders). */
  rate?: number;
  /** A failed order is retried with the same Idempotency-Key, every second, for this long (a real client). */
  retrySeconds?: number;
  settleSeconds?: number;
  reportDir?: string;
  log?: (line: string) => void;
}

interface OrderAttempt {
  key: string;
  sku: string;
  /** Seconds (drill clock) of the first attempt, and of the first 201. */
  firstTriedAt: number;
  acknowledgedAt?: number;
  /** Distinct order ids answered for this key (more than one is a duplicate). */
  ids: Set<string>;
  attempts: number;
}

interface Sample {
  at: number;
  region: string;
  kind: "read" | "order";
  status: number;
}

export interface RegionLossReport {
  drill: "region-loss";
  startedAt: string;
  lostRegion: string;
  survivor: string;
  /** Seconds on the drill clock. */
  events: {
    killAt: number;
    promotedAt: number | null;
    restoreStartedAt: number;
    restoredAt: number;
  };
  rto: {
    /** Kill → first failed request. */
    firstFailureSeconds: number | null;
    /** First failed request → DNS answers the survivor. */
    dnsMovedSeconds: number | null;
    /** First failed request → first order accepted (201) by the survivor. */
    firstOrderInSurvivorSeconds: number | null;
  };
  rpo: {
    /** Orders answered 201 before the kill. */
    acknowledgedBeforeKill: number;
    /** Of those, not in the database afterwards, or in it but not final after the settle wait. */
    missing: string[];
    notFinal: string[];
  };
  duplicates: {
    /** Idempotency keys that got more than one order id, and orders stored twice for one key. */
    keysWithTwoIds: number;
    storedTwice: number;
  };
  failBack: {
    /** Restore start → DNS answers the lost region again. */
    dnsBackSeconds: number | null;
    /** Failed requests from the restore start to the end of the load. */
    failedRequests: number;
  };
  reconciliation: {
    ordersAccepted: number;
    ordersInDatabase: number;
    final: number;
    confirmed: number;
    cancelled: number;
    notFinal: string[];
    /** Per sku: stock taken (before − after) and the quantity of confirmed orders; equal unless stock counted twice. */
    stock: { sku: string; taken: number; confirmed: number }[];
    stockMismatches: string[];
  };
  requests: { total: number; ok: number; failed: number; byStatus: Record<string, number> };
  /** Per second: answers, the DNS answer (region), database roles and replication lag. */
  timeline: {
    second: number;
    ok: number;
    failed: number;
    dns: string;
    primary: string;
    lagBytes: number | null;
  }[];
  /** ServiceDown for each of the lost region's services (expectedAlerts), and every alert that fired. */
  alerts: { outcomes: AlertOutcome[]; seen: AlertSighting[]; faultAt: number };
  files?: { json: string; markdown: string };
}

const FINAL = new Set(["CONFIRMED", "CANCELLED"]);
const round = (n: number) => Math.round(n * 10) / 10;

/** True when nothing accepts a TCP connection on host:port within the timeout. */
function unreachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(true));
  });
}

export async function runRegionLoss(
  env: LocalEnvironment,
  opts: RegionLossOptions = {},
): Promise<RegionLossReport> {
  const log = opts.log ?? (() => {});
  const bp = env.blueprint;
  if (bp.regions.length < 2)
    throw new Error("region-loss needs two regions in the model (blueprint:regions)");
  const lost = env.endpoints[0]!;
  const survivor = env.endpoints[1]!;
  const warm = opts.warmSeconds ?? 10;
  const after = opts.afterSeconds ?? 20;
  const electionSeconds = opts.electionSeconds ?? 10;
  const outage = Math.max(opts.outageSeconds ?? 40, electionSeconds + 10);
  const rate = opts.rate ?? 20;
  const retrySeconds = opts.retrySeconds ?? 60;
  const host = lost.publicHost;
  const byAddress = new Map(env.endpoints.map((e) => [new URL(e.edge).hostname, e]));
  const customerId = `drill-region-loss-${Date.now()}`;

  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  const samples: Sample[] = [];
  const orders: OrderAttempt[] = [];
  const timeline: RegionLossReport["timeline"] = [];
  let current = lost;
  let stop = false;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });

  // The client: follows the DNS answer (TTL 1 s), reads and orders; a failed order is retried with its key.
  const resolver = (async () => {
    while (!stop) {
      const answer = await resolveA(bp.edge.hostname, env.dns.port).catch(() => []);
      const next = answer.map((a) => byAddress.get(a)).find((e) => e !== undefined);
      if (next) current = next;
      await sleep(Math.max(200, bp.dns.ttlSeconds * 1000));
    }
  })();
  const send = async (kind: Sample["kind"], order?: OrderAttempt): Promise<Answer> => {
    const edge = current;
    const at = elapsed();
    const res = await loadRequest(agent, edge.edge, host, kind, {
      sku: order?.sku ?? randomSku(),
      customerId,
      key: order?.key ?? "",
    });
    samples.push({ at, region: edge.region, kind, status: res.status });
    return res;
  };
  const placeOrder = async () => {
    const sku = randomSku();
    const order: OrderAttempt = {
      key: randomUUID(),
      sku,
      firstTriedAt: elapsed(),
      ids: new Set(),
      attempts: 0,
    };
    orders.push(order);
    while (order.attempts === 0 || (!stop && elapsed() - order.firstTriedAt < retrySeconds)) {
      order.attempts += 1;
      const res = await send("order", order);
      if (res.status === 201 || res.status === 200) {
        order.ids.add((JSON.parse(res.body) as { id: string }).id);
        if (order.acknowledgedAt === undefined && res.status === 201) order.acknowledgedAt = elapsed();
        else order.acknowledgedAt ??= elapsed();
        return;
      }
      if (res.status > 0 && res.status < 500 && res.status !== 409 && res.status !== 429) return;
      await sleep(1000);
    }
  };
  const inflight: Promise<void>[] = [];
  const load = (async () => {
    for (let i = 0; !stop; i++) {
      inflight.push(i % 5 === 4 ? placeOrder() : send("read").then(() => undefined));
      await sleep(1000 / rate);
    }
  })();

  const killAt = { value: Number.NaN };
  const events = { promotedAt: null as number | null, restoreStartedAt: 0, restoredAt: 0 };
  const sampler = (async () => {
    while (!stop) {
      const second = Math.floor(elapsed());
      const roles = await env.databaseRoles().catch(() => ({}) as Record<string, string>);
      const lag = await env.replicationLag().catch(() => null);
      timeline.push({
        second,
        ok: 0,
        failed: 0,
        dns: current.region,
        primary: Object.keys(roles).find((r) => roles[r] === "primary") ?? "none",
        lagBytes: lag,
      });
      await sleep(1000);
    }
  })();

  const expected = expectedAlerts("region-loss", bp);
  const watch = await AlertWatch.of(env, elapsed);
  try {
    let stockBefore: Map<string, number>;
    try {
      stockBefore = await readStock(env, survivor.region);
      log(
        `▶ region-loss: ${rate} req/s following DNS (${bp.edge.hostname}), ${warm} s before ${lost.region} is killed`,
      );
      await sleep(warm * 1000);

      killAt.value = elapsed();
      const killed = await env.killRegion(lost.region);
      log(`  SIGKILL ${killed.length} processes of ${lost.region}: ${killed.join(", ")}`);
      // The failover controller: the survivor's database is promoted once the primary's has been unreachable for the
      // election timeout.
      // Where the survivor's FerretDB and standby reach the lost region's database: its peer address.
      const lostAddress = bp.regions.find((r) => r.name === lost.region)!.peerAddress;
      let downSince: number | undefined;
      while (events.promotedAt === null && elapsed() - killAt.value < outage) {
        const down = await unreachable(lostAddress, env.ports.postgres);
        if (!down) downSince = undefined;
        else downSince ??= elapsed();
        if (downSince !== undefined && elapsed() - downSince >= electionSeconds) {
          log(
            `  ${lost.region}'s database unreachable for ${electionSeconds} s: promoting ${survivor.region}'s`,
          );
          await env.promoteDatabase(survivor.region);
          events.promotedAt = elapsed();
        }
        await sleep(250);
      }
      await sleep(Math.max(0, (killAt.value + outage - elapsed()) * 1000));

      if (events.promotedAt === null)
        throw new Error(
          `${lost.region}'s database stayed reachable on ${lostAddress}:${env.ports.postgres} after the kill, so ${survivor.region}'s was never promoted — see 'npm run local -- status'`,
        );
      events.restoreStartedAt = elapsed();
      log(`  bringing ${lost.region} back (its database as a standby of ${survivor.region}'s)`);
      await env.restoreRegion(lost.region);
      events.restoredAt = elapsed();
      log(
        `  ${lost.region} is back after ${round(events.restoredAt - events.restoreStartedAt)} s; ${after} s more load`,
      );
      await sleep(after * 1000);
    } finally {
      // Also when a step failed: the load, the resolver and the sampler stop, and nothing is left running.
      stop = true;
      await load;
      await Promise.allSettled([...inflight, resolver, sampler]);
      agent.destroy();
    }

    // Every order must reach a final state; read from the database itself (the caches are per region).
    const settleSeconds = opts.settleSeconds ?? 120;
    log(`  waiting up to ${settleSeconds} s for ${orders.length} orders to be final`);
    const ordersDb = await openDb(env, lost.region, "orders");
    let stored: {
      _id: string;
      status: string;
      idempotencyKey: string;
      items: { sku: string; quantity: number }[];
    }[] = [];
    try {
      const deadline = Date.now() + settleSeconds * 1000;
      for (;;) {
        stored = (await ordersDb.db
          .collection("orders")
          .find({ customerId }, { projection: { status: 1, idempotencyKey: 1, items: 1 } })
          .toArray()) as unknown as typeof stored;
        if (stored.every((o) => FINAL.has(o.status)) || Date.now() > deadline) break;
        await sleep(2000);
      }
    } finally {
      await ordersDb.client.close();
    }
    const stockAfter = await readStock(env, lost.region);
    const resolveBound = Math.max(0, ...expected.map((e) => e.resolveWithinSeconds));
    await watch.settle(expected, started + (events.restoredAt + resolveBound + 2) * 1000);
    const seen = await watch.stop();

    const byId = new Map(stored.map((o) => [o._id, o]));
    const acknowledgedBefore = orders.filter(
      (o) => o.acknowledgedAt !== undefined && o.acknowledgedAt < killAt.value,
    );
    const idsOf = (o: OrderAttempt) => [...o.ids];
    const keyCounts = new Map<string, number>();
    for (const o of stored) keyCounts.set(o.idempotencyKey, (keyCounts.get(o.idempotencyKey) ?? 0) + 1);
    const confirmedBySku = new Map<string, number>();
    for (const o of stored.filter((s) => s.status === "CONFIRMED"))
      for (const item of o.items)
        confirmedBySku.set(item.sku, (confirmedBySku.get(item.sku) ?? 0) + item.quantity);
    const stock = SAMPLE_PRODUCTS.map(({ sku }) => ({
      sku,
      taken: (stockBefore.get(sku) ?? 0) - (stockAfter.get(sku) ?? 0),
      confirmed: confirmedBySku.get(sku) ?? 0,
    }));

    const afterKill = samples.filter((s) => s.at >= killAt.value).sort((a, b) => a.at - b.at);
    const failedSample = (s: Sample) => s.status === 0 || s.status >= 500;
    const firstFailure = afterKill.find(failedSample);
    const dnsMoved = timeline.find((t) => t.second >= killAt.value && t.dns === survivor.region);
    const firstSurvivorOrder = afterKill.find(
      (s) => s.kind === "order" && (s.status === 201 || s.status === 200) && s.region === survivor.region,
    );
    const dnsBack = timeline.find((t) => t.second >= events.restoreStartedAt && t.dns === lost.region);
    for (const t of timeline) {
      const inSecond = samples.filter((s) => Math.floor(s.at) === t.second);
      t.ok = inSecond.filter((s) => !failedSample(s)).length;
      t.failed = inSecond.filter(failedSample).length;
    }
    const byStatus: Record<string, number> = {};
    for (const s of samples) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
    const from = (t: number | undefined) =>
      t === undefined || !firstFailure ? null : round(t - firstFailure.at);

    const report: RegionLossReport = {
      drill: "region-loss",
      startedAt: new Date(started).toISOString(),
      lostRegion: lost.region,
      survivor: survivor.region,
      events: {
        killAt: round(killAt.value),
        promotedAt: events.promotedAt === null ? null : round(events.promotedAt),
        restoreStartedAt: round(events.restoreStartedAt),
        restoredAt: round(events.restoredAt),
      },
      rto: {
        firstFailureSeconds: firstFailure ? round(firstFailure.at - killAt.value) : null,
        dnsMovedSeconds: from(dnsMoved?.second),
        firstOrderInSurvivorSeconds: from(firstSurvivorOrder?.at),
      },
      rpo: {
        acknowledgedBeforeKill: acknowledgedBefore.length,
        missing: acknowledgedBefore.flatMap(idsOf).filter((id) => !byId.has(id)),
        notFinal: acknowledgedBefore
          .flatMap(idsOf)
          .filter((id) => byId.has(id) && !FINAL.has(byId.get(id)!.status)),
      },
      duplicates: {
        keysWithTwoIds: orders.filter((o) => o.ids.size > 1).length,
        storedTwice: [...keyCounts.values()].filter((n) => n > 1).length,
      },
      failBack: {
        dnsBackSeconds: dnsBack ? round(dnsBack.second - events.restoreStartedAt) : null,
        failedRequests: samples.filter((s) => s.at >= events.restoreStartedAt && failedSample(s)).length,
      },
      reconciliation: {
        ordersAccepted: orders.filter((o) => o.ids.size > 0).length,
        ordersInDatabase: stored.length,
        final: stored.filter((o) => FINAL.has(o.status)).length,
        confirmed: stored.filter((o) => o.status === "CONFIRMED").length,
        cancelled: stored.filter((o) => o.status === "CANCELLED").length,
        notFinal: stored.filter((o) => !FINAL.has(o.status)).map((o) => o._id),
        stock,
        stockMismatches: stock.filter((s) => s.taken !== s.confirmed).map((s) => s.sku),
      },
      requests: {
        total: samples.length,
        ok: samples.filter((s) => !failedSample(s)).length,
        failed: samples.filter(failedSample).length,
        byStatus,
      },
      timeline,
      alerts: {
        outcomes: judgeAlerts(expected, seen, killAt.value, events.restoredAt),
        seen,
        faultAt: killAt.value,
      },
    };
    if (opts.reportDir) report.files = writeRegionLossReport(report, opts.reportDir);
    log(
      `✔ region-loss: RTO ${report.rto.dnsMovedSeconds ?? "-"} s (DNS), ${report.rto.firstOrderInSurvivorSeconds ?? "-"} s (first order in ${survivor.region}); ` +
        `RPO ${report.rpo.missing.length + report.rpo.notFinal.length} of ${report.rpo.acknowledgedBeforeKill} acknowledged orders; ` +
        `duplicates ${report.duplicates.keysWithTwoIds + report.duplicates.storedTwice}; ` +
        `${report.reconciliation.final}/${report.reconciliation.ordersInDatabase} final, stock mismatches ${report.reconciliation.stockMismatches.length}; ` +
        `alerts ${alertSummary(report.alerts.outcomes)}`,
    );
    return report;
  } finally {
    // Also when a step threw.
    await watch.stop();
  }
}

/** What a region loss must not do: lose or duplicate an acknowledged order, leave one unfinished, or miscount stock. */
export function regionLossProblems(r: RegionLossReport): string[] {
  const problems: string[] = [];
  if (r.rpo.missing.length > 0) problems.push(`acknowledged orders missing: ${r.rpo.missing.join(", ")}`);
  if (r.rpo.notFinal.length > 0) problems.push(`acknowledged orders not final: ${r.rpo.notFinal.join(", ")}`);
  if (r.duplicates.keysWithTwoIds + r.duplicates.storedTwice > 0)
    problems.push(
      `duplicates: ${r.duplicates.keysWithTwoIds} keys with two ids, ${r.duplicates.storedTwice} stored twice`,
    );
  if (r.reconciliation.notFinal.length > 0)
    problems.push(`orders not final after the settle wait: ${r.reconciliation.notFinal.join(", ")}`);
  if (r.reconciliation.stockMismatches.length > 0)
    problems.push(`stock taken ≠ confirmed quantity for ${r.reconciliation.stockMismatches.join(", ")}`);
  if (r.rto.dnsMovedSeconds === null) problems.push(`DNS never answered ${r.survivor}`);
  if (r.failBack.dnsBackSeconds === null)
    problems.push(`DNS never answered ${r.lostRegion} again after the restore`);
  return problems;
}

/** A client of the region's FerretDB (which reaches the writable PostgreSQL, wherever it is). */
async function openDb(env: LocalEnvironment, region: string, name: string) {
  const rec = (await env.status()).find(
    (p) => p.role === "mongo" && p.name === `ferretdb-${region}` && p.alive,
  );
  if (!rec) throw new Error(`ferretdb-${region} is not running — the drill reads the database through it`);
  const client = new MongoClient(rec.url, { directConnection: true, serverSelectionTimeoutMS: 5_000 });
  await client.connect();
  return { client, db: client.db(name) };
}

async function readStock(env: LocalEnvironment, region: string): Promise<Map<string, number>> {
  const { client, db } = await openDb(env, region, "catalog");
  try {
    const docs = await db
      .collection<{ _id: string; stock: number }>("products")
      .find({ _id: { $in: SAMPLE_PRODUCTS.map((p) => p.sku) } })
      .toArray();
    return new Map(docs.map((d) => [d._id, d.stock]));
  } finally {
    await client.close();
  }
}

/** region-loss.json and region-loss.md (figures, a requests chart and the DNS/database timeline). */
export function writeRegionLossReport(r: RegionLossReport, dir: string): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, "region-loss.json");
  const markdown = join(dir, "region-loss.md");
  writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  const seconds = r.timeline.map((t) => t.second).join(", ");
  const dnsIndex = (region: string) => (region === r.lostRegion ? 2 : region === r.survivor ? 1 : 0);
  writeFileSync(
    markdown,
    [
      `# Drill region-loss (${r.startedAt})`,
      "",
      `Everything of ${r.lostRegion} SIGKILLed at ${r.events.killAt} s; ${r.survivor}'s database promoted at ${r.events.promotedAt ?? "never"} s; ${r.lostRegion} restored from ${r.events.restoreStartedAt} s to ${r.events.restoredAt} s.`,
      "",
      "| figure | value |",
      "| --- | --- |",
      `| RTO: kill → first failed request | ${r.rto.firstFailureSeconds ?? "-"} s |`,
      `| RTO: first failure → DNS answers ${r.survivor} | ${r.rto.dnsMovedSeconds ?? "-"} s |`,
      `| RTO: first failure → first order accepted in ${r.survivor} | ${r.rto.firstOrderInSurvivorSeconds ?? "-"} s |`,
      `| RPO: orders acknowledged (201) before the kill | ${r.rpo.acknowledgedBeforeKill} |`,
      `| RPO: of those missing / not final | ${r.rpo.missing.length} / ${r.rpo.notFinal.length} |`,
      `| duplicates: keys with two order ids / orders stored twice | ${r.duplicates.keysWithTwoIds} / ${r.duplicates.storedTwice} |`,
      `| fail-back: restore → DNS answers ${r.lostRegion} | ${r.failBack.dnsBackSeconds ?? "-"} s |`,
      `| fail-back: failed requests | ${r.failBack.failedRequests} |`,
      `| orders accepted / in the database / final | ${r.reconciliation.ordersAccepted} / ${r.reconciliation.ordersInDatabase} / ${r.reconciliation.final} |`,
      `| confirmed / cancelled | ${r.reconciliation.confirmed} / ${r.reconciliation.cancelled} |`,
      `| skus whose stock taken ≠ confirmed quantity | ${r.reconciliation.stockMismatches.length ? r.reconciliation.stockMismatches.join(", ") : "none"} |`,
      `| requests: total / ok / failed | ${r.requests.total} / ${r.requests.ok} / ${r.requests.failed} |`,
      "",
      ...alertsMarkdown(r.alerts.outcomes, r.alerts.seen, r.alerts.faultAt),
      "```mermaid",
      "xychart-beta",
      `  title "region-loss: answers per second (ok, failed)"`,
      `  x-axis "second" [${seconds}]`,
      '  y-axis "requests"',
      `  line [${r.timeline.map((t) => t.ok).join(", ")}]`,
      `  line [${r.timeline.map((t) => t.failed).join(", ")}]`,
      "```",
      "",
      "```mermaid",
      "xychart-beta",
      `  title "DNS answer (2 = ${r.lostRegion}, 1 = ${r.survivor}) and replication lag (KiB)"`,
      `  x-axis "second" [${seconds}]`,
      '  y-axis "value"',
      `  line [${r.timeline.map((t) => dnsIndex(t.dns)).join(", ")}]`,
      `  line [${r.timeline.map((t) => round((t.lagBytes ?? 0) / 1024)).join(", ")}]`,
      "```",
      "",
      "| second | ok | failed | DNS | database primary | lag (bytes) |",
      "| --- | --- | --- | --- | --- | --- |",
      ...r.timeline.map(
        (t) => `| ${t.second} | ${t.ok} | ${t.failed} | ${t.dns} | ${t.primary} | ${t.lagBytes ?? "-"} |`,
      ),
      "",
    ].join("\n"),
  );
  return { json, markdown };
}
