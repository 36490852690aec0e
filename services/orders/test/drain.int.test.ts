import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunningService } from "@blueprint/service-kit";
import { useMongo, useRedis } from "../../../test/harness.js";
import { runLoad } from "../../lib/test/load.js";
import { testEnv } from "../../lib/test/env.js";
import { loadOrdersConfig } from "../src/config.js";
import { start } from "../src/server.js";

const mongo = useMongo();
const redis = useRedis();
let orders: RunningService | undefined;
afterAll(async () => {
  await orders?.stop();
});
beforeAll(async () => {
  orders = await start(
    loadOrdersConfig(
      testEnv({ mongo: mongo(), redis: redis() }, `orders_drain_${Date.now()}`, {
        SHUTDOWN_DELAY_MS: "1500",
        DRAIN_SECONDS: "8",
      }),
    ),
  );
});

describe("orders graceful shutdown", () => {
  test("when stop() runs under 20 keep-alive clients creating and reading orders, then no request fails and /readyz is 503 first", async () => {
    const service = orders!;
    const seed = await fetch(`${service.url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
      body: JSON.stringify({ customerId: "c-drain", items: [{ sku: "s-1", quantity: 1 }] }),
    });
    const { id } = (await seed.json()) as { id: string };
    const load = runLoad({
      baseUrl: service.url,
      clients: 20,
      durationMs: 3000,
      okStatus: (s) => s === 200 || s === 201,
      request: (i) =>
        i % 2 === 0
          ? { path: `/orders/${id}` }
          : {
              path: "/orders",
              init: {
                method: "POST",
                headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
                body: JSON.stringify({ customerId: "c-drain", items: [{ sku: "s-1", quantity: 1 }] }),
              },
            },
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const timeline = await service.stop();
    orders = undefined;
    const result = await load;
    console.info(
      `drain: ${result.ok} ok, ${result.failed} failed; 503 seen +${result.unreadySeenAt! - timeline.drainingAt} ms, listener closed +${timeline.listenerClosedAt! - timeline.drainingAt} ms, connections done +${timeline.connectionsDoneAt! - timeline.drainingAt} ms, clients closed +${timeline.clientsClosedAt! - timeline.drainingAt} ms`,
    );

    expect(result.unreadyReason).toContain("draining");
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(50);
    expect(result.unreadySeenAt!).toBeLessThan(timeline.listenerClosedAt!);
    expect(timeline.forcedSockets).toBe(0);
    expect(timeline.clientsClosedAt! - timeline.drainingAt).toBeLessThan(8000);
  });
});
