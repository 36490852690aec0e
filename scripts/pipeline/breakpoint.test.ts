import { describe, expect, it } from "vitest";
import { findKnee, gateRate, SecondBuckets, type BreakpointSecond } from "./breakpoint.js";

const limits = { p95Ms: 300, p99Ms: 800, maxErrorRate: 0.01 };

function second(n: number, over: Partial<BreakpointSecond> = {}): BreakpointSecond {
  return {
    second: n,
    plannedRps: 10 * n,
    requests: 10 * n,
    p95Ms: 40,
    p99Ms: 80,
    errorRate: 0,
    dropped: 0,
    ...over,
  };
}

describe("breakpoint analysis", () => {
  it("when two seconds in a row break p99, then the break is the first of them and the knee the best 3-second mean before it", () => {
    const seconds = [1, 2, 3, 4, 5, 6, 7].map((n) => second(n));
    seconds[5] = second(6, { p99Ms: 900 });
    seconds[6] = second(7, { p99Ms: 1200, requests: 50 });

    expect(findKnee(seconds, limits)).toEqual({ kneeRps: 40, brokeAt: 6, reason: "p99 900 ms > 800 ms" });
  });

  it("when one second alone is slow, then the ramp goes on", () => {
    const seconds = [1, 2, 3, 4, 5].map((n) => second(n));
    seconds[2] = second(3, { p99Ms: 2000 });

    expect(findKnee(seconds, limits)).toEqual({ kneeRps: 40 });
  });

  it("when errors or dropped iterations break, then they are named; few requests are not judged on latency", () => {
    const errors = [second(1), second(2, { errorRate: 0.2 }), second(3, { errorRate: 0.3 })];
    expect(findKnee(errors, limits)).toMatchObject({ brokeAt: 2, reason: "errors 20.0% > 1.0%" });

    const dropped = [second(2), second(3, { dropped: 4 }), second(4, { dropped: 9 })];
    expect(findKnee(dropped, limits).reason).toMatch(/^4 iterations dropped/);

    const sparse = [second(1, { requests: 5, p99Ms: 5000 }), second(2, { requests: 6, p99Ms: 5000 })];
    expect(findKnee(sparse, limits).brokeAt).toBeUndefined();
  });

  it("buckets k6 points of the scenario per second, counts failures and drops, and holds back the newest second", () => {
    const plan = (s: number) => 5 + s;
    const b = new SecondBuckets("breakpoint", plan);
    const at = (ms: number) => new Date(Date.UTC(2026, 11, 3, 8, 0, 0) + ms).toISOString();
    const point = (metric: string, ms: number, value: number, scenario = "breakpoint") => ({
      type: "Point",
      metric,
      data: { time: at(ms), value, tags: { scenario } },
    });
    for (let i = 0; i < 20; i++) b.add(point("http_req_duration", i * 50, i + 1));
    b.add(point("http_req_failed", 100, 1));
    b.add(point("http_req_failed", 200, 0));
    b.add(point("dropped_iterations", 1500, 2));
    b.add(point("http_req_duration", 300, 99_999, "setup"));
    b.add(point("http_req_duration", 2100, 7));

    expect(b.seconds()).toEqual([
      { second: 0, plannedRps: 5, requests: 20, p95Ms: 19, p99Ms: 20, errorRate: 0.05, dropped: 0 },
      { second: 1, plannedRps: 6, requests: 0, p95Ms: 0, p99Ms: 0, errorRate: 0, dropped: 2 },
    ]);
    expect(b.seconds(true)).toHaveLength(3);
  });

  it("sets the gate at kneeFraction of the knee, between the floor and the ceiling", () => {
    const targets = {
      requestsPerSecond: 10,
      breakpoint: { ceilingRps: 400, seconds: 40, kneeFraction: 0.5 },
    };
    expect(gateRate(131, targets)).toBe(65);
    expect(gateRate(12, targets)).toBe(10);
    expect(gateRate(2000, targets)).toBe(400);
    expect(gateRate(131, { requestsPerSecond: 50 })).toBe(50);
  });
});
