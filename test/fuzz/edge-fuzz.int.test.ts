import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startFuzzEdge, type FuzzEdge } from "./edge.js";
import { exchange, judge, runMalformedHttp, type RawTarget } from "./malformed-http.js";
import { answersWithStatus, runSchemathesisSuite } from "./schemathesis.js";
import { startFuzzStack, type FuzzStack } from "./stack.js";

// The same fuzzers through the local edge: the real nginx with the config `npm run local` renders
// (scripts/local/nginx-config.ts, Pulumi.local.yaml) in front of the fuzz stack's gateway. Never a 5xx, every 4xx
// with {error: {code, message}} (nginx's own too), every connection closed within the edge's timeouts.
let stack: FuzzStack;
let edge: FuzzEdge;
let target: RawTarget;
beforeAll(async () => {
  stack = await startFuzzStack();
  edge = await startFuzzEdge(stack.gateway.url);
  target = { ...edge.timeouts, host: edge.host, closesSilentlyOnTimeout: true };
}, 120_000);
afterAll(async () => {
  await edge?.stop();
  await stack?.stop();
});

const send = (kind: string, bytes: string, deadlineMs = 5000) =>
  exchange(edge.url, kind, [{ delayMs: 0, bytes }], deadlineMs);
const head = () => `Host: ${edge.host}\r\nConnection: close\r\n`;
const errorOf = (body: string) => (JSON.parse(body) as { error: { code: string; message: string } }).error;

describe("fuzzing the public API through the local edge", () => {
  test("every generated case through nginx, the create → read link included, gets a documented answer and no 5xx", async () => {
    const reportDir = join(tmpdir(), `fuzz-edge-${process.pid}-${Date.now()}`);
    const result = await runSchemathesisSuite({
      baseUrl: edge.url,
      schemaUrl: `${stack.gateway.url}/openapi.json`,
      headers: { Host: edge.host },
      maxExamples: Number(process.env.FUZZ_EXAMPLES ?? 25),
      seed: Number(process.env.FUZZ_SEED ?? 20261202),
      reportDir,
      deadlineMs: 80_000,
      maxResponseSeconds: 4,
    });
    console.info(
      `schemathesis via edge: ${result.cases} cases in ${result.seconds.toFixed(1)} s, ${result.failures} failures`,
    );
    expect(result.cases, result.summary).toBeGreaterThanOrEqual(150);
    expect(answersWithStatus(join(reportDir, "orders-stateful"), 201), result.summary).toBeGreaterThan(0);
    expect(answersWithStatus(join(reportDir, "orders-stateful"), 200), result.summary).toBeGreaterThan(0);
    expect({ exitCode: result.exitCode, failures: result.failures }, result.summary).toEqual({
      exitCode: 0,
      failures: 0,
    });
  }, 120_000);

  test("a bounded raw run through nginx finds no 5xx, no 4xx without a reason and no connection kept past the edge's timeouts", async () => {
    const report = await runMalformedHttp(edge.url, {
      ...target,
      rounds: Number(process.env.FUZZ_RAW_ROUNDS ?? 40),
      seed: Number(process.env.FUZZ_SEED ?? 20261202),
      // The edge keeps a slow client for its timeouts (nginx's 60 s): enough sockets that those run side by side.
      concurrency: 96,
      slowloris: 2,
    });
    console.info(`malformed HTTP via edge: ${JSON.stringify(report)}`);
    expect(report.findings).toEqual([]);
    expect(report.serverErrors).toBe(0);
    expect(report.cases).toBeGreaterThan(280);
    // Slowloris and short bodies: nginx closes them without an answer once its timeout passed (it never sends 408).
    expect(report.timedOutSilently).toBeGreaterThan(0);
    expect((await fetch(`${stack.gateway.url}/livez`)).status).toBe(200);
  }, 120_000);
});

describe("nginx's own answers at the edge name the reason", () => {
  test.each([
    {
      what: "bytes that are not HTTP",
      bytes: () => "\x16\x03\x01\x00 hello\r\n\r\n",
      status: 400,
      code: "BAD_REQUEST",
    },
    {
      what: "no Host",
      bytes: () => "GET /api/catalog/products HTTP/1.1\r\nConnection: close\r\n\r\n",
      status: 400,
      code: "BAD_REQUEST",
    },
    {
      what: "a CONNECT",
      bytes: () => "CONNECT edge:443 HTTP/1.1\r\nHost: edge:443\r\n\r\n",
      status: 400,
      code: "BAD_REQUEST",
    },
    {
      what: "a header larger than nginx's buffers",
      bytes: () => `GET /api/catalog/products HTTP/1.1\r\n${head()}X-Big: ${"a".repeat(40_000)}\r\n\r\n`,
      status: 400,
      code: "HEADERS_TOO_LARGE",
    },
    {
      what: "a request target longer than nginx's buffers",
      bytes: () => `GET /api/catalog/products?${"a".repeat(70_000)} HTTP/1.1\r\n${head()}\r\n`,
      status: 414,
      code: "URI_TOO_LONG",
    },
    {
      what: "Content-Length sent twice",
      bytes: () =>
        `POST /api/orders/orders HTTP/1.1\r\n${head()}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      status: 400,
      code: "BAD_REQUEST",
    },
    {
      what: "an unknown Transfer-Encoding (nginx: 501)",
      bytes: () => `POST /api/orders/orders HTTP/1.1\r\n${head()}Transfer-Encoding: gzip\r\n\r\n`,
      status: 400,
      code: "TRANSFER_ENCODING_UNSUPPORTED",
    },
    {
      what: "HTTP/2.0 in the request line (nginx: 505)",
      bytes: () => `GET /api/catalog/products HTTP/2.0\r\n${head()}\r\n`,
      status: 400,
      code: "HTTP_VERSION_UNSUPPORTED",
    },
    {
      what: "a TRACE",
      bytes: () => `TRACE /api/catalog/products HTTP/1.1\r\n${head()}\r\n`,
      status: 405,
      code: "METHOD_NOT_ALLOWED",
    },
    {
      what: "a body over nginx's 1 MB limit",
      bytes: () =>
        `POST /api/orders/orders HTTP/1.1\r\n${head()}Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{}`,
      status: 413,
      code: "BODY_TOO_LARGE",
    },
    {
      what: "an unknown host",
      bytes: () => "GET /api/catalog/products HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
      status: 404,
      code: "UNKNOWN_HOST",
    },
    {
      what: "a path outside the edge's routes",
      bytes: () => `GET /metrics HTTP/1.1\r\n${head()}\r\n`,
      status: 404,
      code: "ROUTE_NOT_FOUND",
    },
  ])(
    "when a request has $what, then $status $code as JSON, not nginx's HTML page",
    async ({ bytes, status, code }) => {
      const outcome = await send(code, bytes(), 8000);
      expect(judge(outcome, 8000, target)).toBeUndefined();
      expect(outcome.status).toBe(status);
      expect(errorOf(outcome.body).code).toBe(code);
    },
  );

  test("when a TRACE arrives (refused by nginx itself), then 405 carries Allow, as RFC 9110 and schemathesis ST204 require", async () => {
    const { hostname, port } = new URL(edge.url);
    const res = await new Promise<{ status?: number; allow?: string }>((resolve, reject) => {
      const req = request(
        { hostname, port, method: "TRACE", path: "/api/catalog/products", headers: { host: edge.host } },
        (r) => {
          r.resume();
          resolve({ status: r.statusCode, allow: r.headers.allow });
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(res.status).toBe(405);
    expect(res.allow).toMatch(/GET.*POST/);
  });

  test("when the request line has no version (HTTP/0.9, so no Host), then nginx answers with the body alone: UNKNOWN_HOST as JSON", async () => {
    const outcome = await send("http09", "GET /api/orders/orders/not-a-uuid\r\n");
    expect(outcome.http09).toBe(true);
    expect(judge(outcome, 5000, target)).toBeUndefined();
    expect(errorOf(outcome.body).code).toBe("UNKNOWN_HOST");
  });

  test("when the preview host has no idle color, then 503 NO_IDLE_COLOR names it (a 5xx by design: nothing deployed)", async () => {
    const outcome = await send(
      "preview",
      `GET /api/catalog/products HTTP/1.1\r\nHost: preview.${edge.host}\r\nConnection: close\r\n\r\n`,
    );
    expect(outcome.status).toBe(503);
    expect(errorOf(outcome.body).message).toMatch(/no idle color/);
  });
});
