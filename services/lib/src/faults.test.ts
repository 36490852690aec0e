import { describe, expect, test } from "vitest";
import { faultInjection } from "./faults.js";

function run(handler: NonNullable<ReturnType<typeof faultInjection>>, path = "/"): Promise<unknown> {
  return new Promise((resolve) => handler({ path } as never, {} as never, resolve));
}

describe("fault injection", () => {
  test("when no fault is configured, then no middleware is mounted", () => {
    expect(faultInjection({ errorRate: 0, delayMs: 0 })).toBeUndefined();
  });

  test("when the error rate is 0.3, then exactly 3 of every 10 requests fail, spread out", async () => {
    const handler = faultInjection({ errorRate: 0.3, delayMs: 0 })!;
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++)
      outcomes.push(((await run(handler)) as { code?: string } | undefined)?.code ? "x" : ".");
    expect(outcomes.join("")).toBe("...x..x..x...x..x..x");
  });
});

describe("fault injection on one path", () => {
  test("when FAULT_PATH matches only order reads, then only they fail and every other request passes", async () => {
    const handler = faultInjection({ errorRate: 1, delayMs: 0, path: /^\/orders\/[^/]+$/ })!;
    const code = async (path: string) => ((await run(handler, path)) as { code?: string } | undefined)?.code;
    expect(await code("/orders/o-1")).toBe("FAULT_INJECTED");
    expect(await code("/orders")).toBeUndefined();
    expect(await code("/products/sample-espresso")).toBeUndefined();
  });
});
