// The MongoDB features the services rely on work on the local MongoDB-compatible server (FerretDB v1, SQLite), and
// the ones services/README.md lists as avoided really are missing there. If a FerretDB upgrade adds one of them,
// the second group fails: update the README table and consider using the feature.
import { MongoClient, type Db } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useMongo } from "./harness.js";

const mongo = useMongo();
let client: MongoClient;
let db: Db;

beforeAll(async () => {
  client = new MongoClient(mongo().url, { serverSelectionTimeoutMS: 5_000 });
  db = client.db("compat");
});
afterAll(async () => {
  await client?.close();
});

interface Doc {
  _id: string;
  stock?: number;
  tags?: string[];
  outbox?: { seq: number }[];
  outboxPending?: boolean;
  items?: { sku: string; q: number }[];
  note?: string;
  key?: string;
}

const fresh = async (name: string) => {
  const c = db.collection<Doc>(name);
  await c.deleteMany({});
  return c;
};

describe("FerretDB: what the services use works", () => {
  it("when an upsert runs twice, then the first inserts and the second updates ($set, upsertedCount)", async () => {
    const c = await fresh("upsert");
    const first = await c.updateOne({ _id: "sku-1" }, { $set: { stock: 5 } }, { upsert: true });
    const second = await c.updateOne({ _id: "sku-1" }, { $set: { stock: 7 } }, { upsert: true });
    expect([first.upsertedCount, second.upsertedCount, second.modifiedCount]).toEqual([1, 0, 1]);
    expect(await c.findOne({ _id: "sku-1" })).toEqual({ _id: "sku-1", stock: 7 });
  });

  it("when a conditional $inc does not match, then nothing is modified (stock never goes negative)", async () => {
    const c = await fresh("inc");
    await c.insertOne({ _id: "sku-1", stock: 1 });
    const take = () => c.updateOne({ _id: "sku-1", stock: { $gte: 1 } }, { $inc: { stock: -1 } });
    expect([(await take()).modifiedCount, (await take()).modifiedCount]).toEqual([1, 0]);
    expect((await c.findOne({ _id: "sku-1" }))?.stock).toBe(0);
  });

  it("when a unique index sees a duplicate, then the insert fails with code 11000 (idempotency backstop, claims)", async () => {
    const c = await fresh("unique");
    await c.createIndex({ key: 1 }, { name: "key_unique", unique: true });
    await c.insertOne({ _id: "a", key: "k1" });
    await expect(c.insertOne({ _id: "b", key: "k1" })).rejects.toMatchObject({ code: 11000 });
    await expect(c.insertOne({ _id: "a", key: "k2" })).rejects.toMatchObject({ code: 11000 });
  });

  it("when $push, $unset, $exists, $in, $ne, $gt, sort, limit and projection are used, then they behave as on MongoDB", async () => {
    const c = await fresh("ops");
    await c.insertMany([
      { _id: "o1", outboxPending: true, note: "x" },
      { _id: "o2", outboxPending: false },
      { _id: "o3", outboxPending: true },
    ]);
    await c.updateOne({ _id: "o1" }, { $push: { outbox: { seq: 1 } }, $unset: { note: "" } });
    expect(await c.findOne({ _id: "o1" })).toEqual({ _id: "o1", outboxPending: true, outbox: [{ seq: 1 }] });
    const pending = await c
      .find(
        { outboxPending: true, _id: { $in: ["o1", "o3"], $ne: "o9", $gt: "" } },
        { projection: { _id: 1 } },
      )
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
    expect(pending).toEqual([{ _id: "o3" }]);
    expect(await c.countDocuments({ note: { $exists: true } })).toBe(0);
  });
});

describe("FerretDB: what the services avoid is missing (services/README.md)", () => {
  it("when a multi-document transaction runs, then it fails (the services write one document plus its outbox)", async () => {
    const c = await fresh("tx");
    const session = client.startSession();
    try {
      await expect(
        session.withTransaction(async () => {
          await c.insertOne({ _id: "t1" }, { session });
        }),
      ).rejects.toThrow();
    } finally {
      await session.endSession();
    }
  });

  it("when a positional $ update or arrayFilters is used, then it is rejected (no array-element updates)", async () => {
    const c = await fresh("positional");
    await c.insertOne({ _id: "o1", items: [{ sku: "a", q: 1 }] });
    await expect(
      c.updateOne({ _id: "o1", "items.sku": "a" }, { $set: { "items.$.q": 2 } }),
    ).rejects.toThrow();
    await expect(
      c.updateOne({ _id: "o1" }, { $set: { "items.$[i].q": 2 } }, { arrayFilters: [{ "i.sku": "a" }] }),
    ).rejects.toThrow();
  });

  it("when findOneAndUpdate asks for a projection, then it is rejected (updateOne + modifiedCount instead)", async () => {
    const c = await fresh("famproj");
    await c.insertOne({ _id: "o1", stock: 1 });
    await expect(
      c.findOneAndUpdate({ _id: "o1" }, { $set: { stock: 2 } }, { projection: { stock: 1 } }),
    ).rejects.toThrow();
  });

  it("when $expr compares two fields, then it is rejected (a stored outboxPending flag is used instead)", async () => {
    const c = await fresh("expr");
    await c.insertOne({ _id: "o1", stock: 2 });
    await expect(c.find({ $expr: { $gt: ["$stock", 1] } }).toArray()).rejects.toThrow();
  });

  it("when a partial or TTL index is created, then it is rejected (plain index; expiry lives in Redis)", async () => {
    const c = await fresh("indexes");
    await expect(
      c.createIndex({ key: 1 }, { name: "partial", partialFilterExpression: { outboxPending: true } }),
    ).rejects.toThrow();
    await expect(c.createIndex({ key: 1 }, { name: "ttl", expireAfterSeconds: 60 })).rejects.toThrow();
  });

  it("when a change stream is opened, then it fails (the outbox relay polls)", async () => {
    const c = await fresh("changes");
    const stream = c.watch();
    try {
      await expect(stream.tryNext()).rejects.toThrow();
    } finally {
      await stream.close().catch(() => undefined);
    }
  });
});
