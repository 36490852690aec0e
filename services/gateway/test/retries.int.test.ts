import type { RunningService } from "@blueprint/service-kit";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useRedis } from "../../../test/harness.js";
import { metricValue } from "../../lib/test/env.js";
import { gatewayEnv, startGateway, type ErrorBody } from "./gateway-env.js";
import {
  echo,
  reset,
  startStubUpstream,
  status,
  type StubBehaviour,
  type StubUpstream,
} from "./stub-upstream.js";

const redis = useRedis();
let catalog: StubUpstream;
let orders: StubUpstream;
let gateway: RunningService;

beforeAll(async () => {
  catalog = await startStubUpstream();
  orders = await startStubUpstream();
  gateway = await startGateway(
    gatewayEnv(
      redis().url,
      { catalog: catalog.url, orders: orders.url },
      {
        UPSTREAM_MAX_RETRIES: "2",
        RETRY_BUDGET_PERCENT: "10",
        // The breaker never opens here, so only the retry budget can hold retries back.
        CIRCUIT_ERROR_PERCENT: "100",
      },
    ),
  );
});
afterAll(async () => {
  await gateway?.stop();
  await Promise.all([catalog?.stop(), orders?.stop()]);
});

/** Fails the first `times` requests with `failure`, then echoes. */
function failFirst(times: number, failure: StubBehaviour): StubBehaviour {
  let left = times;
  return (req, res, seen) => (left-- > 0 ? failure(req, res, seen) : echo(req, res, seen));
}

const post = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ customerId: "c-1", items: [{ sku: "s-1", quantity: 1 }] }),
  });

describe("retries", () => {
  test("when a GET hits one connection reset, then the retry answers it and the upstream saw two requests", async () => {
    catalog.behave(failFirst(1, reset));
    const before = catalog.seen.length;
    const res = await fetch(`${gateway.url}/api/catalog/products/p-1`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { url: string }).url).toBe("/products/p-1");
    expect(catalog.seen.length - before).toBe(2);
  });

  test("when a GET gets 503 twice, then the third attempt answers it", async () => {
    catalog.behave(failFirst(2, status(503)));
    const before = catalog.seen.length;
    expect((await fetch(`${gateway.url}/api/catalog/products`)).status).toBe(200);
    expect(catalog.seen.length - before).toBe(3);
  });

  test("when a POST without Idempotency-Key hits a connection reset, then it is not retried and the client gets 502", async () => {
    orders.behave(failFirst(1, reset));
    const before = orders.seen.length;
    const res = await post("/api/orders/orders");
    expect(res.status).toBe(502);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({
      code: "UPSTREAM_UNAVAILABLE",
      details: { upstream: "orders", reason: "connection failed (ECONNRESET)" },
    });
    expect(orders.seen.length - before).toBe(1);
  });

  test("when a POST without Idempotency-Key gets 503, then the 503 is relayed once, never retried", async () => {
    orders.behave(failFirst(1, status(503, { error: "busy" })));
    const before = orders.seen.length;
    const res = await post("/api/orders/orders");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: "busy" });
    expect(orders.seen.length - before).toBe(1);
  });

  test("when a POST with an Idempotency-Key hits a connection reset, then it is retried with the same key and body", async () => {
    orders.behave(failFirst(1, reset));
    const before = orders.seen.length;
    const res = await post("/api/orders/orders", { "idempotency-key": "key-42" });
    expect(res.status).toBe(200);
    const attempts = orders.seen.slice(before);
    expect(attempts).toHaveLength(2);
    expect(attempts.map((a) => a.headers["idempotency-key"])).toEqual(["key-42", "key-42"]);
    expect(attempts[1]?.body).toBe(attempts[0]?.body);
    expect(JSON.parse(attempts[1]?.body ?? "")).toMatchObject({ customerId: "c-1" });
  });

  test("when the upstream keeps failing, then the retry budget caps what it sees near 1.1x the requests, not 3x", async () => {
    catalog.behave(status(503));
    const before = catalog.seen.length;
    const refusedBefore = await metricValue(gateway.url, "gateway_upstream_retries_total", {
      result: "budget_exhausted",
    });
    const requests = 200;
    for (let i = 0; i < requests; i += 10)
      await Promise.all(
        Array.from({ length: 10 }, async () =>
          expect((await fetch(`${gateway.url}/api/catalog/products`)).status).toBe(503),
        ),
      );
    const seen = catalog.seen.length - before;
    // 200 requests plus at most the 10-token burst plus 10% of 200; without a budget it would be 600.
    expect(seen).toBeGreaterThanOrEqual(requests);
    expect(seen).toBeLessThanOrEqual(requests + 10 + requests * 0.1);
    const refused =
      (await metricValue(gateway.url, "gateway_upstream_retries_total", { result: "budget_exhausted" })) -
      refusedBefore;
    expect(refused).toBeGreaterThan(150);
    catalog.behave(echo);
  });
});
