// Per-request overhead of the service kit: k6 against a bare express 5 handler and the gateway in the same run.
// Usage: npm run build && node --import tsx services/gateway/bench/run.ts   (env: DURATION=10s VUS=32 ROUNDS=2)
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startRedis } from "../../../scripts/lib/servers/index.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const k6 = join(root, ".cache/tools/bin/k6");
const gatewayMain = join(root, "services/gateway/dist/main.js");
const reports = join(root, "reports");
const rounds = Number(process.env.ROUNDS ?? 2);

interface Result {
  name: string;
  rps: number;
  p95: number;
  failed: number;
  /** CPU time of the measured server process per request, in microseconds: robust to other load on the machine. */
  cpuUs: number;
}

const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** utime + stime of a process from /proc, in clock ticks. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

// Only PATH and HOME are inherited: npm run exports variables such as COLOR=0 that collide with service config.
const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME };

function startProcess(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, args, {
    cwd: root,
    env: { ...baseEnv, ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer 200 within 10 s`);
}

function runK6(name: string, target: string, serverPid: number): Promise<Result> {
  const ticksBefore = cpuTicks(serverPid);
  const out = join(reports, `gateway-bench-${name}.json`);
  const env = {
    ...baseEnv,
    DURATION: process.env.DURATION,
    VUS: process.env.VUS,
    TARGET: target,
    OUT: out,
    K6_NO_USAGE_REPORT: "true",
  };
  // Port 0 for k6's REST API, so parallel k6 runs on this machine do not collide on 6565.
  const k6Args = [
    "run",
    "--quiet",
    "--address",
    "127.0.0.1:0",
    join(root, "services/gateway/bench/get.k6.js"),
  ];
  const run = spawn(k6, k6Args, { env, stdio: ["ignore", "ignore", "inherit"] });
  return new Promise<Result>((resolve, reject) => {
    run.on("error", reject);
    run.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`k6 against ${target} exited ${code}`));
      const metrics = (
        JSON.parse(readFileSync(out, "utf8")) as {
          metrics: Record<string, { values: Record<string, number> }>;
        }
      ).metrics;
      const cpuSeconds = (cpuTicks(serverPid) - ticksBefore) / ticksPerSecond;
      resolve({
        name,
        cpuUs: (cpuSeconds * 1e6) / metrics.http_reqs!.values.count!,
        rps: metrics.http_reqs!.values.rate!,
        p95: metrics.http_req_duration!.values["p(95)"]!,
        failed: metrics.http_req_failed!.values.rate!,
      });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (!existsSync(gatewayMain)) throw new Error(`${gatewayMain} is missing: run "npm run build" first`);
  if (!existsSync(k6)) throw new Error(`${k6} is missing: run "npm run setup" first`);
  mkdirSync(reports, { recursive: true });
  const redis = await startRedis();
  const children: ChildProcess[] = [];
  try {
    const barePort = await freePort();
    const bareProcess = startProcess(["services/gateway/bench/bare-server.mjs"], { PORT: String(barePort) });
    children.push(bareProcess);
    const bare = `http://127.0.0.1:${barePort}`;
    const gateways: Record<string, { url: string; pid: number }> = {};
    for (const logLevel of ["info", "warn"]) {
      const port = await freePort();
      const gateway = startProcess([gatewayMain], {
        PORT: String(port),
        HOST: "127.0.0.1",
        LOG_LEVEL: logLevel,
        REDIS_URL: redis.url,
        CATALOG_URL: bare,
        ORDERS_URL: bare,
        RATE_LIMIT_PER_SECOND: "1000000",
        SHUTDOWN_DELAY_MS: "0",
      });
      children.push(gateway);
      gateways[logLevel] = { url: `http://127.0.0.1:${port}`, pid: gateway.pid! };
    }
    const info = gateways.info!;
    const warn = gateways.warn!;
    await Promise.all([bare, info.url, warn.url].map((u) => waitFor(`${u}/livez`)));

    // [name, URL, the process whose CPU is charged]; the proxy row charges the gateway only, not its upstream.
    const targets: [string, string, number][] = [
      ["bare-express", `${bare}/livez`, bareProcess.pid!],
      ["gateway-livez-info", `${info.url}/livez`, info.pid],
      ["gateway-livez-warn", `${warn.url}/livez`, warn.pid],
      ["gateway-proxy-info", `${info.url}/api/catalog/products`, info.pid],
    ];
    const all: Result[] = [];
    // Interleaved rounds, so drift in machine load hits every target alike; the median per target is reported.
    for (let round = 0; round < rounds; round++)
      for (const [name, url, pid] of targets) all.push(await runK6(name, url, pid));

    const summary = targets.map(([name]) => {
      const runs = all.filter((r) => r.name === name);
      return {
        name,
        rps: median(runs.map((r) => r.rps)),
        p95: median(runs.map((r) => r.p95)),
        cpuUs: median(runs.map((r) => r.cpuUs)),
        failed: Math.max(...runs.map((r) => r.failed)),
      };
    });
    const base = summary[0]!;
    const rows = summary.map((s) => ({
      ...s,
      rpsRatio: s.rps / base.rps,
      p95Ratio: s.p95 / base.p95,
      cpuRatio: s.cpuUs / base.cpuUs,
    }));
    writeFileSync(
      join(reports, "gateway-bench.json"),
      JSON.stringify({ rounds, at: new Date().toISOString(), rows }, null, 2),
    );
    process.stdout.write("target                 req/s  ratio   p95 ms  ratio  CPU us/req  ratio  failed\n");
    for (const r of rows)
      process.stdout.write(
        [
          r.name.padEnd(20),
          r.rps.toFixed(0).padStart(7),
          r.rpsRatio.toFixed(2).padStart(6),
          r.p95.toFixed(1).padStart(8),
          r.p95Ratio.toFixed(2).padStart(6),
          r.cpuUs.toFixed(0).padStart(11),
          r.cpuRatio.toFixed(2).padStart(6),
          `${(r.failed * 100).toFixed(2)}%`.padStart(7),
        ].join(" ") + "\n",
      );
  } finally {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await redis.stop();
  }
}

await main();
