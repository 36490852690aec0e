import { join } from "node:path";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { answersWithStatus, runSchemathesisSuite } from "./schemathesis.js";
import { startFuzzStack, type FuzzStack } from "./stack.js";

// A bounded schemathesis run through the gateway (real FerretDB, Redis, Kafka; services in-process). Any finding
// fails: a 5xx, an answer outside the document (status, headers, body: a 4xx must carry {error: {code, message}}),
// an invalid request accepted, a valid one refused, or an answer slower than the gateway's deadline allows.
let stack: FuzzStack;
beforeAll(async () => {
  stack = await startFuzzStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe("fuzzing the public API through the gateway", () => {
  test("every generated case, stateful links included, gets a documented answer and no 5xx", async () => {
    const reportDir = join(tmpdir(), `fuzz-short-${process.pid}-${Date.now()}`);
    const result = await runSchemathesisSuite({
      baseUrl: stack.gateway.url,
      maxExamples: Number(process.env.FUZZ_EXAMPLES ?? 40),
      seed: Number(process.env.FUZZ_SEED ?? 20261202),
      reportDir,
      deadlineMs: 100_000,
      maxResponseSeconds: 4,
    });
    console.info(
      `schemathesis: ${result.cases} cases in ${result.seconds.toFixed(1)} s, ${result.failures} failures`,
    );
    expect(result.cases, result.summary).toBeGreaterThanOrEqual(200);
    // The stateful link was followed: orders created, then read back by the id in their 201.
    expect(answersWithStatus(join(reportDir, "orders-stateful"), 201), result.summary).toBeGreaterThan(0);
    expect(answersWithStatus(join(reportDir, "orders-stateful"), 200), result.summary).toBeGreaterThan(0);
    expect({ exitCode: result.exitCode, failures: result.failures }, result.summary).toEqual({
      exitCode: 0,
      failures: 0,
    });
  }, 150_000);
});
