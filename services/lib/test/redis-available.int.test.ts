import { afterAll, describe, expect, test } from "vitest";
import { startRedis } from "../../../scripts/lib/servers/redis.js";
import type { RunningServer } from "../../../scripts/lib/servers/index.js";
import { freePort } from "../../../scripts/lib/servers/index.js";
import { createRedis, redisAvailable } from "../src/clients/redis.js";
import { commonConfig, loadConfig } from "../src/config.js";
import { createServiceKit } from "../src/kit.js";
import { captureLogger, eventually } from "./env.js";

// The client of createRedis against a real Redis that is stopped and started again on the same port.
const servers: RunningServer[] = [];
const kit = createServiceKit("kit", loadConfig(commonConfig(0), { SHUTDOWN_DELAY_MS: "0" }), {
  logger: captureLogger("error").logger,
});
afterAll(async () => {
  await kit.lifecycle.stop();
  await Promise.all(servers.map((s) => s.stop()));
});

describe("redisAvailable (real Redis, stopped and started again)", () => {
  test("when Redis is lost, then the client is unavailable in every state until it is ready again, reconnect attempts included", async () => {
    const port = await freePort();
    servers.push(await startRedis({ port }));
    const redis = createRedis(kit, `redis://127.0.0.1:${port}`, "redis", { readiness: false });
    // At start, the first commands wait for the connection.
    expect(redisAvailable(redis)).toBe(true);
    await eventually(async () => redis.status === "ready");
    expect(redisAvailable(redis)).toBe(true);

    await servers.pop()!.stop();
    const seen = new Map<string, boolean[]>();
    for (const until = Date.now() + 2500; Date.now() < until;) {
      const states = seen.get(redis.status) ?? [];
      states.push(redisAvailable(redis));
      seen.set(redis.status, states);
      // One turn of the event loop: a refused connect attempt spans at least one.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect([...seen.keys()]).toContain("reconnecting");
    expect(seen.get("connecting") ?? [], "reconnect attempts were sampled").not.toHaveLength(0);
    for (const [status, available] of seen)
      expect({ status, available: available.includes(true) }).toEqual({ status, available: false });

    servers.push(await startRedis({ port }));
    await eventually(async () => redis.status === "ready", 10_000);
    expect(redisAvailable(redis)).toBe(true);
    redis.disconnect();
  });
});
