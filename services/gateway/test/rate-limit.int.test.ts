import type { RunningService } from "@blueprint/service-kit";
import { Redis } from "ioredis";
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
/**
 * Windows are whole seconds of the clock, shared by every instance: a burst that straddles a boundary is counted in
 * two windows and may pass whole. Bursts that count one window start just after a boundary.
 */
const atWindowStart = () => new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
const get = (base: string, forwardedFor: string, path = "/api/catalog/products") =>
  fetch(base + path, { headers: { "x-forwarded-for": forwardedFor } });

describe("rate limiting per client", () => {
  test("when a client sends N+1 requests in one second, then one gets 429 with Retry-After and a reason", async () => {
    const ip = client();
    const seenBefore = upstream.seen.length;
    await atWindowStart();
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
    await atWindowStart();
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
    await atWindowStart();
    const answers = await Promise.all(Array.from({ length: limit + 1 }, () => get(untrusting.url, client())));
    expect(answers.filter((r) => r.status === 429)).toHaveLength(1);
  });

  test("when probes and metrics are scraped beyond the limit, then they are never limited", async () => {
    const ip = client();
    for (let i = 0; i < limit + 3; i++) expect((await get(a.url, ip, "/livez")).status).toBe(200);
    expect((await get(a.url, ip, "/readyz")).status).toBe(200);
  });
});

describe("rate limiting with token leases", () => {
  const big = 100;
  let gateways: RunningService[] = [];
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
  });

  /** Scripts Redis has run (each lease is one EVALSHA or EVAL). */
  async function scriptCalls(): Promise<number> {
    const client = new Redis(redis().url);
    try {
      const stats = await client.info("commandstats");
      return [...stats.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    } finally {
      client.disconnect();
    }
  }

  test("when a busy client spreads 2N requests over two instances in one second, then at most N pass and Redis sees one lease per tenth of N", async () => {
    const env = gatewayEnv(
      redis().url,
      { catalog: upstream.url, orders: upstream.url },
      { RATE_LIMIT_PER_SECOND: String(big) },
    );
    gateways = await Promise.all([startGateway(env), startGateway(env)]);
    for (const gateway of gateways) expect(await waitReady(gateway.url)).toBe(true);
    await atWindowStart();
    const ip = client();
    const before = await scriptCalls();
    const answers = await Promise.all(
      Array.from({ length: 2 * big }, (_, i) => get(gateways[i % 2]!.url, ip)),
    );
    const calls = (await scriptCalls()) - before;
    const passed = answers.filter((r) => r.status === 200).length;
    // Never more than the limit; at most one unspent lease per instance (10 - 1 tokens each) fewer.
    expect(passed).toBeLessThanOrEqual(big);
    expect(passed).toBeGreaterThanOrEqual(big - 2 * (big / 10 - 1));
    expect(answers.filter((r) => r.status === 429)).toHaveLength(2 * big - passed);
    // 10 leases of 10 tokens fill the window, plus one refused lease per instance.
    expect(calls).toBeLessThanOrEqual(big / 10 + 2);
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
    await atWindowStart();
    const answers = await Promise.all(Array.from({ length: limit + 1 }, () => get(gateway!.url, ip)));
    expect(answers.map((r) => r.status).sort()).toEqual([...Array(limit).fill(200), 429]);
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.redis).not.toBe("ok");
  });
});
