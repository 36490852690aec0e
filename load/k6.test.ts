import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBlueprint } from "../infra/config/stack-file.js";
import { exportTargets } from "./lib/export-targets.js";
import { runBreakpoint } from "../scripts/pipeline/breakpoint.js";
import { K6_BIN, runGate } from "../scripts/pipeline/k6.js";

// Stub origin (test double for the edge, serving the gateway's routes): these tests check k6's wiring —
// thresholds, exit codes, summary files. The e2e suite runs the same scripts against the real local environment.
function stubOrigin(
  errorRate: number,
  products = [{ sku: "stub-1", stock: 5 }],
): Promise<{ server: Server; url: string; posts: () => number }> {
  let n = 0;
  let posts = 0;
  const server = createServer((req, res) => {
    if (req.method === "POST") posts++;
    const served = req.url !== "/readyz";
    const fail = served && errorRate > 0 && ++n % Math.round(1 / errorRate) === 0;
    res.setHeader("content-type", "application/json");
    res.setHeader("x-color", "green");
    res.setHeader("x-service-version", "1.1.0");
    if (fail) return void res.writeHead(500).end('{"error":"injected"}');
    if (req.method === "POST") return void res.writeHead(201).end('{"id":"o-1","status":"PENDING"}');
    if (req.url?.startsWith("/api/orders/orders/")) return void res.end('{"id":"o-1","status":"CONFIRMED"}');
    if (req.url === "/api/catalog/products") return void res.end(JSON.stringify({ items: products }));
    res.end('{"sku":"stub-1","stock":5}');
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${addr.port}`, posts: () => posts });
    }),
  );
}

const dir = mkdtempSync(join(tmpdir(), "k6-test-"));
const targets = { ...exportTargets("local"), requestsPerSecond: 20, smokeSeconds: 3 };
type Origin = Awaited<ReturnType<typeof stubOrigin>>;
let healthy: Origin;
let broken: Origin;
let empty: Origin;

beforeAll(async () => {
  healthy = await stubOrigin(0);
  broken = await stubOrigin(0.3);
  empty = await stubOrigin(0, []);
});
afterAll(() => {
  healthy.server.close();
  broken.server.close();
  empty.server.close();
});

describe("k6 gates", () => {
  it("when targets are exported, then they are the model's capacity figures", () => {
    const file = join(dir, "local.json");
    exportTargets("local", file);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      stack: "local",
      environment: "local",
      ...loadBlueprint("local").capacity,
    });
  });

  it("when the capacity script is inspected, then its thresholds come from the targets, with a request-rate floor", () => {
    const out = execFileSync(
      K6_BIN,
      [
        "inspect",
        "-e",
        `TARGETS=${JSON.stringify({ ...targets, requestsPerSecond: 100 })}`,
        "02-capacity.ts",
      ],
      {
        cwd: import.meta.dirname,
        encoding: "utf8",
      },
    );
    const options = JSON.parse(out);
    expect(options.thresholds).toMatchObject({
      "http_req_failed{scenario:capacity}": [
        "rate<=0.01",
        { threshold: "rate<=0.05", abortOnFail: true, delayAbortEval: "5s" },
      ],
      "http_req_duration{scenario:capacity}": ["p(95)<300", "p(99)<800"],
      "checks{scenario:capacity}": [
        "rate>=0.99",
        { threshold: "rate>=0.95", abortOnFail: true, delayAbortEval: "5s" },
      ],
      dropped_iterations: ["count<=100"],
      "http_reqs{scenario:capacity}": ["rate>=80"],
    });
    expect(options.thresholds["http_req_duration{scenario:capacity,name:POST /orders}"]).toEqual(["max>=0"]);
    expect(options.scenarios.capacity).toMatchObject({
      executor: "constant-arrival-rate",
      rate: 100,
      duration: "20s",
    });
  });

  it("when RESOLVE maps a hostname to an IP, then the scripts carry it as k6's hosts option", () => {
    const inspect = (resolve: string) =>
      execFileSync(
        K6_BIN,
        ["inspect", "-e", `TARGETS=${JSON.stringify(targets)}`, "-e", `RESOLVE=${resolve}`, "01-smoke.ts"],
        { cwd: import.meta.dirname, encoding: "utf8", stdio: "pipe" },
      );
    expect(JSON.parse(inspect('{"app.example.com":"203.0.113.7"}')).hosts).toEqual({
      "app.example.com": "203.0.113.7",
    });
    // k6 dials the local machine for a hostname value: the scripts refuse it rather than test the wrong host.
    expect(() => inspect('{"app.example.com":"lb-1.elb.amazonaws.com"}')).toThrow(
      /RESOLVE.app.example.com must be an IP address or IP:port \(got \\"lb-1.elb.amazonaws.com\\"\)/,
    );
  });

  it("when the targets are missing, then k6 stops with the variable to set", () => {
    const run = () =>
      execFileSync(K6_BIN, ["inspect", "01-smoke.ts"], {
        cwd: import.meta.dirname,
        encoding: "utf8",
        stdio: "pipe",
      });
    expect(run).toThrow(/set TARGETS_FILE/);
  });

  it("when the model says an environment's gates must not write (prod), then the capacity mix sends no order, and otherwise it does", async () => {
    expect(loadBlueprint("prod").capacity.writes).toBe("none");
    const run = async (writes: "orders" | "none") => {
      const origin = await stubOrigin(0);
      try {
        const gate = await runGate("capacity", "preview", {
          script: "02-capacity.ts",
          name: `capacity-writes-${writes}`,
          reportDir: dir,
          baseUrl: origin.url,
          targets: { ...targets, requestsPerSecond: 20, durationSeconds: 5, writes },
        });
        return { ok: gate.ok, posts: origin.posts() };
      } finally {
        origin.server.close();
      }
    };
    expect(await run("none")).toEqual({ ok: true, posts: 0 });
    const writing = await run("orders");
    expect(writing.ok).toBe(true);
    expect(writing.posts).toBeGreaterThan(3);
  }, 60_000);

  it("when the origin answers as expected, then the smoke gate passes and writes JSON, markdown and the HTML dashboard", async () => {
    const gate = await runGate("smoke", "live", {
      script: "01-smoke.ts",
      name: "smoke-ok",
      reportDir: dir,
      baseUrl: healthy.url,
      host: "app.blueprint.test",
      targets,
      env: { EXPECT_COLOR: "green", EXPECT_VERSION: "1.1.0" },
    });
    expect(gate).toMatchObject({ ok: true, exitCode: 0, errorRate: 0, checksRate: 1, failedThresholds: [] });
    // 3 s at 2 req/s: setup()'s readiness probe, product list and orders are not counted.
    expect(gate.requests).toBeGreaterThanOrEqual(5);
    expect(gate.requests).toBeLessThanOrEqual(8);
    expect(readFileSync(gate.files.markdown!, "utf8")).toMatch(
      /\| `checks\{scenario:smoke\}: rate>=0.99` \| pass \|/,
    );
    expect(existsSync(gate.files.dashboard!)).toBe(true);
  });

  it("when responses come from another version, then the checks threshold fails the gate", async () => {
    const gate = await runGate("smoke", "preview", {
      script: "01-smoke.ts",
      name: "smoke-wrong-version",
      reportDir: dir,
      baseUrl: healthy.url,
      targets,
      env: { EXPECT_VERSION: "9.9.9" },
    });
    expect(gate.ok).toBe(false);
    expect(gate.exitCode).toBe(99);
    expect(gate.failedThresholds).toContain("checks{scenario:smoke}: rate>=0.99");
  });

  it("when 30% of requests fail, then the gate fails with k6 exit code 99 and the error rate", async () => {
    const gate = await runGate("smoke", "preview", {
      script: "01-smoke.ts",
      name: "smoke-broken",
      reportDir: dir,
      baseUrl: broken.url,
      targets,
    });
    expect(gate.exitCode).toBe(99);
    expect(gate.ok).toBe(false);
    expect(gate.failedThresholds).toContain("http_req_failed{scenario:smoke}: rate<=0.01");
    expect(gate.errorRate).toBeGreaterThan(0.1);
  });

  it("when the target does not answer, then setup fails fast naming the target", async () => {
    const gate = await runGate("smoke", "live", {
      script: "01-smoke.ts",
      name: "smoke-down",
      reportDir: dir,
      baseUrl: "http://127.0.0.1:9",
      targets,
    });
    expect(gate.ok).toBe(false);
    expect(gate.exitCode).not.toBe(0);
    expect(gate.failedThresholds.join()).toMatch(/not ready/);
  });

  it("when the catalog has no products, then setup fails fast saying it must be seeded", async () => {
    const gate = await runGate("smoke", "live", {
      script: "01-smoke.ts",
      name: "smoke-empty",
      reportDir: dir,
      baseUrl: empty.url,
      targets,
    });
    expect(gate.ok).toBe(false);
    expect(gate.exitCode).not.toBe(99);
    expect(gate.requests).toBe(0);
    expect(gate.failedThresholds.join()).toContain(
      `the catalog at ${empty.url} (Host -) has no products in stock: seed it first`,
    );
  });

  it("when the origin slows down above a rate, then the breakpoint run finds the knee there and stops k6 early", async () => {
    // A stub with a capacity: above 60 requests in the last second every answer takes 1.2 s.
    const ends: number[] = [];
    const server = createServer((req, res) => {
      const now = Date.now();
      ends.push(now);
      while (ends[0]! < now - 1000) ends.shift();
      const send = () => {
        res.setHeader("content-type", "application/json");
        if (req.method === "POST") return void res.writeHead(201).end('{"id":"o-1","status":"PENDING"}');
        if (req.url?.startsWith("/api/orders/orders/"))
          return void res.end('{"id":"o-1","status":"PENDING"}');
        if (req.url === "/api/catalog/products")
          return void res.end('{"items":[{"sku":"stub-1","stock":5}]}');
        res.end('{"sku":"stub-1","stock":5}');
      };
      if (req.url !== "/readyz" && ends.length > 60) setTimeout(send, 1200);
      else send();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const started = Date.now();
    try {
      const result = await runBreakpoint({
        name: "breakpoint-stub",
        reportDir: dir,
        baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
        targets: { ...targets, breakpoint: { ceilingRps: 300, seconds: 20, kneeFraction: 0.5 } },
      });
      expect(result.reason).toMatch(/^(p99 \d+ ms > 800 ms|p95 \d+ ms > 300 ms|\d+ iterations dropped)/);
      expect(result.kneeRps).toBeGreaterThan(35);
      expect(result.kneeRps).toBeLessThan(90);
      // The ramp reaches 60 req/s at about 4 s of 20: k6 is stopped long before the ceiling.
      expect(result.brokeAt).toBeLessThan(10);
      expect(Date.now() - started).toBeLessThan(18_000);
      expect(JSON.parse(readFileSync(result.files.seconds, "utf8"))).toEqual(result.seconds);
    } finally {
      server.close();
    }
  }, 60_000);

  it("when the k6 scripts are type-checked against the k6 types, then there are no errors", () => {
    expect(() =>
      execFileSync("npx", ["--no-install", "tsc", "-p", join(import.meta.dirname, "tsconfig.json")], {
        stdio: "pipe",
      }),
    ).not.toThrow();
  });
});
