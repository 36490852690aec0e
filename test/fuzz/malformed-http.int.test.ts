import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { exchange, judge, runMalformedHttp } from "./malformed-http.js";
import { startFuzzStack, type FuzzStack } from "./stack.js";

// Malformed HTTP over raw sockets against the gateway (real services behind it): never a 5xx, every 4xx with
// {error: {code, message}}, every connection closed within the gateway's configured timeouts, the process up.
let stack: FuzzStack;
beforeAll(async () => {
  stack = await startFuzzStack();
});
afterAll(async () => {
  await stack?.stop();
});

const send = (kind: string, bytes: string, deadlineMs = 5000) =>
  exchange(stack.gateway.url, kind, [{ delayMs: 0, bytes }], deadlineMs);

describe("malformed HTTP against the gateway", () => {
  test("a bounded random run finds no 5xx, no silent 4xx and no connection kept past its deadline", async () => {
    const report = await runMalformedHttp(stack.gateway.url, {
      ...stack.gatewayTimeouts,
      rounds: Number(process.env.FUZZ_RAW_ROUNDS ?? 60),
      seed: Number(process.env.FUZZ_SEED ?? 20261202),
    });
    console.info(`malformed HTTP: ${JSON.stringify(report)}`);
    expect(report.findings).toEqual([]);
    expect(report.serverErrors).toBe(0);
    expect(report.cases).toBeGreaterThan(400);
    expect((await fetch(`${stack.gateway.url}/livez`)).status).toBe(200);
  }, 110_000);

  test("when the bytes are not HTTP, then 400 MALFORMED_HTTP names the parser's reason", async () => {
    const outcome = await send("garbage", "\x16\x03\x01\x00 hello\r\n\r\n");
    expect(judge(outcome, 5000)).toBeUndefined();
    expect(outcome.status).toBe(400);
    expect(JSON.parse(outcome.body)).toMatchObject({ error: { code: "MALFORMED_HTTP" } });
  });

  test("when an HTTP/1.1 request has no Host, then 400 HOST_REQUIRED (Node's own answer had no body)", async () => {
    const outcome = await send("no-host", "GET /api/catalog/products HTTP/1.1\r\nConnection: close\r\n\r\n");
    expect(outcome.status).toBe(400);
    expect(JSON.parse(outcome.body)).toMatchObject({ error: { code: "HOST_REQUIRED" } });
  });

  test("when a CONNECT arrives, then 405 with a reason instead of a silent close", async () => {
    const outcome = await send("connect", "CONNECT edge:443 HTTP/1.1\r\nHost: edge:443\r\n\r\n");
    expect(outcome.status).toBe(405);
    expect(JSON.parse(outcome.body)).toMatchObject({ error: { code: "METHOD_NOT_ALLOWED" } });
  });

  test("when a header is larger than Node's limit, then 431 HEADERS_TOO_LARGE", async () => {
    const outcome = await send(
      "huge",
      `GET /api/catalog/products HTTP/1.1\r\nHost: e\r\nX-Big: ${"a".repeat(40_000)}\r\n\r\n`,
    );
    expect(outcome.status).toBe(431);
    expect(JSON.parse(outcome.body)).toMatchObject({ error: { code: "HEADERS_TOO_LARGE" } });
  });

  test("when Content-Length is sent twice with different values, then 400 with a reason and the body is not read", async () => {
    const outcome = await send(
      "dup-cl",
      "POST /api/orders/orders HTTP/1.1\r\nHost: e\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    );
    expect(outcome.status).toBe(400);
    expect(JSON.parse(outcome.body).error.message).toMatch(/content-length/i);
  });

  test("when headers trickle in slowly (slowloris), then the gateway answers 408 and closes within its headers timeout", async () => {
    const { headersTimeoutMs } = stack.gatewayTimeouts;
    const trickle = Array.from({ length: 40 }, (_, i) => ({ delayMs: 200, bytes: `X-T-${i}: x\r\n` }));
    const outcome = await exchange(
      stack.gateway.url,
      "slowloris",
      [{ delayMs: 0, bytes: "GET /api/catalog/products HTTP/1.1\r\nHost: e\r\n" }, ...trickle],
      headersTimeoutMs * 3,
    );
    expect(outcome.hung).toBe(false);
    expect(outcome.status).toBe(408);
    expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(headersTimeoutMs - 50);
    expect(outcome.closedAfterMs).toBeLessThan(headersTimeoutMs * 1.5 + 250);
  });

  test("when a body never arrives in full, then the gateway closes the socket within its request timeout", async () => {
    const { requestTimeoutMs } = stack.gatewayTimeouts;
    const outcome = await send(
      "short-body",
      "POST /api/orders/orders HTTP/1.1\r\nHost: e\r\nContent-Type: application/json\r\nIdempotency-Key: short-body-1\r\nContent-Length: 100\r\n\r\n{",
      requestTimeoutMs * 3,
    );
    expect(outcome.hung).toBe(false);
    expect(outcome.status).toBeLessThan(500);
    expect(outcome.closedAfterMs).toBeLessThan(requestTimeoutMs * 1.5 + 250);
  });
});
