import { MongoClient, type Db } from "mongodb";
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
