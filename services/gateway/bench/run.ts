// Per-request overhead of the service kit: k6 against a bare express 5 handler and the gateway in the same run.
// Usage: npm run build && node --import tsx services/gateway/bench/run.ts   (env: DURATION=10s VUS=32 ROUNDS=2)
import { spawn, type ChildProcess } from "node:child_process";
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

function runK6(name: string, target: string): Promise<Result> {
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
      resolve({
        name,
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
    children.push(startProcess(["services/gateway/bench/bare-server.mjs"], { PORT: String(barePort) }));
    const bare = `http://127.0.0.1:${barePort}`;
    const gateways: Record<string, string> = {};
    for (const logLevel of ["info", "warn"]) {
      const port = await freePort();
      children.push(
        startProcess([gatewayMain], {
          PORT: String(port),
          HOST: "127.0.0.1",
          LOG_LEVEL: logLevel,
          REDIS_URL: redis.url,
          CATALOG_URL: bare,
          ORDERS_URL: bare,
          RATE_LIMIT_PER_SECOND: "1000000",
          SHUTDOWN_DELAY_MS: "0",
        }),
      );
      gateways[logLevel] = `http://127.0.0.1:${port}`;
    }
    await Promise.all([bare, ...Object.values(gateways)].map((u) => waitFor(`${u}/livez`)));

    const targets: [string, string][] = [
      ["bare-express", `${bare}/livez`],
      ["gateway-livez-info", `${gateways.info}/livez`],
      ["gateway-livez-warn", `${gateways.warn}/livez`],
      ["gateway-proxy-info", `${gateways.info}/api/catalog/livez`],
    ];
    const all: Result[] = [];
    // Interleaved rounds, so drift in machine load hits every target alike; the median per target is reported.
    for (let round = 0; round < rounds; round++)
      for (const [name, url] of targets) all.push(await runK6(name, url));

    const summary = targets.map(([name]) => {
      const runs = all.filter((r) => r.name === name);
      return {
        name,
        rps: median(runs.map((r) => r.rps)),
        p95: median(runs.map((r) => r.p95)),
        failed: Math.max(...runs.map((r) => r.failed)),
      };
    });
    const base = summary[0]!;
    const rows = summary.map((s) => ({
      ...s,
      rpsRatio: s.rps / base.rps,
      p95Ratio: s.p95 / base.p95,
    }));
    writeFileSync(
      join(reports, "gateway-bench.json"),
      JSON.stringify({ rounds, at: new Date().toISOString(), rows }, null, 2),
    );
    process.stdout.write("target                 req/s     p95 ms  req/s ratio  p95 ratio  failed\n");
    for (const r of rows)
      process.stdout.write(
        `${r.name.padEnd(22)} ${r.rps.toFixed(0).padStart(7)} ${r.p95.toFixed(2).padStart(9)} ${r.rpsRatio.toFixed(2).padStart(11)} ${r.p95Ratio.toFixed(2).padStart(10)} ${(r.failed * 100).toFixed(2).padStart(6)}%\n`,
      );
  } finally {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await redis.stop();
  }
}

await main();
