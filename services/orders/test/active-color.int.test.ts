import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Kafka, logLevel } from "kafkajs";
import type { RunningService } from "@blueprint/service-kit";
import { useKafka, useMongo, useRedis } from "../../../test/harness.js";
import { eventually, metricValue, sagaTopics, testEnv } from "../../lib/test/env.js";
import { loadCatalogConfig } from "../../catalog/src/config.js";
import { start as startCatalog } from "../../catalog/src/server.js";
import { loadOrdersConfig } from "../src/config.js";
import { start as startOrders } from "../src/server.js";

// orders blue and green share the group orders-saga and one ACTIVE_COLOR_FILE; catalog has none (fails open).
const mongo = useMongo();
const redis = useRedis();
const kafka = useKafka({ topics: sagaTopics });
const dir = mkdtempSync(join(tmpdir(), "active-color-int-"));
const colorFile = join(dir, "active-color");
let catalog: RunningService;
let blue: RunningService;
let green: RunningService;
const sku = `sku-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  writeFileSync(colorFile, "blue\n");
  const servers = { mongo: mongo(), redis: redis(), kafka: kafka() };
  const run = Date.now();
  catalog = await startCatalog(loadCatalogConfig(testEnv(servers, `catalog_ac_${run}`)));
  const ordersEnv = (color: string) =>
    testEnv(servers, `orders_ac_${run}`, { COLOR: color, ACTIVE_COLOR_FILE: colorFile });
  blue = await startOrders(loadOrdersConfig(ordersEnv("blue")));
  green = await startOrders(loadOrdersConfig(ordersEnv("green")));
  const put = await fetch(`${catalog.url}/products/${sku}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "Lamp", priceCents: 100, stock: 1_000_000 }),
  });
  expect(put.status).toBe(201);
});
afterAll(async () => {
  await Promise.all([blue?.stop(), green?.stop(), catalog?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

interface Ready {
  checks: Record<string, string>;
  details?: { activeColor?: { consuming: boolean; activeColor?: string } };
}
const readyz = async (s: RunningService) => (await (await fetch(`${s.url}/readyz`)).json()) as Ready;
/** Consuming by the file and joined to the group: this instance now takes every partition. */
const consumingAndJoined = async (s: RunningService) => {
  const r = await readyz(s);
  return r.details?.activeColor?.consuming === true && r.checks["kafka-consumer-orders-saga"] === "ok";
};
const finals = (s: RunningService) => metricValue(s.url, "orders_final_state_total");
const active = (s: RunningService) => metricValue(s.url, "saga_consumer_active", { group: "orders-saga" });
const enabled = (s: RunningService) => metricValue(s.url, "saga_consumer_enabled", { group: "orders-saga" });
/** The client ids of the orders-saga members, as the broker sees them (orders-local-<color>). */
async function members(): Promise<string[]> {
  const admin = new Kafka({ brokers: kafka().brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups(["orders-saga"]);
    return (groups[0]?.members ?? []).map((m) => m.clientId).sort();
  } finally {
    await admin.disconnect();
  }
}

async function postOrders(count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await fetch(`${(i % 2 ? blue : green).url}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
        body: JSON.stringify({ customerId: "c-ac", items: [{ sku, quantity: 1 }] }),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { id: string }).id;
    }),
  );
}
async function allConfirmed(ids: string[]): Promise<boolean> {
  const states = await Promise.all(
    ids.map(
      async (id) => ((await (await fetch(`${blue.url}/orders/${id}`)).json()) as { status: string }).status,
    ),
  );
  return states.every((s) => s === "CONFIRMED");
}

describe("saga consumers follow ACTIVE_COLOR_FILE", () => {
  test("when the file says blue, then only blue's consumer runs and it processes every saga reply", async () => {
    expect(await eventually(() => consumingAndJoined(blue), 30_000)).toBe(true);
    const g = await readyz(green);
    expect(g.details?.activeColor).toMatchObject({ consuming: false, activeColor: "blue" });
    expect(g.checks["kafka-consumer-orders-saga"]).toBe("ok");
    expect([await active(blue), await active(green)]).toEqual([1, 0]);
    expect([await enabled(blue), await enabled(green)]).toEqual([1, 0]);
    expect(await members()).toEqual(["orders-local-blue"]);

    const ids = await postOrders(10);
    expect(await eventually(() => allConfirmed(ids), 60_000)).toBe(true);
    expect([await finals(blue), await finals(green)]).toEqual([10, 0]);
  });

  test("when the file flips to green, then green takes over within seconds and no saga reply is lost", async () => {
    const flippedAt = Date.now();
    writeFileSync(colorFile, "green\n");
    // Orders posted during the switch: their replies reach whichever member holds the partition at that moment.
    const during = await postOrders(10);
    expect(await eventually(() => consumingAndJoined(green), 30_000, 50)).toBe(true);
    // Each color reads the file on its own poll: blue may see the flip a poll after green does.
    expect(await eventually(async () => (await enabled(blue)) === 0, 10_000, 50)).toBe(true);
    // Blue really left the group: the broker lists only green's member, and blue's gauge says so too.
    expect(await eventually(async () => (await active(blue)) === 0, 10_000, 50)).toBe(true);
    expect(await eventually(async () => (await members()).join() === "orders-local-green", 10_000, 100)).toBe(
      true,
    );
    const takeoverMs = Date.now() - flippedAt;
    console.log(`green consuming and joined ${takeoverMs} ms after the file flipped`);
    expect(takeoverMs).toBeLessThan(10_000);
    expect((await readyz(blue)).details?.activeColor).toMatchObject({
      consuming: false,
      activeColor: "green",
    });

    expect(await eventually(() => allConfirmed(during), 60_000)).toBe(true);
    const blueBefore = await finals(blue);
    const greenBefore = await finals(green);
    expect(blueBefore + greenBefore).toBe(20);

    const after = await postOrders(10);
    expect(await eventually(() => allConfirmed(after), 60_000)).toBe(true);
    expect(await finals(blue)).toBe(blueBefore);
    expect(await finals(green)).toBe(greenBefore + 10);
  });
});
