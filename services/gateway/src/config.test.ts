import { ConfigError } from "@blueprint/service-kit";
import { describe, expect, test } from "vitest";
import { loadGatewayConfig } from "./config.js";

const required = {
  CATALOG_URL: "http://127.0.0.1:8081/",
  ORDERS_URL: "http://127.0.0.1:8082",
  REDIS_URL: "redis://127.0.0.1:6379",
};

describe("gateway config", () => {
  test("when only the required keys are set, then the documented defaults apply", () => {
    const config = loadGatewayConfig(required);
    expect(config).toMatchObject({
      port: 8080,
      catalogUrl: "http://127.0.0.1:8081",
      upstreamTimeoutMs: 2000,
      rateLimitPerSecond: 200,
      trustProxy: ["loopback", "linklocal", "uniquelocal"],
    });
  });

  test("when TRUST_PROXY is false, then only the socket address identifies the client", () => {
    expect(loadGatewayConfig({ ...required, TRUST_PROXY: "false" }).trustProxy).toBe(false);
  });

  test("when the upstream URLs are missing or not http, then the error names each key and the fix", () => {
    let error: unknown;
    try {
      loadGatewayConfig({ REDIS_URL: "redis://x:1", ORDERS_URL: "ftp://orders", UPSTREAM_TIMEOUT_MS: "0" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(
      "CATALOG_URL: is required but not set. Fix: set CATALOG_URL to the catalog base URL",
    );
    expect(message).toContain(
      'ORDERS_URL: value "ftp://orders" is invalid (must be an http:// or https:// URL',
    );
    expect(message).toContain('UPSTREAM_TIMEOUT_MS: value "0" is invalid');
  });
});
