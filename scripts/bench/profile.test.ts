import { describe, expect, it } from "vitest";
import { categoryOf, flameGraphSvg, summarize, type CpuProfile } from "./profile.js";

const frame = (functionName: string, url = "", lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
  scriptId: "0",
});

// (root) → handle (express) → proxy (gateway) → write (node http); (root) → (garbage collector); (root) → (idle).
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)"), hitCount: 0, children: [2, 5, 6] },
    {
      id: 2,
      callFrame: frame("handle", "file:///w/node_modules/express/lib/router/layer.js", 9),
      hitCount: 10,
      children: [3],
    },
    {
      id: 3,
      callFrame: frame("proxy", "file:///w/services/gateway/dist/upstream/proxy.js", 41),
      hitCount: 20,
      children: [4],
    },
    { id: 4, callFrame: frame("write", "node:_http_outgoing"), hitCount: 50 },
    { id: 5, callFrame: frame("(garbage collector)"), hitCount: 20 },
    { id: 6, callFrame: frame("(idle)"), hitCount: 900 },
  ],
  startTime: 0,
  // 1000 samples over 1 s: 1 ms each.
  endTime: 1_000_000,
};

describe("CPU profile summary", () => {
  it("puts frames in their package, workspace service or Node area", () => {
    expect(categoryOf(frame("x", "file:///w/node_modules/@opentelemetry/api/build/a.js"))).toBe(
      "@opentelemetry/api",
    );
    expect(categoryOf(frame("x", "file:///w/node_modules/pino/lib/proto.js"))).toBe("pino");
    expect(categoryOf(frame("x", "file:///w/services/lib/dist/app.js"))).toBe("service kit");
    expect(categoryOf(frame("x", "file:///w/services/gateway/dist/app.js"))).toBe("gateway (service code)");
    expect(categoryOf(frame("x", "node:internal/streams/readable"))).toBe("node: streams");
    expect(categoryOf(frame("x", "node:_http_server"))).toBe("node: http");
    expect(categoryOf(frame("(garbage collector)"))).toBe("(garbage collector)");
  });

  it("shares self time among busy samples only, largest first, and counts idle apart", () => {
    const s = summarize(profile);
    expect(s.busyMs).toBeCloseTo(100);
    expect(s.idleMs).toBeCloseTo(900);
    expect(s.byCategory).toEqual([
      { category: "node: http", percent: 50 },
      { category: "gateway (service code)", percent: 20 },
      { category: "(garbage collector)", percent: 20 },
      { category: "express", percent: 10 },
    ]);
    expect(s.topFunctions[0]).toEqual({
      name: "write",
      where: "node:_http_outgoing:1",
      category: "node: http",
      percent: 50,
    });
    expect(s.topFunctions[1]!.where).toBe("services/gateway/dist/upstream/proxy.js:42");
  });

  it("draws each frame as wide as its time including callees, idle left out", () => {
    const svg = flameGraphSvg(profile, "test", { width: 1000 });
    const width = (name: string) => {
      const m = new RegExp(`<title>${name} [^<]*</title><rect [^>]*width="([0-9.]+)"`).exec(svg);
      if (!m) throw new Error(`no frame ${name} in\n${svg}`);
      return Number(m[1]);
    };
    // Busy time is 100 samples: handle covers 80 of them, proxy 70, write 50, the collector 20.
    expect(width("handle")).toBeCloseTo(799.5);
    expect(width("proxy")).toBeCloseTo(699.5);
    expect(width("write")).toBeCloseTo(499.5);
    expect(width("\\(garbage collector\\)")).toBeCloseTo(199.5);
    expect(svg).not.toContain("(idle)");
  });
});
