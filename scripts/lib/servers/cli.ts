// `node --import tsx scripts/lib/servers/cli.ts smoke`: starts each backing server, prints its start-up time, stops it.
import {
  freePort,
  startKafka,
  startMongo,
  startNginx,
  startRedis,
  stopAll,
  type RunningServer,
} from "./index.js";

async function timed(name: string, start: () => Promise<RunningServer>): Promise<void> {
  const started = performance.now();
  const server = await start();
  const startMs = performance.now() - started;
  const stopStarted = performance.now();
  await server.stop();
  const stopMs = performance.now() - stopStarted;
  console.log(
    `✔ ${name.padEnd(8)} pid ${server.pid} ${server.url}  start ${startMs.toFixed(0)} ms  stop ${stopMs.toFixed(0)} ms`,
  );
}

async function smoke(): Promise<void> {
  await timed("redis", () => startRedis());
  await timed("ferretdb", () => startMongo());
  await timed("kafka", () => startKafka({ topics: [{ name: "smoke", partitions: 1 }] }));
  const port = await freePort();
  await timed("nginx", () =>
    startNginx({
      config: `events {}\nhttp {\n  server {\n    listen 127.0.0.1:${port};\n    location / { return 204; }\n  }\n}\n`,
    }),
  );
}

const command = process.argv[2];
if (command !== "smoke") {
  console.error("usage: node --import tsx scripts/lib/servers/cli.ts smoke");
  process.exit(2);
}
smoke().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await stopAll();
  process.exit(1);
});
