import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { assertPortFree, freePort } from "./ports.js";
import { findBinary } from "./paths.js";
import { prepareDir, runningServer, spawnTracked, waitUntilReady, type RunningServer } from "./process.js";

export interface MongoOptions {
  host?: string;
  port?: number;
  dir?: string;
  /**
   * Run on PostgreSQL (`--handler=postgresql`) at this URL, e.g. ferretdbUrl([...]) from postgres.ts;
   * default: SQLite files in dir.
   */
  postgresqlUrl?: string;
}

/** `hello` answers without a backend; `ping` asks the backend, so it is the probe for the PostgreSQL handler. */
async function answers(url: string, command: "hello" | "ping"): Promise<boolean> {
  const client = new MongoClient(url, {
    directConnection: true,
    serverSelectionTimeoutMS: 500,
    connectTimeoutMS: 500,
  });
  try {
    const reply = await client.db("admin").command({ [command]: 1 });
    return reply.ok === 1;
  } finally {
    await client.close();
  }
}

/**
 * Starts FerretDB (MongoDB wire protocol on SQLite files in dir, or on PostgreSQL at opts.postgresqlUrl); resolves
 * once it answers `hello` (SQLite) or `ping` (PostgreSQL, which needs a writable backend). url: mongodb://host:port/
 *
 * Each FerretDB process caches the database and collection list: a collection created through one instance stays
 * invisible to another instance on the same PostgreSQL that already loaded the list, so create the schema before a
 * second FerretDB serves its first command.
 */
export async function startMongo(opts: MongoOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort(host));
  await assertPortFree("ferretdb", host, port);
  const { dir, owned } = prepareDir("ferretdb", opts.dir);
  const backend = opts.postgresqlUrl
    ? ["--handler=postgresql", `--postgresql-url=${opts.postgresqlUrl}`]
    : ["--handler=sqlite", `--sqlite-url=file:${join(dir, "data")}/`];
  // FerretDB refuses a SQLite directory that does not exist yet.
  if (!opts.postgresqlUrl) mkdirSync(join(dir, "data"), { recursive: true });
  const proc = spawnTracked({
    tool: "ferretdb",
    command: findBinary("ferretdb"),
    args: [
      ...backend,
      `--state-dir=${dir}`,
      `--listen-addr=${host}:${port}`,
      // "-" turns the debug HTTP listener off, so parallel instances do not fight over 127.0.0.1:8088.
      "--debug-addr=-",
      "--telemetry=disable",
      "--log-level=warn",
    ],
    dir,
  });
  const url = `mongodb://${host}:${port}/`;
  await waitUntilReady(proc, () => answers(url, opts.postgresqlUrl ? "ping" : "hello"), 15_000);
  return runningServer(proc, { host, port, url, dir, ownsDir: owned, stopTimeoutMs: 5_000 });
}
