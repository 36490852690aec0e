// FerretDB v1 on real PostgreSQL: its equality filters are `_jsonb->'f' @> v`, which its own btree indexes cannot
// serve. ferretdbGinTwins gives each a GIN twin; the relay's pending-flag poll and `_id` lookups must then read the
// index, not the table (O(matches), not O(collection)).
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMongo } from "../scripts/lib/servers/mongo.js";
import { ferretdbGinTwins, ferretdbUrl, startPostgres } from "../scripts/lib/servers/postgres.js";
import type { RunningServer } from "../scripts/lib/servers/process.js";

const started: RunningServer[] = [];
let mongo: MongoClient;

beforeAll(async () => {
  const postgres = await startPostgres();
  started.push(postgres);
  const ferretdb = await startMongo({ postgresqlUrl: ferretdbUrl([postgres]) });
  started.push(ferretdb);
  mongo = new MongoClient(ferretdb.url, { directConnection: true });
}, 60_000);

afterAll(async () => {
  await mongo?.close();
  for (const s of started.reverse()) await s.stop();
});

type Filter = Record<string, unknown>;

/** The index FerretDB's own explain (PostgreSQL's plan of the pushed-down query) reads, or undefined for a scan. */
async function indexOf(filter: Filter): Promise<string | undefined> {
  const out = await mongo.db("blueprint").command({ explain: { find: "orders", filter } });
  const walk = (plan: Record<string, unknown>): string | undefined =>
    (plan["Index Name"] as string | undefined) ??
    ((plan.Plans as Record<string, unknown>[] | undefined) ?? []).map(walk).find(Boolean);
  return walk((out.queryPlanner as { Plan: Record<string, unknown> }).Plan);
}

/** Milliseconds of one find with the filter, all documents read. */
async function timed(filter: Filter): Promise<number> {
  const t = performance.now();
  await mongo.db("blueprint").collection("orders").find(filter).toArray();
  return performance.now() - t;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe("GIN twins of FerretDB's indexes on PostgreSQL", () => {
  it("when the twins exist, then the pending-flag poll and _id lookups read them and cost the same at five times the documents, while a scan grows", async () => {
    const orders = mongo
      .db("blueprint")
      .collection<{ _id: string; outboxPending: boolean; status: string }>("orders");
    await orders.createIndex({ outboxPending: 1 }, { name: "outbox_pending_flag" });
    await orders.createIndex({ status: 1, createdAt: 1 }, { name: "status_created" });

    const twins = await ferretdbGinTwins(started[0]!);
    expect(twins).toHaveLength(3); // _id, outboxPending, status (a compound index: its first field)
    expect(await ferretdbGinTwins(started[0]!)).toEqual(twins); // again: nothing new, nothing fails

    const insert = async (from: number, to: number) => {
      for (let i = from; i < to; i += 2_000)
        await orders.insertMany(
          Array.from({ length: 2_000 }, (_, j) => ({
            _id: `o-${i + j}`,
            outboxPending: i + j < 3,
            status: "CONFIRMED",
            // About the size of a real order with its published outbox event.
            items: [{ sku: `sku-${j % 50}`, quantity: 1 + (j % 3) }],
            outbox: [
              { topic: "orders.events", key: `o-${i + j}`, value: { type: "OrderCreated", at: i + j } },
            ],
          })),
        );
    };
    // Through FerretDB's prepared statements, with no ANALYZE since the inserts: median times of the polls and of a
    // whole-table scan.
    const measure = async () => {
      const pending: number[] = [];
      const byId: number[] = [];
      const scan: number[] = [];
      for (let k = 0; k < 15; k++) {
        pending.push(await timed({ outboxPending: true }));
        byId.push(await timed({ _id: `o-${k * 397}` }));
        scan.push(await timed({ customerId: "c-1" })); // no index: the whole table
      }
      return { pending: median(pending), byId: median(byId), scan: median(scan) };
    };

    // The relay polls from the service's start, on an empty collection: PostgreSQL judges FerretDB's prepared
    // statement there, and would keep a generic plan (which cannot use the twins) until an ANALYZE.
    for (let k = 0; k < 30; k++) await timed({ outboxPending: true });
    await insert(0, 8_000);
    expect(await indexOf({ outboxPending: true })).toMatch(/_gin$/);
    expect(await indexOf({ _id: "o-42" })).toMatch(/_gin$/);
    expect(await indexOf({ customerId: "c-1" })).toBeUndefined();
    const small = await measure();
    await insert(8_000, 40_000);
    const large = await measure();

    // Five times the documents: the scan grows with them, the polls do not.
    expect(large.scan / small.scan).toBeGreaterThan(2.5);
    expect(large.pending / small.pending).toBeLessThan(1.6);
    expect(large.byId / small.byId).toBeLessThan(1.6);
  }, 120_000);
});
