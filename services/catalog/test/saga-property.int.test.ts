import { randomUUID } from "node:crypto";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { MongoClient, type Db } from "mongodb";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { Metrics, RedisMutex } from "@blueprint/service-kit";
import { REPO_ROOT } from "../../../infra/config/stack-file.js";
import { useMongo, useRedis } from "../../../test/harness.js";
import { seededRandom } from "../../lib/test/env.js";
import { ProductCache } from "../src/data-access/product-cache.js";
import { ProductRepository } from "../src/data-access/product-repository.js";
import { ReservationRepository } from "../src/data-access/reservation-repository.js";
import { StaleDeliveryError, StockSaga } from "../src/domain/stock-saga.js";

// Property-style check of catalog's saga against real FerretDB and Redis: random orders over few skus, every event
// delivered again and again (a crashed delivery is redelivered until one succeeds, as Kafka does), a second member
// delivering the same event at the same time (a rebalance, the other color), crashes injected before and after any
// write, and restocks racing the saga. The invariants are checked at the end, from the database alone.

const SEED = Number(process.env.SAGA_PROPERTY_SEED ?? 20261202);
const ORDERS = Number(process.env.SAGA_PROPERTY_ORDERS ?? 200);
const SKUS = 20;
const CRASH_RATE = 0.08;
// Short, so markers of decided orders are dropped while the run goes on (late duplicates meet settled orders).
const MARKER_GRACE_MS = 2000;

class InjectedCrash extends Error {}

const mongo = useMongo();
const redis = useRedis();
let client: MongoClient;
let db: Db;
const redisClients: Redis[] = [];
const counts = { crashes: 0, deliveries: 0, duplicates: 0, redeliveries: 0, restocks: 0, settled: 0 };
/** What Kafka treats as a failed delivery: an injected crash, or the saga refusing a delivery too old to write. */
const failed = (err: unknown) => err instanceof InjectedCrash || err instanceof StaleDeliveryError;

/** Wraps every write method so that a crash may come before it runs or after it has written. */
function crashing<T extends object>(target: T, random: () => number, reads: string[]): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== "function" || reads.includes(String(prop))) return value;
      return async (...args: unknown[]) => {
        if (random() < CRASH_RATE / 2) {
          counts.crashes += 1;
          throw new InjectedCrash(`before ${String(prop)}`);
        }
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
        if (random() < CRASH_RATE / 2) {
          counts.crashes += 1;
          throw new InjectedCrash(`after ${String(prop)}`);
        }
        return result;
      };
    },
  });
}

type Wrap = <T extends object>(target: T, reads: string[]) => T;

/** One consumer-group member: its own clients and repositories over the shared database and Redis. */
function member(wrap: Wrap, markerGraceMs = MARKER_GRACE_MS) {
  const r = new Redis(redis().url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  const sub = new Redis(redis().url, { lazyConnect: false });
  redisClients.push(r, sub);
  const logger = pino({ level: "silent" });
  const products = new ProductRepository(db, new RedisMutex(r, "catalog:product"));
  const reservations = new ReservationRepository(db, new RedisMutex(r, "catalog:reservation"));
  const cache = new ProductCache(r, sub, { ttlSeconds: 60, l1TtlMs: 0 }, new Metrics({}), logger);
  const saga = new StockSaga(
    wrap(products, ["findBySku", "list"]),
    wrap(reservations, ["find", "findById", "dueForSettling"]),
    cache,
    logger,
    { markerGraceMs },
  );
  const settler = new StockSaga(products, reservations, cache, logger, { markerGraceMs });
  return { saga, products, reservations, settler };
}

type Member = ReturnType<typeof member>;
const event = (fields: Record<string, unknown>) =>
  Buffer.from(JSON.stringify({ eventId: randomUUID(), occurredAt: new Date().toISOString(), ...fields }));

/** Kafka's contract for one event: deliveries until one succeeds; a crashed one is delivered again. */
async function deliverUntilDone(members: Member[], value: Buffer, random: () => number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    counts.deliveries += 1;
    if (attempt > 0) counts.redeliveries += 1;
    try {
      await members[Math.floor(random() * members.length)]!.saga.handle(value);
      return;
    } catch (err) {
      if (!failed(err)) throw err;
    }
  }
  throw new Error("an event failed 200 deliveries in a row");
}

/** A second member delivering the same event at the same time; it may crash and is not retried (offset moved on). */
async function duplicate(members: Member[], value: Buffer, random: () => number): Promise<void> {
  counts.duplicates += 1;
  counts.deliveries += 1;
  await members[Math.floor(random() * members.length)]!.saga.handle(value).catch((err: unknown) => {
    if (!failed(err)) throw err;
  });
}

beforeAll(async () => {
  client = await MongoClient.connect(mongo().url);
  db = client.db(`catalog_property_${Date.now()}`);
});
afterAll(async () => {
  for (const r of redisClients) r.disconnect();
  await client?.close();
});

describe("catalog's saga under redelivery, races and crashes (real FerretDB and Redis)", () => {
  test(`when ${ORDERS} orders over ${SKUS} skus meet duplicates, two members, crashes and restocks, then every order is final once and stock adds up`, async () => {
    const random = seededRandom(SEED);
    const wrap: Wrap = (target, reads) => crashing(target, random, reads);
    const members = [member(wrap), member(wrap)];
    await members[0]!.reservations.init();
    const skus = Array.from({ length: SKUS }, (_, i) => `prop-${SEED}-${i}`);
    const initial = new Map(skus.map((sku) => [sku, Math.floor(random() * 12)]));
    for (const [sku, stock] of initial)
      await members[0]!.products.put(sku, { name: sku, priceCents: 1, stock });
    const restocked = new Map(skus.map((sku) => [sku, 0]));

    const orders = Array.from({ length: ORDERS }, () => {
      const items = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
        sku: skus[Math.floor(random() * SKUS)]!,
        quantity: 1 + Math.floor(random() * 3),
      }));
      return { orderId: randomUUID(), items, cancel: random() < 0.25 };
    });

    let next = 0;
    const worker = async () => {
      while (next < orders.length) {
        const order = orders[next++]!;
        const created = event({
          type: "OrderCreated",
          orderId: order.orderId,
          customerId: "c",
          items: order.items,
        });
        await Promise.all([
          deliverUntilDone(members, created, random),
          ...(random() < 0.5 ? [duplicate(members, created, random)] : []),
        ]);
        if (order.cancel) {
          const cancelled = event({ type: "OrderCancelled", orderId: order.orderId });
          await Promise.all([
            deliverUntilDone(members, cancelled, random),
            ...(random() < 0.5 ? [duplicate(members, cancelled, random)] : []),
          ]);
        }
        // A late redelivery of the create, long after it was decided.
        if (random() < 0.2) await deliverUntilDone(members, created, random);
      }
    };
    const restocker = async () => {
      while (next < orders.length) {
        const sku = skus[Math.floor(random() * SKUS)]!;
        const delta = 1 + Math.floor(random() * 4);
        await members[1]!.products.adjustStock(sku, delta);
        restocked.set(sku, restocked.get(sku)! + delta);
        counts.restocks += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const settler = async () => {
      while (next < orders.length) {
        counts.settled += await members[0]!.settler.settleDue();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await Promise.all([...Array.from({ length: 8 }, worker), restocker(), settler()]);

    // The invariants, from the database alone.
    const reservations = await db
      .collection<{
        _id: string;
        status: string;
        items: { sku: string; quantity: number }[];
        outbox: { value: { type: string } }[];
      }>("reservations")
      .find({ _id: { $in: orders.map((o) => o.orderId) } })
      .toArray();
    const byId = new Map(reservations.map((r) => [r._id, r]));
    const outcomes: Record<string, number> = {};
    const problems: string[] = [];
    const held = new Map(skus.map((sku) => [sku, 0]));
    for (const order of orders) {
      const r = byId.get(order.orderId);
      const status = r?.status ?? "missing";
      outcomes[status] = (outcomes[status] ?? 0) + 1;
      const allowed = order.cancel ? ["RELEASED", "REJECTED"] : ["HELD", "REJECTED"];
      if (!allowed.includes(status)) problems.push(`${order.orderId}: ${status}, expected one of ${allowed}`);
      if (status === "HELD") for (const i of r!.items) held.set(i.sku, held.get(i.sku)! + i.quantity);
      const replies = (r?.outbox ?? []).map((e) => e.value.type);
      const decisions = replies.filter((t) => t === "StockReserved" || t === "StockRejected").length;
      if (decisions !== 1)
        problems.push(`${order.orderId}: ${decisions} decision replies (${replies.join(", ")})`);
      if (status === "RELEASED" && replies.filter((t) => t === "StockReleased").length !== 1)
        problems.push(`${order.orderId}: released without exactly one StockReleased (${replies.join(", ")})`);
    }
    const stock: Record<string, { expected: number; actual: number }> = {};
    for (const sku of skus) {
      const product = await members[0]!.products.findBySku(sku);
      const expected = initial.get(sku)! + restocked.get(sku)! - held.get(sku)!;
      stock[sku] = { expected, actual: product!.stock };
      if (product!.stock !== expected)
        problems.push(`${sku}: stock ${product!.stock}, expected initial + restocked − held = ${expected}`);
    }
    const report = { seed: SEED, orders: ORDERS, skus: SKUS, counts, outcomes, problems };
    mkdirSync(join(REPO_ROOT, "reports"), { recursive: true });
    writeFileSync(
      join(REPO_ROOT, "reports", "saga-property.json"),
      `${JSON.stringify({ ...report, stock }, null, 2)}\n`,
    );
    expect(problems).toEqual([]);
    expect(counts.crashes).toBeGreaterThan(20);
    expect(counts.duplicates).toBeGreaterThan(50);
    expect(counts.settled).toBeGreaterThan(0);
    expect(outcomes.HELD ?? 0).toBeGreaterThan(0);
    expect(outcomes.REJECTED ?? 0).toBeGreaterThan(0);
  }, 600_000);

  // The reproductions, one event at a time.
  const noFaults: Wrap = (target) => target;
  const created = (orderId: string, items: { sku: string; quantity: number }[]) =>
    event({ type: "OrderCreated", orderId, customerId: "c", items });
  const stockOf = async (m: Member, sku: string) => (await m.products.findBySku(sku))!.stock;
  const statusOf = async (orderId: string) =>
    (await db.collection<{ _id: string; status: string }>("reservations").findOne({ _id: orderId }))?.status;

  test("when a rejection's compensation is not recorded before a crash and the short sku is restocked, then the redelivery still rejects and takes no stock", async () => {
    let crashed = false;
    // Throws at the first write that records the rejection, after the held sku was given back.
    const crashAtReject: Wrap = (target) =>
      new Proxy(target, {
        get(obj, prop, receiver) {
          const value = Reflect.get(obj, prop, receiver) as unknown;
          if (prop !== "transition" || typeof value !== "function") return value;
          return async (...args: unknown[]) => {
            if (!crashed && args[2] === "REJECTED") {
              crashed = true;
              throw new InjectedCrash("before recording REJECTED");
            }
            return (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
          };
        },
      });
    const m = member(crashAtReject);
    const [a, b] = [`r1-a-${randomUUID().slice(0, 6)}`, `r1-b-${randomUUID().slice(0, 6)}`];
    await m.products.put(a, { name: a, priceCents: 1, stock: 10 });
    await m.products.put(b, { name: b, priceCents: 1, stock: 0 });
    const orderId = randomUUID();
    const value = created(orderId, [
      { sku: a, quantity: 3 },
      { sku: b, quantity: 1 },
    ]);
    await expect(m.saga.handle(value)).rejects.toThrow(InjectedCrash);
    await m.products.adjustStock(b, 5);
    await m.saga.handle(value);
    expect(await statusOf(orderId)).toBe("REJECTED");
    expect([await stockOf(m, a), await stockOf(m, b)]).toEqual([10, 5]);
  });

  test("when a second delivery of a create runs after the first one decided and its markers were settled, then stock is taken once", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let paused = false;
    // The first delivery stops right before its first stock write (a long GC pause, a member that lost its session).
    const pauseFirstWrite: Wrap = (target) =>
      new Proxy(target, {
        get(obj, prop, receiver) {
          const value = Reflect.get(obj, prop, receiver) as unknown;
          if (prop !== "adjustOnce" || typeof value !== "function") return value;
          return async (...args: unknown[]) => {
            if (!paused) {
              paused = true;
              await gate;
            }
            return (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
          };
        },
      });
    const first = member(pauseFirstWrite, 1000);
    const second = member(noFaults, 1000);
    const sku = `r2-${randomUUID().slice(0, 6)}`;
    await second.products.put(sku, { name: sku, priceCents: 1, stock: 10 });
    const orderId = randomUUID();
    const value = created(orderId, [{ sku, quantity: 3 }]);
    const slow = first.saga.handle(value).catch((err: unknown) => err);
    await second.saga.handle(value);
    expect(await stockOf(second, sku)).toBe(7);
    // Past the grace period the markers go; then the paused delivery resumes.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await second.settler.settleDue();
    release();
    const outcome = await slow;
    if (outcome instanceof Error) await first.saga.handle(value); // Kafka redelivers a failed delivery
    expect(await stockOf(second, sku)).toBe(7);
    expect(await statusOf(orderId)).toBe("HELD");
  });

  test("when many reservations of one product are past their grace, then one settle round drops all their markers in one update of it", async () => {
    const m = member(noFaults, 1000);
    const sku = `settle-${randomUUID().slice(0, 6)}`;
    await m.products.put(sku, { name: sku, priceCents: 1, stock: 100 });
    for (let i = 0; i < 25; i++) await m.saga.handle(created(randomUUID(), [{ sku, quantity: 1 }]));
    const markers = async () =>
      Object.keys(
        (await db.collection<{ _id: string; ops?: object }>("products").findOne({ _id: sku }))?.ops ?? {},
      ).length;
    expect(await markers()).toBe(25);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const clearOps = vi.spyOn(m.products, "clearOps");
    await m.settler.settleDue();
    // Other tests' reservations may be due too: only this product's updates are counted.
    expect(clearOps.mock.calls.filter(([s]) => s === sku)).toHaveLength(1);
    expect(await markers()).toBe(0);
    expect(await stockOf(m, sku)).toBe(75);
  });

  test("when orders asks again (attempt 2) for a decided order, then catalog answers again from its decision and takes no stock", async () => {
    const m = member(noFaults);
    const sku = `again-${randomUUID().slice(0, 6)}`;
    await m.products.put(sku, { name: sku, priceCents: 1, stock: 5 });
    const orderId = randomUUID();
    const first = { type: "OrderCreated", orderId, customerId: "c", items: [{ sku, quantity: 2 }] };
    await m.saga.handle(event(first));
    await m.saga.handle(event({ ...first, attempt: 2 }));
    await m.saga.handle(event(first)); // a plain redelivery is not answered again
    const doc = await db
      .collection<{ _id: string; outbox: { value: { type: string } }[] }>("reservations")
      .findOne({ _id: orderId });
    expect(doc?.outbox.map((e) => e.value.type)).toEqual(["StockReserved", "StockReserved"]);
    expect(await stockOf(m, sku)).toBe(3);
  });
});
