import { describe, expect, test } from "vitest";
import { exposedRoutes, firstSegment, internalPaths } from "./exposure.js";

describe("gateway exposure", () => {
  test("catalog is read-only and orders is read-and-create through the gateway", () => {
    expect(exposedRoutes.map((r) => [r.prefix, r.methods.join(",")])).toEqual([
      ["/api/catalog", "GET,HEAD"],
      ["/api/orders", "GET,POST"],
    ]);
  });

  test("when an internal path is spelled with case, slashes, a query or percent-encoding, then its segment is found", () => {
    for (const url of [
      "/api/catalog/metrics",
      "/api/catalog/Metrics/",
      "/api/catalog///metrics?x=1",
      "/api/catalog/%6Detrics",
      "/api/catalog/metrics%2Fx",
    ])
      expect(internalPaths.has(firstSegment(url, "/api/catalog")), url).toBe(true);
  });

  test("when a path only resembles an internal one or cannot be decoded, then it is not internal", () => {
    for (const url of [
      "/api/catalog",
      "/api/catalog/",
      "/api/catalog/metrics-report",
      "/api/catalog/products/metrics",
      "/api/catalog/%",
    ])
      expect(internalPaths.has(firstSegment(url, "/api/catalog")), url).toBe(false);
  });
});
