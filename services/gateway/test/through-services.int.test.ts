import { randomUUID } from "node:crypto";
import type { RunningService } from "@blueprint/service-kit";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useMongo, useRedis } from "../../../test/harness.js";
import { testEnv } from "../../lib/test/env.js";
import { loadCatalogConfig } from "../../catalog/src/config.js";
import { start as startCatalog } from "../../catalog/src/server.js";
import { loadOrdersConfig } from "../../orders/src/config.js";
import { start as startOrders } from "../../orders/src/server.js";
import { gatewayEnv, startGateway, type ErrorBody } from "./gateway-env.js";

// The real catalog and orders behind the gateway, on real FerretDB and Redis (no Kafka: both start without it).
const mongo = useMongo();
const redis = useRedis();
let catalog: RunningService;
let orders: RunningService;
let gateway: RunningService;

beforeAll(async () => {
  const servers = { mongo: mongo(), redis: redis() };
  catalog = await startCatalog(loadCatalogConfig(testEnv(servers, `gw_catalog_${Date.now()}`)));
  orders = await startOrders(loadOrdersConfig(testEnv(servers, `gw_orders_${Date.now()}`)));
  gateway = await startGateway(gatewayEnv(redis().url, { catalog: catalog.url, orders: orders.url }));
});
afterAll(async () => {
  await gateway?.stop();
  await Promise.all([catalog?.stop(), orders?.stop()]);
});

const postOrder = (key: string, body: string) =>
  fetch(`${gateway.url}/api/orders/orders`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body,
  });

describe("through the gateway to the real services", () => {
  test("when a product is written to catalog directly, then it reads back through the gateway", async () => {
    const sku = `sku-${randomUUID().slice(0, 8)}`;
    const put = await fetch(`${catalog.url}/products/${sku}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Lamp", priceCents: 1999, stock: 5 }),
    });
    expect(put.status).toBe(201);
    const got = await fetch(`${gateway.url}/api/catalog/products/${sku}`, {
      headers: { "x-request-id": `get-${sku}` },
    });
    expect(got.status).toBe(200);
    expect(got.headers.get("x-request-id")).toBe(`get-${sku}`);
    expect(await got.json()).toMatchObject({ sku, name: "Lamp", priceCents: 1999, stock: 5 });
  });

  test("when a product write is sent through the gateway, then 405 and catalog keeps the product unchanged", async () => {
    const sku = `sku-${randomUUID().slice(0, 8)}`;
    await fetch(`${catalog.url}/products/${sku}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Lamp", priceCents: 1999, stock: 5 }),
    });
    const put = await fetch(`${gateway.url}/api/catalog/products/${sku}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Free lamp", priceCents: 0, stock: 1_000_000 }),
    });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD");
    const got = await fetch(`${catalog.url}/products/${sku}`);
    expect(await got.json()).toMatchObject({ name: "Lamp", priceCents: 1999, stock: 5 });
  });

  test("when catalog's or orders' metrics or readiness is asked for through the gateway, then 404", async () => {
    for (const path of [
      "/api/catalog/metrics",
      "/api/catalog/readyz",
      "/api/orders/metrics",
      "/api/orders/livez",
    ]) {
      const res = await fetch(gateway.url + path);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toContain("http_requests_total");
    }
  });

  test("when the same order is posted twice with one Idempotency-Key, then orders answers the same id both times", async () => {
    const key = randomUUID();
    const body = JSON.stringify({ customerId: "c-1", items: [{ sku: "sku-1", quantity: 2 }] });
    const first = await postOrder(key, body);
    const second = await postOrder(key, body);
    expect([first.status, second.status]).toEqual([201, 201]);
    const [a, b] = (await Promise.all([first.json(), second.json()])) as { id: string; status: string }[];
    expect(a!.status).toBe("PENDING");
    expect(b!.id).toBe(a!.id);
    const read = await fetch(`${gateway.url}/api/orders/orders/${a!.id}`);
    expect(((await read.json()) as { id: string }).id).toBe(a!.id);
  });

  test("when malformed JSON is posted, then orders itself rejects it with 400 and the gateway relays that", async () => {
    const res = await postOrder(randomUUID(), '{"customerId": "c-1", items: [');
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.code).toBe("MALFORMED_JSON");
  });

  test("when an order is invalid, then orders' 400 with its reason reaches the client unchanged", async () => {
    const res = await postOrder(randomUUID(), JSON.stringify({ customerId: "", items: [] }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.message.length).toBeGreaterThan(0);
  });
});
