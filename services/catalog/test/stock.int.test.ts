import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { topics, type RunningService } from "@blueprint/service-kit";
import { useKafka, useMongo, useRedis } from "../../../test/harness.js";
import { eventually, testEnv, sagaTopics } from "../../lib/test/env.js";
import { loadCatalogConfig } from "../src/config.js";
import { start } from "../src/server.js";

const mongo = useMongo();
const redis = useRedis();
const kafka = useKafka({ topics: sagaTopics });
let blue: RunningService;
let green: RunningService;
let client: MongoClient;
const db = `catalog_stock_${Date.now()}`;

beforeAll(async () => {
  const servers = { mongo: mongo(), redis: redis(), kafka: kafka() };
  blue = await start(loadCatalogConfig(testEnv(servers, db, { COLOR: "blue" })));
  green = await start(loadCatalogConfig(testEnv(servers, db, { COLOR: "green" })));
  client = await MongoClient.connect(mongo().url);
});
afterAll(async () => {
  await Promise.all([blue?.stop(), green?.stop()]);
  await client?.close();
});

describe("stock reservations by two catalog instances", () => {
  test("when 40 orders of 1 race for a stock of 30 on both colors, then exactly 30 are reserved and stock ends at 0", async () => {
    const sku = `sku-${randomUUID().slice(0, 8)}`;
    await fetch(`${blue.url}/products/${sku}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "hot", priceCents: 1, stock: 30 }),
    });
    // Both instances must own partitions before the burst, so the race is real.
    await eventually(async () => {
      const checks = await Promise.all(
        [blue, green].map(
          async (s) =>
            ((await (await fetch(`${s.url}/readyz`)).json()) as { checks: Record<string, string> }).checks,
        ),
      );
      return checks.every((c) => c["kafka-consumer-catalog-saga"] === "ok");
    }, 60_000);
    const producer = new Kafka({ brokers: kafka().brokers, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const ids = Array.from({ length: 40 }, () => randomUUID());
    await producer.send({
      topic: topics.orders,
      messages: ids.map((orderId) => ({
        key: orderId,
        value: JSON.stringify({
          eventId: randomUUID(),
          type: "OrderCreated",
          orderId,
          occurredAt: new Date().toISOString(),
          customerId: "c",
          items: [{ sku, quantity: 1 }],
        }),
      })),
    });
    await producer.disconnect();
    const reservations = client.db(db).collection("reservations");
    await eventually(
      async () =>
        (await reservations.countDocuments({
          _id: { $in: ids as never[] },
          status: { $in: ["HELD", "REJECTED"] },
        })) === 40,
      60_000,
    );

    const held = await reservations.countDocuments({ _id: { $in: ids as never[] }, status: "HELD" });
    const stock = (
      await client
        .db(db)
        .collection("products")
        .findOne({ _id: sku as never })
    )?.stock;
    expect({ held, stock }).toEqual({ held: 30, stock: 0 });
  });
});
