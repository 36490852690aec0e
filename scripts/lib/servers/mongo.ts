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
}

async function answersHello(url: string): Promise<boolean> {
  const client = new MongoClient(url, {
    directConnection: true,
    serverSelectionTimeoutMS: 500,
    connectTimeoutMS: 500,
  });
  try {
    const reply = await client.db("admin").command({ hello: 1 });
    return reply.ok === 1;
  } finally {
    await client.close();
  }
}

/** Starts FerretDB (MongoDB wire protocol on SQLite files in dir); resolves once it answers `hello`. url: mongodb://host:port/ */
export async function startMongo(opts: MongoOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort(host));
  await assertPortFree("ferretdb", host, port);
  const { dir, owned } = prepareDir("ferretdb", opts.dir);
  // FerretDB refuses a SQLite directory that does not exist yet.
  mkdirSync(join(dir, "data"), { recursive: true });
  const proc = spawnTracked({
    tool: "ferretdb",
    command: findBinary("ferretdb"),
    args: [
      "--handler=sqlite",
      `--sqlite-url=file:${join(dir, "data")}/`,
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
  await waitUntilReady(proc, () => answersHello(url), 15_000);
  return runningServer(proc, { host, port, url, dir, ownsDir: owned, stopTimeoutMs: 5_000 });
}
