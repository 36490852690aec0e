import type { RunningService } from "@blueprint/service-kit";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startRedis, type RunningServer } from "../../../scripts/lib/servers/index.js";
import { useRedis } from "../../../test/harness.js";
import { eventually } from "../../lib/test/env.js";
import { gatewayEnv, startGateway, type ErrorBody } from "./gateway-env.js";
import { startStubUpstream, type StubUpstream } from "./stub-upstream.js";

const redis = useRedis();
const limit = 5;
let upstream: StubUpstream;
let a: RunningService;
let b: RunningService;
let untrusting: RunningService;

beforeAll(async () => {
  upstream = await startStubUpstream();
  const env = gatewayEnv(
    redis().url,
    { catalog: upstream.url, orders: upstream.url },
    {
      RATE_LIMIT_PER_SECOND: String(limit),
    },
  );
  [a, b, untrusting] = await Promise.all([
    startGateway(env),
    startGateway(env),
    startGateway({ ...env, TRUST_PROXY: "false" }),
  ]);
  // The shared window needs the shared store: wait until each gateway reports Redis ok (readiness does not wait).
  for (const gateway of [a, b, untrusting]) expect(await waitReady(gateway.url)).toBe(true);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), untrusting?.stop()]);
  await upstream?.stop();
});

let clients = 0;
/** A fresh documentation-range address per use, set as the trusted edge would, so tests never share a window. */
const client = () => `203.0.113.${++clients}`;
const waitReady = (base: string) =>
  eventually(
    async () =>
      ((await (await fetch(`${base}/readyz`)).json()) as { checks: Record<string, string> }).checks.redis ===
      "ok",
    5000,
    20,
  );
const get = (base: string, forwardedFor: string, path = "/api/catalog/products") =>
  fetch(base + path, { headers: { "x-forwarded-for": forwardedFor } });

describe("rate limiting per client", () => {
  test("when a client sends N+1 requests in one second, then one gets 429 with Retry-After and a reason", async () => {
    const ip = client();
    const seenBefore = upstream.seen.length;
    // Concurrent, so all N+1 land in one 1 s window even on a loaded machine.
    const answers = await Promise.all(Array.from({ length: limit + 1 }, () => get(a.url, ip)));
    expect(answers.map((r) => r.status).sort()).toEqual([...Array(limit).fill(200), 429]);
    expect(upstream.seen.length - seenBefore).toBe(limit);

    const rejected = answers.find((r) => r.status === 429)!;
    expect(Number(rejected.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await rejected.json()) as ErrorBody).error).toMatchObject({
      code: "RATE_LIMITED",
      details: { reason: "rate limit", limitPerSecond: limit },
    });
    expect((await get(a.url, client())).status).toBe(200);
  });

  test("when a client spreads requests over two gateway instances, then they share one limit through Redis", async () => {
    const ip = client();
    const answers = await Promise.all(
      Array.from({ length: 2 * limit }, (_, i) => get(i % 2 === 0 ? a.url : b.url, ip)),
    );
    // Each instance alone would have allowed `limit`, i.e. all 2 * limit.
    expect(answers.filter((r) => r.status === 200)).toHaveLength(limit);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(limit);
  });

  test("when the window passes, then the client is served again", async () => {
    const ip = client();
    for (let i = 0; i <= limit; i++) await get(a.url, ip);
    expect((await get(a.url, ip)).status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await get(b.url, ip)).status).toBe(200);
  });

  test("when the peer is not a trusted proxy, then a forged X-Forwarded-For does not buy a fresh limit", async () => {
    const answers = await Promise.all(Array.from({ length: limit + 1 }, () => get(untrusting.url, client())));
    expect(answers.filter((r) => r.status === 429)).toHaveLength(1);
  });

  test("when probes and metrics are scraped beyond the limit, then they are never limited", async () => {
    const ip = client();
    for (let i = 0; i < limit + 3; i++) expect((await get(a.url, ip, "/livez")).status).toBe(200);
    expect((await get(a.url, ip, "/readyz")).status).toBe(200);
  });
});

describe("rate limiting without Redis", () => {
  let ownRedis: RunningServer | undefined;
  let gateway: RunningService | undefined;
  afterAll(async () => {
    await gateway?.stop();
    await ownRedis?.stop();
  });

  test("when Redis is down, then the in-memory insurance limiter still limits and the gateway stays ready", async () => {
    ownRedis = await startRedis();
    gateway = await startGateway(
      gatewayEnv(
        ownRedis.url,
        { catalog: upstream.url, orders: upstream.url },
        { RATE_LIMIT_PER_SECOND: String(limit) },
      ),
    );
    expect(await waitReady(gateway.url)).toBe(true);
    await ownRedis.stop();

    const ip = client();
    const answers = await Promise.all(Array.from({ length: limit + 1 }, () => get(gateway!.url, ip)));
    expect(answers.map((r) => r.status).sort()).toEqual([...Array(limit).fill(200), 429]);
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.redis).not.toBe("ok");
  });
});
