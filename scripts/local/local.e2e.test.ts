import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDashboards, dashboardQueries, runnable } from "../../infra/components/dashboards.js";
import { ruleGroups } from "../../infra/components/monitoring.js";
import { REPO_ROOT } from "../../infra/config/stack-file.js";
import { COLORS } from "../../infra/model/index.js";
import { resolveA } from "./dns-server.js";
import { createLocalEnvironment, type LocalEnvironment } from "./environment.js";
import { call } from "./drills.js";
import { httpGet, pollUntil } from "./processes.js";
import { SAMPLE_PRODUCTS } from "./seed.js";
import { isAlive, stateFile } from "./state.js";

// The whole local environment on loopback, on its own ports and state dir so a running `npm run local` is untouched.
const PATH = "/api/catalog/products";

function ensureBuilt(): void {
  const missing = ["gateway", "catalog", "orders"].some(
    (s) => !existsSync(join(REPO_ROOT, "services", s, "dist", "main.js")),
  );
  if (missing) execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, stdio: "inherit" });
}

/** PIDs of processes whose command line or working directory lies in dir: what `down` must leave at zero. */
function processesIn(dir: string): number[] {
  const pids = new Set<number>();
  try {
    for (const pid of execFileSync("pgrep", ["-f", dir], { encoding: "utf8" }).split(/\s+/).filter(Boolean))
      pids.add(Number(pid));
  } catch {
    // pgrep exits 1 when nothing matches.
  }
  for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      if (readlinkSync(`/proc/${entry}/cwd`).startsWith(dir)) pids.add(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  pids.delete(process.pid);
  return [...pids];
}

interface Outcome {
  status: number;
  color?: string;
  error?: string;
}

function getOnce(agent: Agent, url: string, host: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(`${url}${PATH}`, { agent, headers: { host }, timeout: 5_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, color: String(res.headers["x-color"]) }));
      res.on("error", (e) => resolve({ status: 0, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ status: 0, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

/**
 * Keep-alive clients sending GETs until stopped: raw failures, and failures left after one retry (GET is
 * idempotent). Like a browser, the retry goes out on a new connection: another pooled socket may be one the same
 * reload is closing.
 */
async function constantLoad(url: string, host: string, done: { stop: boolean }, clients = 4) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const fresh = new Agent({ keepAlive: false });
  const counts = {
    requests: 0,
    rawFailures: 0,
    resets: 0,
    failedAfterRetry: 0,
    colors: new Map<string, number>(),
  };
  const deadline = Date.now() + 30_000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (!done.stop && Date.now() < deadline) {
        counts.requests++;
        let outcome = await getOnce(agent, url, host);
        if (outcome.status !== 200) {
          counts.rawFailures++;
          if (outcome.error === "ECONNRESET" || outcome.error === "EPIPE") counts.resets++;
          outcome = await getOnce(fresh, url, host);
          if (outcome.status !== 200) counts.failedAfterRetry++;
        }
        if (outcome.color) counts.colors.set(outcome.color, (counts.colors.get(outcome.color) ?? 0) + 1);
        await sleep(25);
      }
    }),
  );
  agent.destroy();
  fresh.destroy();
  return counts;
}

describe("local environment (real processes on loopback)", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "blueprint-local-e2e-"));
  let env: LocalEnvironment;
  let recordedPids: number[] = [];
  let upSeconds = 0;

  beforeAll(async () => {
    ensureBuilt();
    env = createLocalEnvironment({ stateDir, basePort: 28000 });
    const started = performance.now();
    await env.up((line) => console.log(line));
    upSeconds = (performance.now() - started) / 1000;
    console.log(`up took ${upSeconds.toFixed(1)} s`);
    recordedPids = (await env.status()).map((p) => p.pid);
  });

  afterAll(async () => {
    await env?.down();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("when up, then every recorded process is alive and state.json lists them", async () => {
    const status = await env.status();
    expect(status.filter((p) => !p.alive)).toEqual([]);
    expect(status.map((p) => p.role).sort()).toEqual(
      [
        ...Array(6).fill("service"),
        "dns",
        "prometheus",
        "alertmanager",
        "tracing",
        ...["edge", "kafka", "mongo", "postgres", "redis"].flatMap((role) => [role, role]),
        "mirrormaker",
      ].sort(),
    );
    expect(existsSync(stateFile(stateDir))).toBe(true);
  });

  it("when up, then each region's catalog holds the sample products and the gateway lists them", async () => {
    const catalogs = (await env.status()).filter((p) => p.name.startsWith("catalog-blue-"));
    expect(catalogs).toHaveLength(env.endpoints.length);
    for (const c of catalogs) {
      const skus = (
        JSON.parse((await httpGet(`${c.url}/products`, { timeoutMs: 5_000 })).body) as {
          items: { sku: string; stock: number }[];
        }
      ).items.map((p) => p.sku);
      expect(skus, c.name).toEqual(expect.arrayContaining(SAMPLE_PRODUCTS.map((p) => p.sku)));
    }
    for (const e of env.endpoints) {
      const listed = await httpGet(`${e.edge}${PATH}`, { host: e.publicHost, timeoutMs: 5_000 });
      const items = (JSON.parse(listed.body) as { items: { sku: string }[] }).items;
      expect(
        items.map((p) => p.sku),
        e.region,
      ).toEqual(expect.arrayContaining(SAMPLE_PRODUCTS.map((p) => p.sku)));
    }
  });

  it("when up, then Prometheus scrapes every running service, has the stack's rule groups and the services' series", async () => {
    const prometheus = (await env.status()).find((p) => p.role === "prometheus")!;
    const query = async (q: string) =>
      (
        JSON.parse(
          (
            await httpGet(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(q)}`, {
              timeoutMs: 5_000,
            })
          ).body,
        ) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }
      ).data.result;
    const running = (await env.status()).filter((p) => p.role === "service").map((p) => new URL(p.url).host);
    // Every target scraped once: the running ones up, every other color's ports (idle until deployed) down. The
    // first round over all targets took over 10 s here on a busy machine.
    let up: Record<string, string> = {};
    await pollUntil(
      "every target scraped",
      async () => {
        up = Object.fromEntries((await query("up")).map((r) => [r.metric.instance!, r.value[1]]));
        const scraped = Object.keys(up).length;
        return (
          (running.every((t) => up[t] === "1") && scraped === COLORS.length * running.length) ||
          `${scraped} of ${COLORS.length * running.length} targets scraped`
        );
      },
      20_000,
      500,
    );
    expect(running.filter((t) => up[t] !== "1")).toEqual([]);
    expect(Object.values(up).filter((v) => v === "0").length).toBe((COLORS.length - 1) * running.length);
    const groups = (
      JSON.parse((await httpGet(`${prometheus.url}/api/v1/rules`, { timeoutMs: 5_000 })).body) as {
        data: { groups: { name: string; rules: { health: string }[] }[] };
      }
    ).data.groups;
    // The same groups the clusters' PrometheusRule carries, one per service among them.
    expect(groups.map((g) => g.name).sort()).toEqual(
      ruleGroups(env.blueprint)
        .map((g) => g.name)
        .sort(),
    );
    expect(groups.map((g) => g.name)).toContain("slo-orders");
    // `up` carries the labels ServiceDown reads, and Prometheus sends its alerts to the environment's Alertmanager.
    expect((await query('up{service="orders",region="region-a",color="blue"}')).length).toBe(1);
    expect(await query('{exported_service!=""}')).toEqual([]);
    const alertmanager = (await env.status()).find((p) => p.role === "alertmanager")!;
    const sendsTo = (
      JSON.parse((await httpGet(`${prometheus.url}/api/v1/alertmanagers`, { timeoutMs: 5_000 })).body) as {
        data: { activeAlertmanagers: { url: string }[] };
      }
    ).data.activeAlertmanagers.map((a) => a.url);
    expect(sendsTo).toEqual([`${alertmanager.url}/api/v2/alerts`]);
    // The previous test listed the products of every catalog: its requests are in the next scrape.
    let services: string[] = [];
    await pollUntil(
      "catalog's /products series",
      async () => {
        services = (await query('sum by (service) (http_requests_total{route="/products"})')).map(
          (r) => r.metric.service!,
        );
        return services.includes("catalog");
      },
      20_000,
      500,
    );
    expect(services).toContain("catalog");
  });

  it("when an order is placed through the edge, then Jaeger holds one trace from the gateway through the saga to its confirmation", async () => {
    const jaeger = (await env.status()).find((p) => p.role === "tracing")!;
    const edge = env.endpoints[0]!;
    const agent = new Agent({ keepAlive: false });
    const placed = await call(
      agent,
      `${edge.edge}/api/orders/orders`,
      edge.publicHost,
      "POST",
      { customerId: "trace-e2e", items: [{ sku: SAMPLE_PRODUCTS[0]!.sku, quantity: 1 }] },
      { "idempotency-key": `trace-e2e-${Date.now()}` },
    );
    expect(placed.status, placed.body).toBe(201);
    const orderId = (JSON.parse(placed.body) as { id: string }).id;
    // The edge's request id: the gateway records it on its server span, which is how the trace is found.
    const requestId = String(placed.headers["x-request-id"]);
    await pollUntil(
      `order ${orderId} confirmed`,
      async () => {
        const read = await call(agent, `${edge.edge}/api/orders/orders/${orderId}`, edge.publicHost);
        return (JSON.parse(read.body || "{}") as { status?: string }).status === "CONFIRMED" || read.body;
      },
      20_000,
      200,
    );
    interface JaegerSpan {
      traceID: string;
      spanID: string;
      operationName: string;
      processID: string;
      references: { traceID: string; spanID: string }[];
    }
    interface JaegerTrace {
      traceID: string;
      spans: JaegerSpan[];
      processes: Record<string, { serviceName: string }>;
    }
    const tags = JSON.stringify({ "http.request.header.x-request-id": JSON.stringify([requestId]) });
    const hop = (t: JaegerTrace, s: JaegerSpan) =>
      `${t.processes[s.processID]!.serviceName} ${s.operationName}`;
    // Every hop of one order (services flush spans each second): request, write, outbox publish, the saga's
    // message to catalog, catalog's reply, and the confirming update.
    const hops = [
      "gateway POST /api/orders{/*rest}",
      "orders POST /orders",
      "orders insert orders",
      "orders publish orders.events",
      "catalog process orders.events",
      "catalog update products",
      "catalog publish catalog.events",
      "orders process catalog.events",
      "orders update orders",
    ];
    let found: JaegerTrace[] = [];
    await pollUntil(
      `the trace of request ${requestId} with every hop`,
      async () => {
        const answer = await httpGet(
          `${jaeger.url}/api/traces?service=gateway&tags=${encodeURIComponent(tags)}`,
          { timeoutMs: 5_000 },
        );
        found = (JSON.parse(answer.body || "{}") as { data?: JaegerTrace[] }).data ?? [];
        const seen = new Set(found.flatMap((t) => t.spans.map((s) => hop(t, s))));
        return hops.every((h) => seen.has(h)) || `missing: ${hops.filter((h) => !seen.has(h)).join(", ")}`;
      },
      20_000,
      500,
    );
    expect(found).toHaveLength(1);
    const [trace] = found;
    expect(new Set(trace!.spans.map((s) => s.traceID))).toEqual(new Set([trace!.traceID]));
    // The saga's messages continue the request's spans (a publish is the child of a span of this trace), not a poll.
    const byId = new Map(trace!.spans.map((s) => [s.spanID, s]));
    for (const consumed of trace!.spans.filter((s) => s.operationName.startsWith("process "))) {
      const parent = byId.get(consumed.references[0]!.spanID);
      expect(parent && hop(trace!, parent), hop(trace!, consumed)).toMatch(/ publish /);
    }
    agent.destroy();
  });

  it("when the dashboards' queries run on the local Prometheus, then every one is accepted, and the traffic panels have series", async () => {
    const prometheus = (await env.status()).find((p) => p.role === "prometheus")!;
    const run = async () => {
      const failures: string[] = [];
      const empty: string[] = [];
      for (const d of buildDashboards(env.blueprint))
        for (const q of dashboardQueries(d)) {
          const res = await httpGet(
            `${prometheus.url}/api/v1/query?query=${encodeURIComponent(runnable(q.expr, "1h"))}`,
            { timeoutMs: 5_000 },
          );
          const body = JSON.parse(res.body) as {
            status: string;
            error?: string;
            data?: { result: unknown[] };
          };
          if (body.status !== "success") failures.push(`${d.title} / ${q.panel}: ${body.error}`);
          else if (body.data!.result.length === 0) empty.push(`${d.title} / ${q.panel} / ${q.legend}`);
        }
      return { failures, empty };
    };
    // The trace test's order went through every service; a rate needs their series in two scrapes.
    const required = ["Requests by route and color", "Readiness checks", "Memory"];
    let last: Awaited<ReturnType<typeof run>> = { failures: [], empty: [] };
    await pollUntil(
      "every required panel with series",
      async () => {
        last = await run();
        const missing = last.empty.filter((e) => required.some((t) => e.includes(`/ ${t} /`)));
        return missing.length === 0 || missing.join("; ");
      },
      20_000,
      1_000,
    );
    expect(last.failures).toEqual([]);
  });

  it("when up, then every service gets ACTIVE_COLOR_FILE and the file names the active color", async () => {
    const file = join(stateDir, "active-color");
    expect(readFileSync(file, "utf8").trim()).toBe("blue");
    for (const p of (await env.status()).filter((r) => r.role === "service")) {
      const environ = readFileSync(`/proc/${p.pid}/environ`, "utf8").split("\0");
      expect(environ, p.name).toContain(`ACTIVE_COLOR_FILE=${file}`);
    }
  });

  it("each region's edge answers the public host with the active color", async () => {
    for (const e of env.endpoints) {
      const answer = await httpGet(`${e.edge}${PATH}`, { host: e.publicHost, timeoutMs: 5_000 });
      expect({ region: e.region, status: answer.status, color: answer.headers["x-color"] }).toEqual({
        region: e.region,
        status: 200,
        color: "blue",
      });
      expect(answer.headers["x-edge-region"]).toBe(e.region);
    }
  });

  it("when green is deployed, then the preview host reaches green while the public host stays blue", async () => {
    await env.deployColor("green", "2.0.0");
    await env.waitReady("green");
    await env.applyRouting({ activeColor: "blue", versions: { blue: "1.0.0", green: "2.0.0" } });
    for (const e of env.endpoints) {
      const preview = await httpGet(`${e.edge}${PATH}`, { host: e.previewHost, timeoutMs: 5_000 });
      const live = await httpGet(`${e.edge}${PATH}`, { host: e.publicHost, timeoutMs: 5_000 });
      expect([preview.status, preview.headers["x-color"], preview.headers["x-service-version"]]).toEqual([
        200,
        "green",
        "2.0.0",
      ]);
      expect([live.status, live.headers["x-color"]]).toEqual([200, "blue"]);
    }
  });

  it("when routing switches colors three times under constant keep-alive load, then no request fails after one retry", async () => {
    const [primary] = env.endpoints;
    const versions = { blue: "1.0.0", green: "2.0.0" };
    const done = { stop: false };
    const load = constantLoad(primary!.edge, primary!.publicHost, done);
    await sleep(1_000);
    for (const activeColor of ["green", "blue", "green"] as const) {
      await env.applyRouting({ activeColor, versions });
      await sleep(700);
    }
    done.stop = true;
    const counts = await load;
    console.log(
      `3 switches under load: ${counts.requests} requests, ${counts.rawFailures} raw failures (${counts.resets} connection resets), ` +
        `${counts.failedAfterRetry} failed after one retry, colors ${JSON.stringify(Object.fromEntries(counts.colors))}`,
    );
    expect(counts.requests).toBeGreaterThan(50);
    expect(counts.failedAfterRetry).toBe(0);
    expect(counts.colors.get("green") ?? 0).toBeGreaterThan(0);
    for (const e of env.endpoints) {
      const live = await httpGet(`${e.edge}${PATH}`, { host: e.publicHost, timeoutMs: 5_000 });
      expect([live.status, live.headers["x-color"]]).toEqual([200, "green"]);
    }
  });

  it("when another process attaches to the state dir, then it sees every process and reloads the edges by PID", async () => {
    const attached = createLocalEnvironment({ stateDir });
    expect((await attached.status()).map((p) => p.pid).sort()).toEqual(
      (await env.status()).map((p) => p.pid).sort(),
    );
    await attached.applyRouting({
      activeColor: "green",
      versions: { blue: "1.0.0", green: "2.0.0" },
      weights: { blue: 100, green: 0 },
    });
    const [primary] = attached.endpoints;
    const live = await httpGet(`${primary!.edge}${PATH}`, { host: primary!.publicHost, timeoutMs: 5_000 });
    expect([live.status, live.headers["x-color"]]).toEqual([200, "blue"]);
    await env.applyRouting({ activeColor: "green", versions: { blue: "1.0.0", green: "2.0.0" } });
    expect(readFileSync(join(stateDir, "active-color"), "utf8").trim()).toBe("green");
  });

  it("when region-a's edge stops, then DNS answers region-b within three health-check intervals, and region-a again once it is back", async () => {
    const [a, b] = env.blueprint.regions.map((r) => r.loopbackAddress);
    const intervalMs = env.blueprint.dns.healthCheck.intervalSeconds * 1000;
    expect(await resolveA(env.dns.name, env.dns.port)).toEqual([a]);
    const stopped = performance.now();
    await env.stopEdge("region-a");
    let flipMs = -1;
    while (performance.now() - stopped < 10 * intervalMs) {
      if ((await resolveA(env.dns.name, env.dns.port)).includes(b!)) {
        flipMs = performance.now() - stopped;
        break;
      }
      await sleep(50);
    }
    console.log(
      `DNS flip to region-b after region-a's edge stopped: ${flipMs.toFixed(0)} ms (interval ${intervalMs} ms)`,
    );
    expect(flipMs).toBeGreaterThanOrEqual(0);
    expect(flipMs).toBeLessThanOrEqual(3 * intervalMs);
    await env.startEdge("region-a");
    const back = performance.now();
    while (
      performance.now() - back < 10 * intervalMs &&
      !(await resolveA(env.dns.name, env.dns.port)).includes(a!)
    )
      await sleep(50);
    expect(await resolveA(env.dns.name, env.dns.port)).toEqual([a]);
  });

  it("when down, then no process of the environment remains and a second down is a no-op", async () => {
    await env.stopColor("blue");
    const all = [...new Set([...recordedPids, ...(await env.status()).map((p) => p.pid)])];
    const started = performance.now();
    await env.down();
    console.log(`down took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    expect(all.filter(isAlive)).toEqual([]);
    expect(processesIn(stateDir)).toEqual([]);
    expect(existsSync(stateFile(stateDir))).toBe(false);
    await expect(env.down()).resolves.toBeUndefined();
  });
});

describe("local environment start-up failure", () => {
  it("when a port is already taken, then up fails naming it and stops everything it had started", async () => {
    ensureBuilt();
    const stateDir = mkdtempSync(join(tmpdir(), "blueprint-local-fail-"));
    const env = createLocalEnvironment({ stateDir, basePort: 29000 });
    const regionB = env.blueprint.regions[1]!.loopbackAddress;
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(29079, regionB, resolve));
    try {
      await expect(env.up()).rejects.toThrow(`redis: ${regionB}:29079 is already in use`);
      expect(processesIn(stateDir)).toEqual([]);
      expect(await env.status()).toEqual([]);
    } finally {
      blocker.close();
      await env.down();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
