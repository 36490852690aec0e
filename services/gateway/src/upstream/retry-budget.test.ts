import { describe, expect, test } from "vitest";
import { backoffMs, isIdempotent, RetryBudget } from "./retry-budget.js";

describe("retry budget", () => {
  test("when the upstream keeps failing, then retries stay within the percentage of requests plus the burst", () => {
    const budget = new RetryBudget(10);
    let retries = 0;
    for (let i = 0; i < 1000; i++) {
      budget.onRequest();
      if (budget.tryRetry()) retries++;
    }
    // 10 tokens of burst, then 0.1 per request.
    expect(retries).toBeGreaterThanOrEqual(100);
    expect(retries).toBeLessThanOrEqual(110);
  });

  test("when the burst is spent, then a retry needs ten new requests at 10 percent", () => {
    const budget = new RetryBudget(10, 1);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    for (let i = 0; i < 9; i++) budget.onRequest();
    expect(budget.tryRetry()).toBe(false);
    budget.onRequest();
    budget.onRequest();
    expect(budget.tryRetry()).toBe(true);
  });

  test("when the budget is 0 percent, then no retry is ever allowed", () => {
    const budget = new RetryBudget(0);
    for (let i = 0; i < 100; i++) budget.onRequest();
    expect(budget.tryRetry()).toBe(false);
  });

  test("when requests are quiet for long, then saved tokens never exceed the capacity", () => {
    const budget = new RetryBudget(20);
    for (let i = 0; i < 10_000; i++) budget.onRequest();
    expect(budget.available).toBe(20);
  });
});

describe("backoff", () => {
  test("when the retry number grows, then the jitter range doubles up to the cap", () => {
    expect(backoffMs(0, 20, 250, () => 1)).toBe(20);
    expect(backoffMs(2, 20, 250, () => 1)).toBe(80);
    expect(backoffMs(10, 20, 250, () => 1)).toBe(250);
    expect(backoffMs(3, 20, 250, () => 0)).toBe(0);
  });
});

describe("idempotency", () => {
  test("when the method is safe or an Idempotency-Key is sent, then the request may be retried", () => {
    expect(isIdempotent("GET", {})).toBe(true);
    expect(isIdempotent("HEAD", {})).toBe(true);
    expect(isIdempotent("POST", { "idempotency-key": "k-1" })).toBe(true);
  });

  test("when a POST, PUT or DELETE has no Idempotency-Key, then it is never retried", () => {
    expect(isIdempotent("POST", {})).toBe(false);
    expect(isIdempotent("PUT", {})).toBe(false);
    expect(isIdempotent("DELETE", { "content-type": "application/json" })).toBe(false);
  });
});
