import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { afterEach, describe, expect, test } from "vitest";
import { z } from "zod";
import type { RunningService } from "./app.js";
import { commonConfig, loadConfig } from "./config.js";
import { createServiceKit, type ServiceKit } from "./kit.js";
import { validateBody, validateQuery } from "./validate.js";

let running: RunningService | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function startSample(
  env: NodeJS.ProcessEnv = {},
  logger?: Logger,
): Promise<{ kit: ServiceKit; url: string }> {
  const config = loadConfig(commonConfig(0), {
    HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    SHUTDOWN_DELAY_MS: "0",
    ...env,
  });
  const kit = createServiceKit("sample", config, logger ? { logger } : {});
  const app = kit.createApp((app) => {
    app.post(
      "/echo",
      validateBody(z.strictObject({ name: z.string().max(10) })),
      (req, res) => void res.json(req.body),
    );
    app.get(
      "/search",
      validateQuery(z.strictObject({ q: z.string().optional() })),
      (_req, res) => void res.json(res.locals.query),
    );
    app.get("/items/:id", (req, res) => void res.json({ id: req.params.id }));
    app.get("/boom", () => {
      throw new Error("bug");
    });
  });
  running = await kit.listen(app);
  return { kit, url: running.url };
}

const post = (
  url: string,
  body: string,
  headers: Record<string, string> = { "content-type": "application/json" },
) => fetch(url, { method: "POST", body, headers });

describe("service kit HTTP behaviour", () => {
  test.each([
    { what: "malformed JSON", body: "{oops", status: 400, code: "MALFORMED_JSON" },
    { what: "an unknown field", body: '{"name":"a","admin":true}', status: 400, code: "VALIDATION_FAILED" },
    { what: "a wrong type", body: '{"name":5}', status: 400, code: "VALIDATION_FAILED" },
    { what: "an operator injection", body: '{"name":{"$gt":""}}', status: 400, code: "FORBIDDEN_KEY" },
    {
      what: "a body over 64 kb",
      body: JSON.stringify({ name: "x".repeat(70_000) }),
      status: 413,
      code: "BODY_TOO_LARGE",
    },
  ])("when the body has $what, then $status $code with a reason", async ({ body, status, code }) => {
    const { url } = await startSample();
    const res = await post(`${url}/echo`, body);
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(status);
    expect(json.error.code).toBe(code);
    expect(json.error.message.length).toBeGreaterThan(5);
  });

  test("when the body is not JSON, then 415", async () => {
    const { url } = await startSample();
    expect((await post(`${url}/echo`, "name=a", { "content-type": "text/plain" })).status).toBe(415);
  });

  test.each(["q[$gt]=", "$where=1", "q.x=1"])(
    "when the query is %s, then 400 FORBIDDEN_KEY",
    async (query) => {
      const { url } = await startSample();
      const res = await fetch(`${url}/search?${query}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("FORBIDDEN_KEY");
    },
  );

  test("when the route is unknown, then 404 JSON", async () => {
    const { url } = await startSample();
    const res = await fetch(`${url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { code: "ROUTE_NOT_FOUND", message: "no route for GET /nope" },
    });
  });

  test("when a handler throws unexpectedly, then 500 without internals", async () => {
    const { url } = await startSample();
    const res = await fetch(`${url}/boom`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
  });

  test("when x-request-id is sent, then it is echoed; otherwise one is generated; version and color are set", async () => {
    const { url } = await startSample({ COLOR: "green", SERVICE_VERSION: "1.2.3" });
    const given = await fetch(`${url}/livez`, { headers: { "x-request-id": "abc-123" } });
    const generated = await fetch(`${url}/livez`);
    expect(given.headers.get("x-request-id")).toBe("abc-123");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect([given.headers.get("x-color"), given.headers.get("x-service-version")]).toEqual([
      "green",
      "1.2.3",
    ]);
  });

  test("when requests hit a parameterised route, then metrics use the pattern, never the raw URL", async () => {
    const { url } = await startSample();
    await fetch(`${url}/items/a1`);
    await fetch(`${url}/items/b2`);
    await fetch(`${url}/x/y/z`);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/http_requests_total\{method="GET",route="\/items\/:id",status="200".*\} 2/);
    expect(text).toMatch(/http_requests_total\{method="GET",route="unmatched",status="404"/);
    expect(text).not.toContain("a1");
    expect(text).toContain("process_cpu_seconds_total");
  });

  test("when a critical check fails, then /readyz is 503 naming it; a non-critical failure keeps it ready", async () => {
    const { kit, url } = await startSample();
    kit.health.addCheck("optional", async () => Promise.reject(new Error("down")), { critical: false });
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    kit.health.addCheck("db", () => new Promise(() => undefined));
    const res = await fetch(`${url}/readyz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reason: string }).reason).toBe("db: db did not answer within 1000 ms");
    expect((await fetch(`${url}/livez`)).status).toBe(200);
  });

  test("when a check fails, then the scrape reports it 0 in readiness_check_up (run at the scrape), and 1 once it passes", async () => {
    const { kit, url } = await startSample();
    let down = true;
    kit.health.addCheck("kafka", async () => (down ? Promise.reject(new Error("down")) : undefined), {
      critical: false,
    });
    const scrape = async () => (await (await fetch(`${url}/metrics`)).text()).split("\n");
    const series = (lines: string[]) => lines.find((l) => l.startsWith('readiness_check_up{check="kafka"'));
    expect(series(await scrape())).toMatch(/critical="false".*\} 0$/);
    down = false;
    expect(series(await scrape())).toMatch(/\} 1$/);
  });

  test("when FAULT_ERROR_RATE is 1, then application routes answer 500 FAULT_INJECTED while the probes stay 200", async () => {
    const { url } = await startSample({ FAULT_ERROR_RATE: "1" });
    const res = await fetch(`${url}/items/a1`);
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("FAULT_INJECTED");
    expect((await fetch(`${url}/livez`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  test("when FAULT_DELAY_MS is 300, then application routes take at least that long and still succeed", async () => {
    const { url } = await startSample({ FAULT_DELAY_MS: "300" });
    const started = performance.now();
    const res = await fetch(`${url}/items/a1`);
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  test("when probes, a scrape and a route are requested, then only the route gets an access log line", async () => {
    const lines: { msg: string; url?: string; reqId?: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
        done();
      },
    });
    const { url } = await startSample({}, pino({ level: "info" }, sink));
    for (const path of ["/livez", "/readyz", "/metrics", "/items/a1"])
      await (await fetch(`${url}${path}`)).text();
    await new Promise((resolve) => setImmediate(resolve));
    const access = lines.filter((l) => l.msg === "request");
    expect(access.map((l) => l.url)).toEqual(["/items/a1"]);
    expect(access[0]!.reqId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
