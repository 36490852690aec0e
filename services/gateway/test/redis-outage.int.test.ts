import { randomUUID } from "node:crypto";
import type { RunningService } from "@blueprint/service-kit";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startRedis, type RunningServer } from "../../../scripts/lib/servers/index.js";
import { useMongo } from "../../../test/harness.js";
import { eventually, metricValue, testEnv } from "../../lib/test/env.js";
import { loadCatalogConfig } from "../../catalog/src/config.js";
import { start as startCatalog } from "../../catalog/src/server.js";
import { loadOrdersConfig } from "../../orders/src/config.js";
import { start as startOrders } from "../../orders/src/server.js";
import { gatewayEnv, startGateway, timed } from "./gateway-env.js";

// Real gateway, catalog and orders on real FerretDB and a Redis this file stops and restarts on the same port.
const mongo = useMongo();
let redis: RunningServer | undefined;
let catalog: RunningService;
let orders: RunningService;
let gateway: RunningService;
const skus = Array.from({ length: 3 }, () => `sku-${randomUUID().slice(0, 8)}`);

beforeAll(async () => {
  redis = await startRedis();
  const servers = { mongo: mongo(), redis };
  const run = Date.now();
  catalog = await startCatalog(loadCatalogConfig(testEnv(servers, `catalog_outage_${run}`)));
  orders = await startOrders(loadOrdersConfig(testEnv(servers, `orders_outage_${run}`)));
  gateway = await startGateway(
    gatewayEnv(redis.url, { catalog: catalog.url, orders: orders.url }, { RATE_LIMIT_PER_SECOND: "50" }),
  );
  for (const sku of skus) {
    const put = await fetch(`${catalog.url}/products/${sku}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: `Lamp ${sku}`, priceCents: 1999, stock: 5 }),
    });
    expect(put.status).toBe(201);
  }
});
afterAll(async () => {
  await gateway?.stop();
  await Promise.all([catalog?.stop(), orders?.stop()]);
  await redis?.stop();
});

interface Ready {
  status: string;
  checks: Record<string, string>;
}
const readyz = async (s: RunningService) => {
  const res = await fetch(`${s.url}/readyz`);
  return { code: res.status, body: (await res.json()) as Ready };
};
const mongoFallbacks = () =>
  metricValue(catalog.url, "catalog_product_reads_total", { source: "mongo_fallback" });

describe("a Redis outage degrades the gateway and catalog, it does not take them out", () => {
  test("when Redis is up, then every service is ready and a product reads through the gateway", async () => {
    for (const s of [gateway, catalog, orders]) expect((await readyz(s)).code).toBe(200);
    expect((await fetch(`${gateway.url}/api/catalog/products/${skus[0]}`)).status).toBe(200);
  });

  test("when Redis is stopped, then gateway and catalog stay ready, reads answer from MongoDB at once, and orders is unready", async () => {
    const port = redis!.port;
    await redis!.stop();
    redis = undefined;
    // Redis comes back whatever this test finds, so the next test measures the recovery, not this failure.
    try {
      // Give every client time to see the closed connection and start reconnecting.
      await new Promise((resolve) => setTimeout(resolve, 1000));

      for (const s of [gateway, catalog]) {
        const { ms, result } = await timed(() => readyz(s));
        expect(result.code, s.url).toBe(200);
        expect(result.body.checks.redis, s.url).toMatch(/^not connected/);
        // Well inside a probe's default 1 s timeout.
        expect(ms, s.url).toBeLessThan(300);
      }
      const ordersReady = await readyz(orders);
      expect(ordersReady.code).toBe(503);
      expect(ordersReady.body.checks.redis).not.toBe("ok");

      const before = await mongoFallbacks();
      for (const sku of skus.slice(1)) {
        const { ms, result } = await timed(() => fetch(`${gateway.url}/api/catalog/products/${sku}`));
        expect(result.status, sku).toBe(200);
        expect(await result.json()).toMatchObject({ sku, name: `Lamp ${sku}`, stock: 5 });
        expect(ms, `${sku} read during the outage`).toBeLessThan(300);
      }
      expect((await mongoFallbacks()) - before).toBe(2);

      // The in-memory insurance limiter still limits: 60 requests at a limit of 50/s get some 429s, none hang. The
      // windows are whole seconds of the clock: the burst starts just after a boundary, so it is counted in one.
      await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
      const { ms, result } = await timed(() =>
        Promise.all(
          Array.from({ length: 60 }, () => fetch(`${gateway.url}/api/catalog/products/${skus[1]}`)),
        ),
      );
      const statuses = result.map((r) => r.status);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
      expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
      expect(ms).toBeLessThan(3000);

      // Orders cannot claim an Idempotency-Key without Redis: it answers 503 fast and says so.
      const post = await timed(() =>
        fetch(`${orders.url}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
          body: JSON.stringify({ customerId: "c-1", items: [{ sku: skus[0], quantity: 1 }] }),
        }),
      );
      expect(post.result.status).toBe(503);
      expect(post.ms).toBeLessThan(300);
    } finally {
      redis = await startRedis({ port });
    }
  });

  test("when Redis is back, then every service reports it ok again and reads use the cache", async () => {
    for (const s of [gateway, catalog, orders])
      expect(await eventually(async () => (await readyz(s)).body.checks.redis === "ok", 15_000)).toBe(true);
    expect((await readyz(orders)).code).toBe(200);
    const sku = skus[2]!;
    await fetch(`${gateway.url}/api/catalog/products/${sku}`);
    const redisReads = await metricValue(catalog.url, "catalog_product_reads_total", { source: "redis" });
    const fallbacks = await mongoFallbacks();
    // L1 off for this read: wait out its TTL (2 s default), then the value must come from Redis.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await fetch(`${gateway.url}/api/catalog/products/${sku}`)).status).toBe(200);
    expect(await metricValue(catalog.url, "catalog_product_reads_total", { source: "redis" })).toBe(
      redisReads + 1,
    );
    expect(await mongoFallbacks()).toBe(fallbacks);
  });
});
