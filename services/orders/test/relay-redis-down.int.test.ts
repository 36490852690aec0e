import { randomUUID } from "node:crypto";
import { Kafka, logLevel, type Consumer } from "kafkajs";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { newOutbox, outboxEvent, topics, type RunningService } from "@blueprint/service-kit";
import { startRedis, type RunningServer } from "../../../scripts/lib/servers/index.js";
import { useKafka, useMongo } from "../../../test/harness.js";
import { eventually, testEnv, sagaTopics } from "../../lib/test/env.js";
import { loadOrdersConfig } from "../src/config.js";
import { start } from "../src/server.js";

// The relay while Redis (the marks' mutex) is down and Kafka is up, with a short lease.
const mongo = useMongo();
const kafka = useKafka({ topics: sagaTopics });
const LEASE_MS = 500;
let redis: RunningServer | undefined;
let orders: RunningService;
let client: MongoClient;
let watcher: Consumer;
const published: string[] = [];
const db = `orders_relay_redis_${Date.now()}`;

beforeAll(async () => {
  redis = await startRedis();
  orders = await start(
    loadOrdersConfig(
      testEnv({ mongo: mongo(), redis, kafka: kafka() }, db, {
        OUTBOX_LEASE_MS: `${LEASE_MS}`,
        RECONCILE_RETRY_AFTER_MS: "3600000",
      }),
    ),
  );
  client = await MongoClient.connect(mongo().url);
  watcher = new Kafka({ brokers: kafka().brokers, logLevel: logLevel.NOTHING }).consumer({
    groupId: `w-${db}`,
  });
  await watcher.connect();
  await watcher.subscribe({ topic: topics.orders, fromBeginning: true });
  await watcher.run({ eachMessage: async ({ message }) => void published.push(message.key!.toString()) });
});
afterAll(async () => {
  await watcher?.disconnect();
  await orders?.stop();
  await redis?.stop();
  await client?.close();
});

describe("the outbox relay while Redis is down", () => {
  test("when Redis is down and Kafka up, then nothing is sent that could not be marked, and each event goes out once Redis is back", async () => {
    const port = redis!.port;
    await redis!.stop();
    redis = undefined;
    // Down as the service sees it (a send in the moment before the client noticed could not be marked, and would go
    // out once more: at-least-once, which consumers absorb).
    await eventually(async () => {
      const r = (await (await fetch(`${orders.url}/readyz`)).json()) as { checks: Record<string, string> };
      return r.checks.redis !== "ok";
    }, 10_000);
    // Orders written just before Redis went away, their events still pending.
    const ids: string[] = Array.from({ length: 5 }, () => randomUUID());
    const now = new Date();
    await client
      .db(db)
      .collection("orders")
      .insertMany(
        ids.map((id) => ({
          _id: id as never,
          idempotencyKey: id,
          fingerprint: "f",
          status: "PENDING",
          customerId: "c",
          items: [{ sku: "s", quantity: 1 }],
          createdAt: now,
          updatedAt: now,
          ...newOutbox([outboxEvent(topics.orders, "OrderCreated", id, { customerId: "c", items: [] })]),
        })),
      );
    // Several leases: a relay that publishes without being able to mark would send each event again and again.
    await new Promise((resolve) => setTimeout(resolve, 6 * LEASE_MS));
    expect(published.filter((k) => ids.includes(k))).toEqual([]);

    redis = await startRedis({ port });
    await eventually(async () => ids.every((id) => published.includes(id)), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 3 * LEASE_MS));
    expect(published.filter((k) => ids.includes(k)).sort()).toEqual([...ids].sort());
  });
});
