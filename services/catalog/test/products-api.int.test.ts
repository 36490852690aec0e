import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunningService } from "@blueprint/service-kit";
import { startRedis, type RunningServer } from "../../../scripts/lib/servers/index.js";
import { useMongo } from "../../../test/harness.js";
import { eventually, testEnv } from "../../lib/test/env.js";
import { loadCatalogConfig } from "../src/config.js";
import { start } from "../src/server.js";

// PUT /products and stock changes against real FerretDB, with a Redis this file stops and restarts.
const mongo = useMongo();
let redis: RunningServer | undefined;
let a: RunningService;
let b: RunningService;

beforeAll(async () => {
  redis = await startRedis();
  const env = testEnv({ mongo: mongo(), redis }, `catalog_products_${Date.now()}`);
  a = await start(loadCatalogConfig(env));
  b = await start(loadCatalogConfig(env));
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
});

const put = (base: string, sku: string, body: object, headers: Record<string, string> = {}) =>
  fetch(`${base}/products/${sku}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
const adjust = (base: string, sku: string, delta: number) =>
  fetch(`${base}/products/${sku}/stock`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ delta }),
  });
const product = async (base: string, sku: string) =>
  (await (await fetch(`${base}/products/${sku}`)).json()) as { name: string; stock: number; version: number };
const newSku = () => `put-${randomUUID().slice(0, 8)}`;

describe("catalog writes: conditional, by delta, never a 5xx", () => {
  test("when eight PUTs create one new sku at once on two instances, then one 201, seven 200 and no 5xx", async () => {
    const sku = newSku();
    const statuses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        put(i % 2 ? a.url : b.url, sku, { name: "Lamp", priceCents: 100, stock: 5 }).then((r) => r.status),
      ),
    );
    expect(statuses.sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(await product(a.url, sku)).toMatchObject({ name: "Lamp", stock: 5 });
  });

  test("when a PUT names a version that changed since (If-Match), then 412 and nothing changes; the current ETag succeeds", async () => {
    const sku = newSku();
    const created = await put(a.url, sku, { name: "v1", priceCents: 1, stock: 3 });
    const etag = created.headers.get("etag")!;
    expect(etag).toBe('"1"');
    expect((await adjust(b.url, sku, 2)).status).toBe(200);
    const stale = await put(a.url, sku, { name: "v2", priceCents: 1 }, { "if-match": etag });
    expect(stale.status).toBe(412);
    expect(((await stale.json()) as { error: { message: string } }).error.message).toMatch(
      /version 2, not "1"/,
    );
    expect((await product(a.url, sku)).name).toBe("v1");
    const fresh = (await fetch(`${a.url}/products/${sku}`)).headers.get("etag")!;
    expect((await put(a.url, sku, { name: "v2", priceCents: 1 }, { "if-match": fresh })).status).toBe(200);
    expect((await put(a.url, sku, { name: "v3", priceCents: 1 }, { "if-match": "three" })).status).toBe(400);
  });

  test("when a PUT would set an existing product's stock, then 409 with the delta endpoint named; deltas apply and never go below 0", async () => {
    const sku = newSku();
    await put(a.url, sku, { name: "Desk", priceCents: 1, stock: 4 });
    const absolute = await put(a.url, sku, { name: "Desk", priceCents: 1, stock: 9 });
    expect(absolute.status).toBe(409);
    expect(((await absolute.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: "STOCK_IS_A_DELTA",
      message: expect.stringContaining(`POST /products/${sku}/stock`),
    });
    expect((await adjust(a.url, sku, -5)).status).toBe(409);
    expect((await adjust(a.url, sku, 0)).status).toBe(400);
    expect((await adjust(a.url, newSku(), 1)).status).toBe(404);
    expect((await product(a.url, sku)).stock).toBe(4);
  });

  test("when PUTs renaming a product race stock deltas on both instances, then no delta is lost", async () => {
    const sku = newSku();
    await put(a.url, sku, { name: "n0", priceCents: 1, stock: 100 });
    const writes = Array.from({ length: 20 }, (_, i) =>
      i % 2
        ? put(i % 4 === 1 ? a.url : b.url, sku, { name: `n${i}`, priceCents: 1 }).then((r) => r.status)
        : adjust(i % 4 === 0 ? a.url : b.url, sku, -1).then((r) => r.status),
    );
    expect(new Set(await Promise.all(writes))).toEqual(new Set([200]));
    expect((await product(b.url, sku)).stock).toBe(90);
  });

  test("when Redis is down, then a PUT answers 503 with Retry-After before writing anything, and succeeds once Redis is back", async () => {
    const sku = newSku();
    await put(a.url, sku, { name: "before", priceCents: 1, stock: 1 });
    const port = redis!.port;
    await redis!.stop();
    redis = undefined;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const during = await put(a.url, sku, { name: "during", priceCents: 1 });
    expect(during.status).toBe(503);
    expect(during.headers.get("retry-after")).toBe("1");
    redis = await startRedis({ port });
    expect((await product(b.url, sku)).name).toBe("before");
    await eventually(
      async () => (await put(a.url, sku, { name: "after", priceCents: 1 })).status === 200,
      15_000,
    );
    expect((await product(b.url, sku)).name).toBe("after");
  });
});
