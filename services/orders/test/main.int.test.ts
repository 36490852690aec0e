import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, describe, expect, test } from "vitest";
import { freePort } from "../../../scripts/lib/servers/index.js";
import { useMongo, useRedis } from "../../../test/harness.js";

const mongo = useMongo();
const redis = useRedis();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
});

// The `development` condition makes the kit resolve to its TypeScript sources (no build needed for this test).
function spawnMain(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  exit: Promise<{ code: number | null; stderr: string }>;
} {
  const child = spawn(
    process.execPath,
    ["--conditions=development", "--import", "tsx", "services/orders/src/main.ts"],
    {
      env: { PATH: process.env.PATH, LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
  return { child, exit };
}

describe("orders main.ts", () => {
  test("when PORT is not a number and MONGO_URL is missing, then it exits 1 naming both keys and the fix", async () => {
    const { code, stderr } = await spawnMain({
      PORT: "http",
      REDIS_URL: "redis://127.0.0.1:1",
      KAFKA_BROKERS: "127.0.0.1:1",
    }).exit;

    expect(code).toBe(1);
    expect(stderr).toContain('PORT: value "http" is invalid');
    expect(stderr).toContain(
      "MONGO_URL: is required but not set. Fix: set MONGO_URL to a MongoDB connection string",
    );
  });

  test("when IDEMPOTENCY_TTL_SECONDS is below its minimum, then it exits 1 naming it", async () => {
    const { code, stderr } = await spawnMain({
      MONGO_URL: "mongodb://127.0.0.1:1/",
      REDIS_URL: "redis://127.0.0.1:1",
      KAFKA_BROKERS: "127.0.0.1:1",
      IDEMPOTENCY_TTL_SECONDS: "5",
    }).exit;

    expect(code).toBe(1);
    expect(stderr).toContain("IDEMPOTENCY_TTL_SECONDS:");
    expect(stderr).not.toContain("    at ");
  });

  test("when the process gets SIGTERM, then /readyz turns 503 during the delay and it exits 0", async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const { child, exit } = spawnMain({
      PORT: String(port),
      HOST: "127.0.0.1",
      MONGO_URL: mongo().url,
      MONGO_DB: `orders_main_${Date.now()}`,
      REDIS_URL: redis().url,
      KAFKA_BROKERS: "127.0.0.1:1",
      SHUTDOWN_DELAY_MS: "1000",
      DRAIN_SECONDS: "5",
    });
    let ready = false;
    for (let i = 0; i < 150 && !ready; i++) {
      ready = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(ready).toBe(true);

    const sentAt = Date.now();
    child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const during = await fetch(`${base}/readyz`);
    const { code } = await exit;

    expect(during.status).toBe(503);
    expect(((await during.json()) as { reason: string }).reason).toBe("draining: shutting down");
    expect(code).toBe(0);
    expect(Date.now() - sentAt).toBeLessThan(5000 + 4000);
  });
});
