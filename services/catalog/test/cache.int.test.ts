import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunningService } from "@blueprint/service-kit";
import { useMongo, useRedis } from "../../../test/harness.js";
import { eventually, metricValue, testEnv } from "../../lib/test/env.js";
import { loadCatalogConfig } from "../src/config.js";
import { start } from "../src/server.js";

const mongo = useMongo();
const redisServer = useRedis();
let a: RunningService;
let b: RunningService;
let redis: Redis;
let mongoClient: MongoClient;
const db = `catalog_cache_${Date.now()}`;

beforeAll(async () => {
  // A long L1 TTL: only the pub/sub message can make instance B see a change within the test.
  const env = testEnv({ mongo: mongo(), redis: redisServer() }, db, {
    CACHE_L1_TTL_MS: "60000",
    CACHE_TTL_SECONDS: "30",
  });
  a = await start(loadCatalogConfig(env));
  b = await start(loadCatalogConfig(env));
  redis = new Redis(redisServer().url);
  mongoClient = await MongoClient.connect(mongo().url);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  redis?.disconnect();
  await mongoClient?.close();
});

const put = (base: string, sku: string, body: object) =>
  fetch(`${base}/products/${sku}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
const getProduct = async (base: string, sku: string) =>
  (await (await fetch(`${base}/products/${sku}`)).json()) as { name: string; stock: number };
// Every read MongoDB answered: the loader's, and a waiter's that gave up waiting (mongo_fallback).
const mongoLoads = async () => {
  let total = 0;
  for (const base of [a.url, b.url])
    for (const source of ["mongo", "mongo_fallback"])
      total += await metricValue(base, "catalog_product_reads_total", { source });
  return total;
};

describe("catalog cache-aside across two instances", () => {
  test("when a product is read repeatedly, then MongoDB is loaded once and Redis holds it with the TTL", async () => {
    const sku = `sku-${randomUUID().slice(0, 8)}`;
    expect((await put(a.url, sku, { name: "Lamp", priceCents: 1999, stock: 5 })).status).toBe(201);
    const before = await mongoLoads();
    for (let i = 0; i < 5; i++) expect((await getProduct(a.url, sku)).name).toBe("Lamp");
    expect((await getProduct(b.url, sku)).name).toBe("Lamp");

    expect((await mongoLoads()) - before).toBe(1);
    expect(
      await metricValue(b.url, "catalog_product_reads_total", { source: "redis" }),
    ).toBeGreaterThanOrEqual(1);
    const ttl = await redis.ttl(`catalog:{${sku}}:product`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
  });

  test("when 60 concurrent reads miss on two instances, then MongoDB is loaded once (stampede protection)", async () => {
    const sku = `sku-${randomUUID().slice(0, 8)}`;
    await put(a.url, sku, { name: "Chair", priceCents: 4500, stock: 3 });
    const before = await mongoLoads();
    const reads = await Promise.all(
      Array.from({ length: 60 }, (_, i) => getProduct(i % 2 ? a.url : b.url, sku)),
    );

    expect(reads.every((p) => p.name === "Chair")).toBe(true);
    expect((await mongoLoads()) - before).toBe(1);
  });

  test("when instance A updates a product that B holds in its L1, then B serves the new value (pub/sub eviction)", async () => {
    const sku = `sku-${randomUUID().slice(0, 8)}`;
    await put(a.url, sku, { name: "Desk", priceCents: 9900, stock: 1 });
    expect((await getProduct(b.url, sku)).name).toBe("Desk");
    expect((await getProduct(b.url, sku)).name).toBe("Desk");

    expect((await put(a.url, sku, { name: "Desk v2", priceCents: 9900, stock: 1 })).status).toBe(200);
    // B's L1 lives 60 s here: only the pub/sub eviction can make it serve the new value in time.
    await eventually(async () => (await getProduct(b.url, sku)).name === "Desk v2", 5000, 20);
    const stored = await mongoClient
      .db(db)
      .collection("products")
      .findOne({ _id: sku as never });
    expect(stored?.name).toBe("Desk v2");
  });

  test("when a product does not exist, then 404, and a later PUT makes it readable at once", async () => {
    const sku = `sku-${randomUUID().slice(0, 8)}`;
    expect((await fetch(`${b.url}/products/${sku}`)).status).toBe(404);
    await put(a.url, sku, { name: "New", priceCents: 1, stock: 1 });
    expect((await fetch(`${b.url}/products/${sku}`)).status).toBe(200);
  });
});

describe("catalog: bad input gets 4xx with a reason", () => {
  test.each([
    { what: "an operator in the query", path: "/products?after[$gt]=", status: 400, code: "FORBIDDEN_KEY" },
    { what: "an unknown query field", path: "/products?sort=name", status: 400, code: "VALIDATION_FAILED" },
    { what: "a limit out of range", path: "/products?limit=5000", status: 400, code: "VALIDATION_FAILED" },
    { what: "an invalid sku", path: "/products/a%20b", status: 400, code: "VALIDATION_FAILED" },
    {
      what: "an operator in a product query",
      path: "/products/sku-1?sku[$ne]=x",
      status: 400,
      code: "FORBIDDEN_KEY",
    },
  ])("when GET has $what, then $status $code", async ({ path, status, code }) => {
    const res = await fetch(`${a.url}${path}`);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  test.each([
    {
      what: "an operator injection",
      body: '{"name":{"$gt":""},"priceCents":1,"stock":1}',
      status: 400,
      code: "FORBIDDEN_KEY",
    },
    {
      what: "a negative stock",
      body: '{"name":"a","priceCents":1,"stock":-1}',
      status: 400,
      code: "VALIDATION_FAILED",
    },
    { what: "malformed JSON", body: '{"name":', status: 400, code: "MALFORMED_JSON" },
  ])("when PUT has $what, then $status $code", async ({ body, status, code }) => {
    const res = await fetch(`${a.url}/products/sku-bad`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  test("when products are listed with a limit, then a page and a cursor come back", async () => {
    const res = await fetch(`${a.url}/products?limit=2`);
    const page = (await res.json()) as { items: { sku: string }[]; next?: string };
    expect(res.status).toBe(200);
    expect(page.items).toHaveLength(2);
    expect(page.next).toBe(page.items[1]!.sku);
  });

  test("when the list is read repeatedly, then MongoDB answers it once, and a write on one instance shows in the other's list at once", async () => {
    const sku = `sku-${randomUUID().slice(0, 8)}`;
    expect((await put(a.url, sku, { name: "Desk", priceCents: 9900, stock: 3 })).status).toBe(201);
    const listLoads = async () => {
      let total = 0;
      for (const base of [a.url, b.url])
        for (const source of ["mongo", "mongo_fallback"])
          total += await metricValue(base, "catalog_list_reads_total", { source });
      return total;
    };
    const names = async (base: string) =>
      (
        (await (await fetch(`${base}/products?limit=100`)).json()) as {
          items: { sku: string; name: string }[];
        }
      ).items
        .filter((p) => p.sku === sku)
        .map((p) => p.name);
    const before = await listLoads();
    for (let i = 0; i < 5; i++) expect(await names(a.url)).toEqual(["Desk"]);
    expect(await names(b.url)).toEqual(["Desk"]);
    expect((await listLoads()) - before).toBe(1);

    // B holds the list in its L1 for 60 s: only the invalidation can make it see the write.
    expect((await put(a.url, sku, { name: "Standing desk", priceCents: 9900 })).status).toBe(200);
    expect(await eventually(async () => (await names(b.url))[0] === "Standing desk", 2000)).toBe(true);
    expect(await names(a.url)).toEqual(["Standing desk"]);
  });
});
