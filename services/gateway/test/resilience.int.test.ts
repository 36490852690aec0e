import type { RunningService } from "@blueprint/service-kit";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useRedis } from "../../../test/harness.js";
import { eventually, metricValue } from "../../lib/test/env.js";
import { gatewayEnv, startGateway, timed, type ErrorBody } from "./gateway-env.js";
import { echo, slow, startStubUpstream, status, type StubUpstream } from "./stub-upstream.js";

const redis = useRedis();
let catalog: StubUpstream;
let orders: StubUpstream;
let gateway: RunningService;
// Long enough that scheduling noise on a loaded 2-core machine stays small against it.
const timeoutMs = 1000;
// Long enough that a loaded machine cannot let the circuit half-open between two steps of a test.
const resetMs = 1500;

beforeAll(async () => {
  catalog = await startStubUpstream();
  orders = await startStubUpstream();
  gateway = await startGateway(
    gatewayEnv(
      redis().url,
      { catalog: catalog.url, orders: orders.url },
      {
        UPSTREAM_TIMEOUT_MS: String(timeoutMs),
        UPSTREAM_MAX_RETRIES: "0",
        CIRCUIT_VOLUME_THRESHOLD: "5",
        CIRCUIT_ERROR_PERCENT: "50",
        CIRCUIT_RESET_MS: String(resetMs),
      },
    ),
  );
});
afterAll(async () => {
  await gateway?.stop();
  await Promise.all([catalog?.stop(), orders?.stop()]);
});

const circuitState = (upstream: string) => metricValue(gateway.url, "gateway_circuit_state", { upstream });

describe("timeouts and circuit breaking", () => {
  test("when orders does not answer within the timeout, then the client gets 504 with the reason well before 2x the timeout", async () => {
    orders.behave(slow(5_000));
    const { ms, result } = await timed(() => fetch(`${gateway.url}/api/orders/orders/o-1`));
    expect(result.status).toBe(504);
    expect(((await result.json()) as ErrorBody).error).toMatchObject({
      code: "UPSTREAM_TIMEOUT",
      details: { upstream: "orders", reason: `no answer within ${timeoutMs} ms` },
    });
    expect(ms).toBeGreaterThanOrEqual(timeoutMs - 5);
    expect(ms).toBeLessThan(timeoutMs * 1.7);
    // The gateway hung up on orders instead of leaving the call running.
    expect(await eventually(async () => orders.hungUp === 1, 2000, 10)).toBe(true);
    orders.behave(echo);
  });

  test("when clients hang up on a slow orders, then the gateway hangs up on orders and the circuit does not count it", async () => {
    orders.behave(slow(5_000));
    const hungUpBefore = orders.hungUp;
    const seenBefore = orders.seen.length;
    for (let i = 0; i < 6; i++) {
      const hangUp = fetch(`${gateway.url}/api/orders/orders/o-1`, { signal: AbortSignal.timeout(150) });
      await expect(hangUp).rejects.toThrow();
    }
    // Every call that reached orders was hung up on (a loaded machine may abort some before they are sent).
    const reached = () => orders.seen.length - seenBefore;
    expect(
      await eventually(async () => reached() >= 1 && orders.hungUp - hungUpBefore === reached(), 3000, 10),
    ).toBe(true);
    expect(await circuitState("orders")).toBe(0);
    orders.behave(echo);
    expect((await fetch(`${gateway.url}/api/orders/orders/o-1`)).status).toBe(200);
  });

  test("when catalog keeps failing, then the circuit opens and answers 503 in a few ms without calling catalog", async () => {
    catalog.behave(status(500));
    let failures = 0;
    while ((await circuitState("catalog")) !== 2 && failures < 10) {
      expect((await fetch(`${gateway.url}/api/catalog/products`)).status).toBe(500);
      failures++;
    }
    // The volume threshold is 5 requests in the window, so at most 5 failures get through before it opens.
    expect(failures).toBeLessThanOrEqual(5);
    const seenBefore = catalog.seen.length;

    const { ms, result } = await timed(() => fetch(`${gateway.url}/api/catalog/products`));
    expect(result.status).toBe(503);
    expect(result.headers.get("retry-after")).toBe(String(Math.ceil(resetMs / 1000)));
    expect(((await result.json()) as ErrorBody).error).toEqual({
      code: "UPSTREAM_UNAVAILABLE",
      message: "catalog: circuit open",
      details: { upstream: "catalog", reason: "circuit open" },
    });
    const times: number[] = [ms];
    for (let i = 0; i < 19; i++) {
      const rejected = await timed(() => fetch(`${gateway.url}/api/catalog/products/x`));
      expect(rejected.result.status).toBe(503);
      times.push(rejected.ms);
    }
    times.sort((a, b) => a - b);
    expect(times[10]).toBeLessThan(25);
    for (let i = 0; i < 20; i++)
      expect((await fetch(`${gateway.url}/api/catalog/products/x`)).status).toBe(503);
    expect(catalog.seen.length).toBe(seenBefore);
    expect(await circuitState("orders")).toBe(0);
  });

  test("when catalog recovers after the reset time, then one trial request closes the circuit again", async () => {
    catalog.behave(echo);
    const reopened = await eventually(async () => (await circuitState("catalog")) === 1, 3 * resetMs, 20);
    expect(reopened).toBe(true);
    const seenBefore = catalog.seen.length;

    const trial = await fetch(`${gateway.url}/api/catalog/products`);
    expect(trial.status).toBe(200);
    expect(catalog.seen.length).toBe(seenBefore + 1);
    expect(await circuitState("catalog")).toBe(0);
    expect((await fetch(`${gateway.url}/api/catalog/products`)).status).toBe(200);
  });

  test("when a half-open trial fails, then the circuit opens again at once", async () => {
    orders.behave(status(503));
    for (let i = 0; i < 20 && (await circuitState("orders")) !== 2; i++)
      await (await fetch(`${gateway.url}/api/orders/orders/o-2`)).text();
    expect(await circuitState("orders")).toBe(2);
    expect(await eventually(async () => (await circuitState("orders")) === 1, 3 * resetMs, 20)).toBe(true);
    const seenBefore = orders.seen.length;

    const trial = await fetch(`${gateway.url}/api/orders/orders/o-2`);
    expect(trial.status).toBe(503);
    expect(await trial.json()).toEqual({ error: "stub 503" });
    expect(orders.seen.length).toBe(seenBefore + 1);
    expect(await circuitState("orders")).toBe(2);
    expect(
      ((await (await fetch(`${gateway.url}/api/orders/orders/o-2`)).json()) as ErrorBody).error.code,
    ).toBe("UPSTREAM_UNAVAILABLE");
  });

  test("when an upstream is down, then the gateway stays ready, since readiness never depends on upstreams", async () => {
    expect(await circuitState("orders")).toBe(2);
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", checks: { redis: "ok" } });
  });
});
