import { assertPortFree, freePort } from "./ports.js";
import { findBinary } from "./paths.js";
import { prepareDir, runningServer, spawnTracked, waitUntilReady, type RunningServer } from "./process.js";
import { tcpExchange } from "./probes.js";

export interface RedisOptions {
  host?: string;
  port?: number;
  dir?: string;
}

/** Starts redis-server without persistence; resolves once it answers PING. url: redis://host:port */
export async function startRedis(opts: RedisOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort(host));
  await assertPortFree("redis", host, port);
  const { dir, owned } = prepareDir("redis", opts.dir);
  const proc = spawnTracked({
    tool: "redis",
    command: findBinary("redis-server"),
    args: [
      "--port",
      String(port),
      "--bind",
      host,
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--daemonize",
      "no",
    ],
    dir,
  });
  await waitUntilReady(
    proc,
    async () => (await tcpExchange(host, port, "PING\r\n")).startsWith("+PONG"),
    15_000,
  );
  return runningServer(proc, {
    host,
    port,
    url: `redis://${host}:${port}`,
    dir,
    ownsDir: owned,
    stopTimeoutMs: 5_000,
  });
}
