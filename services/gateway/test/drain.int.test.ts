import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useRedis } from "../../../test/harness.js";
import { gatewayEnv, startGateway } from "./gateway-env.js";
import { rawRequest } from "./raw-http.js";
import { startStubUpstream, type StubUpstream } from "./stub-upstream.js";

const redis = useRedis();
let upstream: StubUpstream;

beforeAll(async () => {
  upstream = await startStubUpstream((_req, res) => {
    setTimeout(() => res.end('{"slow":"but fine"}'), 600);
  });
});
afterAll(async () => {
  await upstream?.stop();
});

describe("graceful stop", () => {
  test("when the gateway stops during a proxied request, then readiness turns 503 and the request completes with Connection: close", async () => {
    const gateway = await startGateway(
      gatewayEnv(redis().url, { catalog: upstream.url, orders: upstream.url }, { SHUTDOWN_DELAY_MS: "300" }),
    );
    try {
      const inFlight = rawRequest(gateway.url, {
        path: "/api/catalog/products",
        headers: { connection: "keep-alive" },
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const stopped = gateway.stop();
      const ready = await fetch(`${gateway.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ reason: "draining: shutting down" });

      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('{"slow":"but fine"}');
      expect(answer.headers.connection).toBe("close");
      const timeline = await stopped;
      expect(timeline.forcedSockets).toBe(0);
    } finally {
      await gateway.stop();
    }
  });
});
