import { MongoClient, type Collection, type Db, type Document, type OptionalUnlessRequiredId } from "mongodb";
import type { ServiceKit } from "../kit.js";

/** MongoClient with short timeouts so a dead server fails requests fast; readiness runs `ping`. */
export async function connectMongo(
  kit: ServiceKit,
  url: string,
  dbName: string,
): Promise<{ client: MongoClient; db: Db }> {
  const client = new MongoClient(url, {
    appName: `${kit.service}-${kit.config.color}`,
    serverSelectionTimeoutMS: 3000,
    connectTimeoutMS: 3000,
    socketTimeoutMS: 10_000,
    maxPoolSize: 20,
  });
  await client.connect();
  const db = client.db(dbName);
  kit.health.addCheck("mongo", () => db.command({ ping: 1 }));
  kit.lifecycle.onClose("mongo", () => client.close());
  return { client, db };
}

/** A write refused by a unique index (E11000): the document, or one with the same unique key, exists. */
export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: number } | null)?.code === 11000;
}

/**
 * Creates the collections that do not exist yet. A service creates all its collections at startup, never lazily by
 * a first write: FerretDB caches the collection list per process, so a collection that another FerretDB over the
 * same PostgreSQL creates later (the other region's) stays invisible to it, and its own first write then fails.
 */
export async function ensureCollections(db: Db, names: string[]): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const name of names) {
    if (existing.has(name)) continue;
    // 48 NamespaceExists: another instance created it in between.
    await db.createCollection(name).catch((err: unknown) => {
      if ((err as { code?: number } | null)?.code !== 48) throw err;
    });
  }
}

/**
 * Inserts `doc` unless a document with the same unique key exists (a unique-key insert is atomic on FerretDB and
 * MongoDB alike): null when it was inserted, the existing document (found by `existing`) otherwise.
 */
export async function insertOrGet<T extends Document>(
  collection: Collection<T>,
  doc: OptionalUnlessRequiredId<T>,
  existing: () => Promise<T | null>,
): Promise<T | null> {
  try {
    await collection.insertOne(doc);
    return null;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const found = await existing();
    if (!found) throw err;
    return found;
  }
}
