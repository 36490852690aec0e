import { randomUUID } from "node:crypto";
import { MongoClient } from "mongodb";

// The database side of the benchmark, with the mongodb driver the services use.

const scratch = (concurrency: number) => `bench_inserts_${concurrency}`;

/**
 * Creates the scratch collections of insertRate before any load. FerretDB v1.24 on PostgreSQL deadlocks on a
 * collection created or dropped while its connection pool is saturated (the registry's write lock waits for a
 * connection, the connections' holders wait for the lock), so the benchmark does no DDL once load has run.
 */
export async function prepareInsertCollections(url: string, concurrencies: number[]): Promise<void> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  try {
    const existing = new Set((await client.db().listCollections().toArray()).map((c) => c.name));
    for (const c of concurrencies)
      if (!existing.has(scratch(c))) await client.db().createCollection(scratch(c));
  } finally {
    await client.close();
  }
}

/**
 * A document of an order's size and shape, as the orders service stores it: PENDING with its OrderCreated event
 * not yet published, or CONFIRMED with every event published.
 */
function orderDocument(status: "PENDING" | "CONFIRMED", at: Date) {
  const id = randomUUID();
  const published = status === "CONFIRMED";
  return {
    _id: id as never,
    idempotencyKey: `bench-${id}`,
    fingerprint: "bench",
    status,
    customerId: "bench",
    items: [{ sku: "sample-espresso", quantity: 1 }],
    createdAt: at,
    updatedAt: at,
    outbox: [
      {
        topic: "orders.events",
        key: id,
        value: { eventId: randomUUID(), type: "OrderCreated", orderId: id, occurredAt: at.toISOString() },
      },
    ],
    outboxSeq: 1,
    publishedSeq: published ? 1 : 0,
    outboxPending: !published,
  };
}

/** The server's own single-document insert rate at `concurrency` writers, into prepareInsertCollections' collection. */
export async function insertRate(
  url: string,
  concurrency: number,
  seconds: number,
): Promise<{ count: number; rps: number; p99: number }> {
  const client = new MongoClient(url, { maxPoolSize: concurrency, serverSelectionTimeoutMS: 5000 });
  await client.connect();
  try {
    const collection = client.db().collection(scratch(concurrency));
    const latencies: number[] = [];
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const writer = async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await collection.insertOne(orderDocument("PENDING", new Date()));
        latencies.push(performance.now() - t);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, writer));
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      count: latencies.length,
      rps: latencies.length / elapsed,
      p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    };
  } finally {
    await client.close();
  }
}

/**
 * Stores `total` orders in their final state (CONFIRMED, every outbox event published), as a long-running shop
 * would have: what the relay's and reconciler's polls must not scan. Returns how many the collection holds.
 */
export async function seedFinalOrders(
  url: string,
  total: number,
  progress: (stored: number) => void,
): Promise<number> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  try {
    const orders = client.db().collection("orders");
    const batch = 1000;
    const at = new Date(Date.now() - 86_400_000);
    for (let done = 0; done < total;) {
      const n = Math.min(batch, total - done);
      const docs = Array.from({ length: n }, () => orderDocument("CONFIRMED", at));
      await orders.insertMany(docs, { ordered: false });
      done += n;
      if (done % 10_000 === 0 || done === total) progress(done);
    }
    return await orders.countDocuments();
  } finally {
    await client.close();
  }
}

/**
 * Waits until the order path has no work left: no PENDING order and no unpublished outbox event in orders or in the
 * catalog's reservations. The order rows leave a saga backlog behind them; idle is measured after it. Resolves to
 * the seconds it took and what was left at the start, or throws after `limitSeconds`.
 */
export async function waitDrained(
  url: string,
  limitSeconds: number,
  progress: (left: number) => void,
): Promise<{ seconds: number; leftAtStart: number }> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  try {
    const orders = client.db("orders").collection("orders");
    const reservations = client.db("catalog").collection("reservations");
    const left = async () =>
      (await orders.countDocuments({ status: "PENDING" })) +
      (await orders.countDocuments({ outboxPending: true })) +
      (await reservations.countDocuments({ outboxPending: true }));
    const started = performance.now();
    const leftAtStart = await left();
    for (let n = leftAtStart, i = 0; n > 0; i++) {
      if (performance.now() - started > limitSeconds * 1000)
        throw new Error(`the order path still had ${n} pending orders and events after ${limitSeconds} s`);
      if (i % 5 === 0) progress(n);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      n = await left();
    }
    return { seconds: (performance.now() - started) / 1000, leftAtStart };
  } finally {
    await client.close();
  }
}
