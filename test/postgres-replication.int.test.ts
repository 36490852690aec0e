// The per-region MongoDB tier on real PostgreSQL: FerretDB on region-a's primary, synchronous streaming replication
// to region-b's standby, promotion as the takeover, and the old primary rejoining as a standby.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MongoClient } from "mongodb";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMongo } from "../scripts/lib/servers/mongo.js";
import {
  ferretdbUrl,
  rejoinAsStandby,
  replicationLag,
  setSynchronous,
  startPostgres,
  type RunningPostgres,
} from "../scripts/lib/servers/postgres.js";
import type { RunningServer } from "../scripts/lib/servers/process.js";

const root = mkdtempSync(join(tmpdir(), "blueprint-pg-replication-"));
const started: RunningServer[] = [];
const clients: { close(): Promise<unknown> }[] = [];
let primary: RunningPostgres; // region-a
let standby: RunningPostgres; // region-b
let mongo: MongoClient; // through one FerretDB on ferretdbUrl([primary, standby])

async function track<T extends RunningServer>(server: Promise<T>): Promise<T> {
  const running = await server;
  started.push(running);
  return running;
}

/** A superuser session on one node (trust on loopback). */
async function sql(at: { host: string; port: number }): Promise<pg.Client> {
  const client = new pg.Client({ host: at.host, port: at.port, user: "postgres", database: "ferretdb" });
  client.on("error", () => undefined);
  await client.connect();
  clients.push({ close: () => client.end().catch(() => undefined) });
  return client;
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(10);
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms (last error: ${String(last)})`);
}

/** The postmaster and every process below it, by /proc ppid (backends call setsid(), so not by process group). */
function processTree(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    const parent = statField(Number(entry), 1);
    if (parent) byParent.set(Number(parent), [...(byParent.get(Number(parent)) ?? []), Number(entry)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(byParent.get(tree[i]!) ?? []));
  return tree;
}

/** Field n after "pid (comm)" in /proc/<pid>/stat: 0 state, 1 ppid. */
function statField(pid: number, n: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[n];
  } catch {
    return undefined;
  }
}

const running = (pid: number): boolean => !["Z", "X", undefined].includes(statField(pid, 0));

/** The _ids of shop.orders as PostgreSQL stores them (FerretDB: schema per database, a table per collection). */
async function orderIdsIn(node: { host: string; port: number }): Promise<string[]> {
  const client = await sql(node);
  const { rows: tables } = await client.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'shop' AND table_name LIKE 'orders%'",
  );
  if (tables.length === 0) return [];
  const { rows } = await client.query<{ id: string }>(
    `SELECT _jsonb->>'_id' AS id FROM shop."${tables[0]!.table_name}" ORDER BY 1`,
  );
  return rows.map((row) => row.id);
}

const orders = () => mongo.db("shop").collection<{ _id: string; region: string }>("orders");

beforeAll(async () => {
  primary = await track(startPostgres({ dir: join(root, "region-a"), synchronousStandby: true }));
  standby = await track(startPostgres({ dir: join(root, "region-b"), standbyOf: primary }));
  const ferretdb = await track(startMongo({ postgresqlUrl: ferretdbUrl([primary, standby]) }));
  mongo = new MongoClient(ferretdb.url, { serverSelectionTimeoutMS: 5_000, retryWrites: false });
  clients.push(mongo);
});

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await Promise.allSettled(started.map((server) => server.stop()));
  rmSync(root, { recursive: true, force: true });
});

describe("PostgreSQL streaming replication under FerretDB", () => {
  it("when a document is written through FerretDB on the primary, then the standby serves it and the lag is measured", async () => {
    await orders().insertOne({ _id: "order-1", region: "region-a" });

    const ids = await eventually("order-1 on the standby", async () => {
      const found = await orderIdsIn(standby);
      return found.length > 0 ? found : undefined;
    });
    expect(ids).toEqual(["order-1"]);
    expect(await standby.role()).toBe("standby");
    expect(await replicationLag(primary)).toBeGreaterThanOrEqual(0);
  });

  it("when the synchronous standby is down, then a commit waits for it until setSynchronous(false) releases it", async () => {
    const onPrimary = await sql(primary);
    await onPrimary.query("CREATE TABLE sync_probe (id int PRIMARY KEY)");
    await standby.stop();

    const commit = onPrimary.query("INSERT INTO sync_probe VALUES (1)");
    expect(await Promise.race([commit.then(() => "committed"), sleep(1_000, "waiting")])).toBe("waiting");
    await setSynchronous(primary, false);
    await expect(commit).resolves.toMatchObject({ rowCount: 1 });

    // Back to the starting point for the takeover: the standby streams again and commits wait for it.
    standby = await track(startPostgres({ dir: standby.dir, port: standby.port, standbyOf: primary }));
    await setSynchronous(primary, true);
    await onPrimary.query("INSERT INTO sync_probe VALUES (2)");
  });

  it("when region-a's primary crashes, then the promoted standby takes writes and has every acknowledged one (RPO 0)", async () => {
    await orders().insertOne({ _id: "order-2", region: "region-a" });
    // Idle backends of both clients must die with the postmaster.
    await sql(primary);
    const tree = processTree(primary.pid);
    expect(tree.length).toBeGreaterThan(5);

    await primary.crash();
    expect(tree.filter(running)).toEqual([]);

    const promoteStarted = Date.now();
    await standby.promote();
    const promoteMs = Date.now() - promoteStarted;
    await eventually("a write through FerretDB after the promotion", () =>
      orders()
        .insertOne({ _id: "order-3", region: "region-b" })
        .then(() => true),
    );
    const writableMs = Date.now() - promoteStarted - promoteMs;
    console.info(`promote: ${promoteMs} ms; FerretDB writes again ${writableMs} ms later`);

    expect(await standby.role()).toBe("primary");
    expect(await orderIdsIn(standby)).toEqual(["order-1", "order-2", "order-3"]);
  });

  it("when the old primary rejoins, then pg_rewind makes it a streaming standby of the new primary", async () => {
    expect(await rejoinAsStandby(primary.dir, standby)).toEqual({ rejoinedBy: "pg_rewind" });

    const rejoined = await track(startPostgres({ dir: primary.dir, standbyOf: standby }));
    expect(await rejoined.role()).toBe("standby");
    expect(await replicationLag(standby)).toBeGreaterThanOrEqual(0);
    await setSynchronous(standby, true);
    await orders().insertOne({ _id: "order-4", region: "region-b" });
    const { rows } = await (await sql(rejoined)).query("SELECT status FROM pg_stat_wal_receiver");
    expect(rows).toEqual([{ status: "streaming" }]);
    expect(
      await eventually("order-4 on the rejoined standby", async () => {
        const ids = await orderIdsIn(rejoined);
        return ids.includes("order-4") ? ids : undefined;
      }),
    ).toEqual(["order-1", "order-2", "order-3", "order-4"]);
  });
});
