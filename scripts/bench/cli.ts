// `npm run bench`: the request paths of the local environment against a bare express app, as ratios measured in
// one run with one load tool (wrk), with CPU per request; the order path against the same database's own insert
// rate; the idle cost with many orders stored. Writes reports/bench-<time>/bench.{md,json}. Not a timed test.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { readStackConfig, REPO_ROOT } from "../../infra/config/stack-file.js";
import { parseBlueprint } from "../../infra/model/index.js";
import { freePort } from "../lib/servers/index.js";
import { createLocalEnvironment, type LocalEnvironment } from "../local/environment.js";
import { SAMPLE_PRODUCTS } from "../local/seed.js";
import { CpuMeter, runWrk, settle, type LoadResult, type ProcessGroup } from "./measure.js";
import { flameGraphSvg, readNewestProfile, summarize } from "./profile.js";
import { insertRate, prepareInsertCollections, seedFinalOrders, waitDrained } from "./mongo.js";
import { writeBenchReport, type BenchReport, type RowResult } from "./report.js";

const USAGE = `usage: npm run bench [-- options]
  --seconds <n>      length of each load run (default 8)
  --rounds <n>       interleaved rounds; the median per row is reported (default 2)
  --connections <n>  wrk connections of the read rows (default 50)
  --idle-orders <n>  orders stored before the idle measurement (default 100000; 0 skips the seeding)
  --idle-seconds <n> length of the idle measurement (default 20)
  --report-dir <d>   default reports/bench-<time>
  --profile-seconds <n>
                     CPU-profile the gateway and catalog under the gateway row's load this long, for the
                     report's flame graphs (default 8; 0 skips it)
  --rows <ids>       only these rows, comma-separated (bare always runs: the ratios need it); default all of
                     catalog, gateway, edge-sku, edge-list, edge-orders-c10, edge-orders-c50
  --base-port <n>    the environment's ports (default 21000)`;

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    rounds: { type: "string", default: "2" },
    connections: { type: "string", default: "50" },
    "idle-orders": { type: "string", default: "100000" },
    "idle-seconds": { type: "string", default: "20" },
    "report-dir": { type: "string" },
    "base-port": { type: "string", default: "21000" },
    "profile-seconds": { type: "string", default: "8" },
    rows: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
function count(name: string, min: number): number {
  const raw = values[name as keyof typeof values] as string;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be a whole number >= ${min} (got "${raw}")\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}
const seconds = count("seconds", 1);
const rounds = count("rounds", 1);
const connections = count("connections", 1);
const idleOrders = count("idle-orders", 0);
const idleSeconds = count("idle-seconds", 1);
const basePort = count("base-port", 1024);
const profileSeconds = count("profile-seconds", 0);
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
// Absolute: the profiled servers run in their own folders.
const reportDir = resolve(values["report-dir"] ?? join(REPO_ROOT, "reports", `bench-${stamp}`));
const log = (line: string) => process.stdout.write(`${line}\n`);

/** A row of the table: one URL under wrk, the CPU charged to `charge`. */
interface Row {
  id: string;
  label: string;
  url: string;
  host?: string;
  connections: number;
  orderBody?: string;
  charge: "bare" | "environment";
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function medianResult(runs: LoadResult[]): LoadResult {
  const pick = (k: keyof LoadResult) => median(runs.map((r) => r[k]));
  return {
    requests: pick("requests"),
    seconds: pick("seconds"),
    rps: pick("rps"),
    non2xx: Math.max(...runs.map((r) => r.non2xx)),
    timeouts: Math.max(...runs.map((r) => r.timeouts)),
    socketErrors: Math.max(...runs.map((r) => r.socketErrors)),
    p50: pick("p50"),
    p90: pick("p90"),
    p99: pick("p99"),
    max: pick("max"),
  };
}

async function startBare(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(REPO_ROOT, "scripts/bench/bare-server.mjs")], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, PORT: String(port) },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${url}/livez`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, child };
    await sleep(100);
  }
  child.kill("SIGKILL");
  throw new Error(`the bare express app did not answer on ${url} within 10 s`);
}

/**
 * Restarts region-a's blue gateway and catalog under node --cpu-prof, puts the row's load on them for `secs`, and
 * restarts them plain (the SIGTERM drain writes each profile); returns each one's summary and flame graph file.
 */
async function profileUnder(
  env: LocalEnvironment,
  row: Row,
  secs: number,
  dir: string,
): Promise<NonNullable<BenchReport["profiles"]>> {
  const region = env.blueprint.regions[0]!.name;
  const services = ["gateway", "catalog"];
  const name = (service: string) => `${service}-blue-${region}`;
  log(
    `▶ profiling ${services.join(" and ")} (node --cpu-prof) under the ${row.id} row's load for ${secs} s …`,
  );
  for (const service of services)
    await env.restartService(name(service), {
      nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${join(dir, service)}`],
    });
  // Warm the profiled processes (the JIT, the cache) before the measured load.
  await runWrk({ ...row, seconds: 2, keyPrefix: `bench-${stamp}-warm` });
  const load = await runWrk({ ...row, seconds: secs, keyPrefix: `bench-${stamp}-profile` });
  log(`  ${load.rps.toFixed(0)} req/s while profiled`);
  for (const service of services) await env.restartService(name(service));
  const out: NonNullable<BenchReport["profiles"]> = [];
  for (const service of services) {
    const profile = readNewestProfile(join(dir, service));
    const svg = join(dir, `${service}-flame.svg`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(svg, flameGraphSvg(profile, `${service} under ${row.label}`));
    out.push({
      service,
      row: row.id,
      requests: load.requests,
      flameGraph: relative(reportDir, svg),
      ...summarize(profile),
    });
  }
  return out;
}

async function main(): Promise<void> {
  // The local stack as it is, but the gateway's per-client limit lifted: one load generator is one client, and
  // only 200s are measured.
  const config = readStackConfig("local");
  const blueprint = parseBlueprint(
    { ...config, serviceOverrides: { gateway: { env: { RATE_LIMIT_PER_SECOND: "1000000" } } } },
    "local",
  );
  const stateDir = mkdtempSync(join(tmpdir(), "blueprint-bench-"));
  // Tracing off, as on a cluster whose platform names no collector (and as in the earlier runs these ratios are
  // compared with); the local environment's default turns it on.
  const env: LocalEnvironment = createLocalEnvironment({
    stack: "local",
    stateDir,
    basePort,
    blueprint,
    tracing: false,
  });
  let bare: { url: string; child: ChildProcess } | undefined;
  try {
    log(`▶ local environment on base port ${basePort} (gateway rate limit lifted, tracing off) …`);
    await env.up((line) => log(`  ${line}`));
    bare = await startBare();
    const primary = blueprint.regions[0]!;
    const at = (service: string) =>
      `http://${primary.loopbackAddress}:${env.ports.service(service, "blue", primary.name)}`;
    const edge = env.endpoints[0]!;
    const sku = SAMPLE_PRODUCTS[0]!.sku;
    const orderBody = JSON.stringify({ customerId: "bench", items: [{ sku, quantity: 1 }] });
    const allRows: Row[] = [
      { id: "bare", label: "bare express `/livez`", url: `${bare.url}/livez`, connections, charge: "bare" },
      {
        id: "catalog",
        label: "catalog direct, cached `GET /products/:sku`",
        url: `${at("catalog")}/products/${sku}`,
        connections,
        charge: "environment",
      },
      {
        id: "gateway",
        label: "gateway → catalog, cached sku",
        url: `${at("gateway")}/api/catalog/products/${sku}`,
        connections,
        charge: "environment",
      },
      {
        id: "edge-sku",
        label: "edge → gateway → catalog, cached sku",
        url: `${edge.edge}/api/catalog/products/${sku}`,
        host: edge.publicHost,
        connections,
        charge: "environment",
      },
      {
        id: "edge-list",
        label: "edge → … `GET /products`",
        url: `${edge.edge}/api/catalog/products`,
        host: edge.publicHost,
        connections,
        charge: "environment",
      },
      ...[10, 50].map((c): Row => ({
        id: `edge-orders-c${c}`,
        label: `edge → … \`POST /orders\` (c=${c})`,
        url: `${edge.edge}/api/orders/orders`,
        host: edge.publicHost,
        connections: c,
        orderBody,
        charge: "environment",
      })),
    ];
    const wanted = values.rows?.split(",").map((id) => id.trim());
    const unknown = wanted?.filter((id) => !allRows.some((r) => r.id === id)) ?? [];
    if (unknown.length > 0)
      throw new Error(`--rows: no row ${unknown.join(", ")} (rows: ${allRows.map((r) => r.id).join(", ")})`);
    const rows = allRows.filter((r) => r.id === "bare" || !wanted || wanted.includes(r.id));
    // The database's own insert rate, at each concurrency an order row runs at.
    const insertConcurrencies = rows.filter((r) => r.orderBody).map((r) => r.connections);
    const status = await env.status();
    const groups: ProcessGroup[] = status.filter((s) => s.alive).map((s) => ({ name: s.name, pid: s.pid }));
    const envMeter = new CpuMeter(groups);
    const bareMeter = new CpuMeter([{ name: "bare", pid: bare.child.pid! }]);
    const mongoRoot = `mongodb://${primary.loopbackAddress}:${env.ports.mongo}/`;
    const mongoUrl = `${mongoRoot}bench`;
    await prepareInsertCollections(mongoUrl, insertConcurrencies);

    const runs = new Map<
      string,
      { load: LoadResult; cpu: number; machine: number; groups: Record<string, number> }[]
    >();
    const inserts = new Map<number, { rps: number; p99: number; cpu: number }[]>();
    const quiet = async () => {
      const s = await settle();
      log(`  machine quiet after ${(s.waitedMs / 1000).toFixed(0)} s (${s.cores.toFixed(2)} cores busy)`);
    };
    for (let round = 1; round <= rounds; round++) {
      await quiet();
      for (const row of rows) {
        log(`▶ round ${round}/${rounds}: ${row.id} (c=${row.connections}, ${seconds} s) …`);
        const meter = row.charge === "bare" ? bareMeter : envMeter;
        meter.sample();
        const load = await runWrk({ ...row, seconds, keyPrefix: `bench-${stamp}-${round}-${row.id}` });
        const cpu = meter.delta();
        runs.set(row.id, [
          ...(runs.get(row.id) ?? []),
          { load, cpu: cpu.total, machine: cpu.machine, groups: cpu.groups },
        ]);
        log(
          `  ${load.rps.toFixed(0)} req/s, p50 ${load.p50.toFixed(1)} ms, p99 ${load.p99.toFixed(1)} ms, non-2xx ${load.non2xx}, timeouts ${load.timeouts}`,
        );
        await sleep(1000);
      }
      if (insertConcurrencies.length > 0) await quiet();
      for (const c of insertConcurrencies) {
        log(
          `▶ round ${round}/${rounds}: mongodb driver insertOne into region-a's FerretDB (c=${c}, ${seconds} s) …`,
        );
        envMeter.sample();
        const r = await insertRate(mongoUrl, c, seconds);
        const cpu = envMeter.delta();
        inserts.set(c, [...(inserts.get(c) ?? []), { rps: r.rps, p99: r.p99, cpu: cpu.total / r.count }]);
        log(`  ${r.rps.toFixed(0)} inserts/s, p99 ${r.p99.toFixed(1)} ms`);
      }
    }

    const bareRps = median(runs.get("bare")!.map((r) => r.load.rps));
    const results: RowResult[] = rows.map((row) => {
      const rs = runs.get(row.id)!;
      const load = medianResult(rs.map((r) => r.load));
      return {
        id: row.id,
        label: row.label,
        connections: row.connections,
        ...load,
        ratio: load.rps / bareRps,
        cpuUsPerRequest: median(rs.map((r) => (r.cpu * 1e6) / r.load.requests)),
        machineCpuUsPerRequest: median(rs.map((r) => (r.machine * 1e6) / r.load.requests)),
        cpuUsByProcess: Object.fromEntries(
          Object.keys(rs[0]!.groups)
            .map((name) => [name, median(rs.map((r) => (r.groups[name]! * 1e6) / r.load.requests))] as const)
            .filter(([, us]) => us >= 1)
            .sort(([, a], [, b]) => b - a),
        ),
      };
    });
    const insertRows = insertConcurrencies.map((c) => {
      const rs = inserts.get(c)!;
      return {
        connections: c,
        rps: median(rs.map((r) => r.rps)),
        p99: median(rs.map((r) => r.p99)),
        cpuUsPerInsert: median(rs.map((r) => r.cpu * 1e6)),
      };
    });

    let profiles: BenchReport["profiles"];
    if (profileSeconds > 0) {
      await quiet();
      const gatewayRow = allRows.find((r) => r.id === "gateway")!;
      profiles = await profileUnder(env, gatewayRow, profileSeconds, join(reportDir, "profiles"));
    }

    let idle: BenchReport["idle"];
    if (idleOrders > 0) {
      const ordersUrl = `mongodb://${primary.loopbackAddress}:${env.ports.mongo}/orders`;
      log(
        `▶ storing ${idleOrders} final orders in region-a's database (the relay's and reconciler's data) …`,
      );
      const stored = await seedFinalOrders(ordersUrl, idleOrders, (n) => log(`  ${n} stored`));
      log("▶ waiting until the saga has finished every order of the load rows …");
      const drain = await waitDrained(mongoRoot, 900, (n) => log(`  ${n} pending orders and events left`));
      log(`  drained in ${drain.seconds.toFixed(0)} s (${drain.leftAtStart} left when the load ended)`);
      // The seeding's own aftermath (replication, autovacuum of 100k new rows) is not the idle cost.
      await quiet();
      log(`▶ idle for ${idleSeconds} s with ${stored} orders stored: CPU of every process …`);
      // Read the processes again: the profiling restarted two of them.
      const idleMeter = new CpuMeter(
        (await env.status()).filter((s) => s.alive).map((s) => ({ name: s.name, pid: s.pid })),
      );
      idleMeter.sample();
      await sleep(idleSeconds * 1000);
      const cpu = idleMeter.delta();
      idle = {
        ordersStored: stored,
        drain,
        seconds: cpu.wallSeconds,
        percentOfOneCore: (cpu.total / cpu.wallSeconds) * 100,
        byProcess: Object.fromEntries(
          Object.entries(cpu.groups)
            .sort(([, a], [, b]) => b - a)
            .map(([name, s]) => [name, (s / cpu.wallSeconds) * 100]),
        ),
      };
    }
    const report: BenchReport = {
      at: new Date().toISOString(),
      seconds,
      rounds,
      tool: "wrk -t1",
      rows: results,
      inserts: insertRows,
      ...(idle ? { idle } : {}),
      ...(profiles ? { profiles } : {}),
    };
    const files = writeBenchReport(report, reportDir);
    log("");
    log(files.table);
    log(`report: ${files.markdown}`);
  } finally {
    bare?.child.kill("SIGTERM");
    await env.down();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`✖ bench failed: ${err.message}\n`);
  process.exit(1);
});
