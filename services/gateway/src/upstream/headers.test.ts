import { describe, expect, test } from "vitest";
import { appendForwardedFor, endToEndHeaders, upstreamPath } from "./headers.js";

describe("end-to-end headers", () => {
  test("when a request carries hop-by-hop fields, then only end-to-end fields are forwarded", () => {
    const out = endToEndHeaders({
      connection: "keep-alive, x-secret-hop",
      "keep-alive": "timeout=5",
      "transfer-encoding": "chunked",
      upgrade: "websocket",
      host: "edge.example",
      te: "trailers",
      "x-secret-hop": "1",
      "content-type": "application/json",
      "idempotency-key": "abc",
      "set-cookie": ["a=1", "b=2"],
    });
    expect(out).toEqual({
      "content-type": "application/json",
      "idempotency-key": "abc",
      "set-cookie": ["a=1", "b=2"],
    });
  });

  test("when fields are listed to skip, then they are dropped as well", () => {
    expect(
      endToEndHeaders(
        { "x-request-id": "u", "x-color": "green", etag: "1" },
        new Set(["x-request-id", "x-color"]),
      ),
    ).toEqual({
      etag: "1",
    });
  });

  test("when X-Forwarded-For exists, then the peer is appended, else it starts the list", () => {
    expect(appendForwardedFor("203.0.113.7", "10.0.0.2")).toBe("203.0.113.7, 10.0.0.2");
    expect(appendForwardedFor(undefined, "10.0.0.2")).toBe("10.0.0.2");
  });
});

describe("upstream path", () => {
  test("when the prefix is stripped, then the rest of the raw URL is kept byte for byte", () => {
    expect(upstreamPath("/api/catalog/products/a%20b?x=1&y=%2F", "/api/catalog")).toBe(
      "/products/a%20b?x=1&y=%2F",
    );
    expect(upstreamPath("/api/catalog", "/api/catalog")).toBe("/");
    expect(upstreamPath("/api/catalog?page=2", "/api/catalog")).toBe("/?page=2");
  });

  test("when the path has dot segments, plain or percent-encoded, then it is refused", () => {
    expect(upstreamPath("/api/catalog/../admin", "/api/catalog")).toBeUndefined();
    expect(upstreamPath("/api/catalog/%2E%2e/admin", "/api/catalog")).toBeUndefined();
    expect(upstreamPath("/api/catalog/./x", "/api/catalog")).toBeUndefined();
    expect(upstreamPath("/api/catalog/products/v1.2..3", "/api/catalog")).toBe("/products/v1.2..3");
  });

  test("when the prefix is followed by anything but '/', '?' or the end, then it is refused", () => {
    expect(upstreamPath("/api/catalog\\metrics", "/api/catalog")).toBeUndefined();
    expect(upstreamPath("/api/catalog/", "/api/catalog")).toBe("/");
  });
});
