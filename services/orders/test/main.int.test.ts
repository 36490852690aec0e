import { spawn } from "node:child_process";
import { describe, expect, test } from "vitest";

// The `development` condition makes the kit resolve to its TypeScript sources (no build needed for this test).
function runMain(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--conditions=development", "--import", "tsx", "services/orders/src/main.ts"],
      {
        env: { PATH: process.env.PATH, ...env },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe("orders main.ts with invalid config", () => {
  test("when PORT is not a number and MONGO_URL is missing, then it exits 1 naming both keys and the fix", async () => {
    const { code, stderr } = await runMain({
      PORT: "http",
      REDIS_URL: "redis://127.0.0.1:1",
      KAFKA_BROKERS: "127.0.0.1:1",
    });

    expect(code).toBe(1);
    expect(stderr).toContain('PORT: value "http" is invalid');
    expect(stderr).toContain(
      "MONGO_URL: is required but not set. Fix: set MONGO_URL to a MongoDB connection string",
    );
  });

  test("when IDEMPOTENCY_TTL_SECONDS is below its minimum, then it exits 1 naming it", async () => {
    const { code, stderr } = await runMain({
      MONGO_URL: "mongodb://127.0.0.1:1/",
      REDIS_URL: "redis://127.0.0.1:1",
      KAFKA_BROKERS: "127.0.0.1:1",
      IDEMPOTENCY_TTL_SECONDS: "5",
    });

    expect(code).toBe(1);
    expect(stderr).toContain("IDEMPOTENCY_TTL_SECONDS:");
    expect(stderr).not.toContain("    at ");
  });
});
