import { describe, expect, test } from "vitest";
import { runLoad } from "../test/load.js";
import { commonConfig, drainRule, loadConfig } from "./config.js";
import { createServiceKit } from "./kit.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startSample(env: NodeJS.ProcessEnv) {
  const config = loadConfig(commonConfig(0), { HOST: "127.0.0.1", LOG_LEVEL: "silent", ...env }, [drainRule]);
  const kit = createServiceKit("sample", config);
  const closed: string[] = [];
  kit.lifecycle.onClose("first", async () => void closed.push("first"));
  kit.lifecycle.onClose("second", async () => void closed.push("second"));
  const app = kit.createApp((app) => {
    app.get("/work", async (_req, res) => {
      await sleep(20);
      res.json({ ok: true });
    });
    app.get("/hang", () => undefined);
  });
  return { kit, closed, service: await kit.listen(app) };
}

describe("graceful drain", () => {
  test("when stop() runs under 20 keep-alive clients, then no request fails and /readyz is 503 before the listener closes", async () => {
    const { service, closed } = await startSample({ SHUTDOWN_DELAY_MS: "1000", DRAIN_SECONDS: "5" });
    const load = runLoad({
      baseUrl: service.url,
      request: () => ({ path: "/work" }),
      clients: 20,
      durationMs: 3000,
    });
    await sleep(1000);
    const timeline = await service.stop();
    const result = await load;

    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(20);
    expect(result.unreadySeenAt).toBeDefined();
    expect(result.unreadySeenAt!).toBeLessThan(timeline.listenerClosedAt!);
    // Date.now() and timers round independently: a 1000 ms timer may measure 999 ms.
    expect(timeline.listenerClosedAt! - timeline.drainingAt).toBeGreaterThanOrEqual(990);
    expect(timeline.forcedSockets).toBe(0);
    expect(closed).toEqual(["second", "first"]);
  });

  test("when DRAIN_SECONDS is 1 and SHUTDOWN_DELAY_MS is unset, then the service starts and waits the derived 500 ms", async () => {
    const { service } = await startSample({ DRAIN_SECONDS: "1" });
    expect((await fetch(`${service.url}/work`)).status).toBe(200);
    const timeline = await service.stop();

    const delay = timeline.listenerClosedAt! - timeline.drainingAt;
    expect(delay).toBeGreaterThanOrEqual(490);
    expect(delay).toBeLessThan(1000);
  });

  test("when a request outlives DRAIN_SECONDS, then its socket is destroyed at the deadline and stop() still finishes", async () => {
    const { service } = await startSample({ SHUTDOWN_DELAY_MS: "0", DRAIN_SECONDS: "1" });
    const hanging = fetch(`${service.url}/hang`).catch((err: Error) => err);
    await sleep(100);
    const started = Date.now();
    const timeline = await service.stop();

    expect(timeline.forcedSockets).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(850);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await hanging).toBeInstanceOf(Error);
  });

  test("when a closer hangs, then stop() gives up on it by DRAIN_SECONDS + 4 s and still runs the closers after it", async () => {
    const { kit, service, closed } = await startSample({ SHUTDOWN_DELAY_MS: "0", DRAIN_SECONDS: "1" });
    kit.lifecycle.onClose("hangs", () => new Promise(() => undefined));
    const started = Date.now();
    const timeline = await service.stop();

    expect(Date.now() - started).toBeGreaterThanOrEqual(4500);
    expect(Date.now() - started).toBeLessThan(5500);
    expect(closed).toEqual(["second", "first"]);
    expect(Object.keys(timeline.closers)).toEqual(["hangs", "second", "first"]);
  });
});
