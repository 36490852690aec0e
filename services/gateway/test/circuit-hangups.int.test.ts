import type { RunningService } from "@blueprint/service-kit";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useRedis } from "../../../test/harness.js";
import { eventually, metricValue } from "../../lib/test/env.js";
import { gatewayEnv, startGateway, type ErrorBody } from "./gateway-env.js";
import { slow, startStubUpstream, type StubUpstream } from "./stub-upstream.js";

const redis = useRedis();
let orders: StubUpstream;
let catalog: StubUpstream;
let gateway: RunningService;
// The deadline the patient clients wait for; impatient ones leave after a fraction of it.
const timeoutMs = 600;
const impatientMs = 150;
// Long enough that a loaded machine cannot let the circuit half-open between two steps of a test.
const resetMs = 1500;
const volume = 5;

beforeAll(async () => {
  orders = await startStubUpstream(slow(30_000));
  catalog = await startStubUpstream(slow(30_000));
  gateway = await startGateway(
    gatewayEnv(
      redis().url,
      { catalog: catalog.url, orders: orders.url },
      {
        UPSTREAM_TIMEOUT_MS: String(timeoutMs),
        UPSTREAM_MAX_RETRIES: "0",
        CIRCUIT_VOLUME_THRESHOLD: String(volume),
        CIRCUIT_ERROR_PERCENT: "50",
        CIRCUIT_RESET_MS: String(resetMs),
      },
    ),
  );
});
afterAll(async () => {
  await gateway?.stop();
  await Promise.all([orders?.stop(), catalog?.stop()]);
});

const circuitState = (upstream: string) => metricValue(gateway.url, "gateway_circuit_state", { upstream });

/** A client that gives up after `impatientMs`; resolves once the gateway has hung up on the upstream for it. */
const impatient = (path: string) =>
  fetch(`${gateway.url}${path}`, { signal: AbortSignal.timeout(impatientMs) }).then(
    () => "answered",
    () => "left",
  );

describe("client hang-ups and the circuit breaker", () => {
  test("when many clients hang up on a hanging catalog, then the deadlines of the patient ones still open the circuit", async () => {
    // Twice as many impatient clients as patient ones: counted as successes, they would keep the error rate at 33%.
    const leaving = Array.from({ length: 2 * volume }, () => impatient("/api/catalog/products"));
    const waiting = Array.from({ length: volume }, () => fetch(`${gateway.url}/api/catalog/products`));

    expect(await Promise.all(leaving)).toEqual(Array(2 * volume).fill("left"));
    const answers = await Promise.all(waiting);
    expect(answers.map((r) => r.status)).toEqual(Array(volume).fill(504));
    await Promise.all(answers.map((r) => r.text()));
    // Every client reached catalog, so the hang-ups were really there to be miscounted.
    expect(catalog.seen.length).toBe(3 * volume);

    expect(await circuitState("catalog")).toBe(2);
    const rejected = await fetch(`${gateway.url}/api/catalog/products`);
    expect(rejected.status).toBe(503);
    expect(((await rejected.json()) as ErrorBody).error.details?.reason).toBe("circuit open");
  });

  test("when the client of a half-open trial hangs up, then the circuit stays half-open and the next request is the trial", async () => {
    const answers = await Promise.all(
      Array.from({ length: volume }, () => fetch(`${gateway.url}/api/orders/orders/o-1`)),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(volume).fill(504));
    await Promise.all(answers.map((r) => r.text()));
    expect(await circuitState("orders")).toBe(2);
    expect(await eventually(async () => (await circuitState("orders")) === 1, 3 * resetMs, 20)).toBe(true);
    // orders never answers, so every request it saw ends hung up on; wait until the count has settled.
    const allHungUp = () => eventually(async () => orders.hungUp === orders.seen.length, 3000, 10);
    expect(await allHungUp()).toBe(true);
    const seenBefore = orders.seen.length;

    expect(await impatient("/api/orders/orders/o-1")).toBe("left");
    // The trial reached orders and the gateway hung up on it: only then can its outcome have been counted.
    expect(await allHungUp()).toBe(true);
    expect(orders.seen.length).toBe(seenBefore + 1);
    expect(await circuitState("orders")).toBe(1);

    const trial = await fetch(`${gateway.url}/api/orders/orders/o-1`);
    expect(trial.status).toBe(504);
    await trial.text();
    expect(orders.seen.length).toBe(seenBefore + 2);
    expect(await circuitState("orders")).toBe(2);
  });
});
