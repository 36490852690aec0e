import type { RunningService } from "@blueprint/service-kit";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useRedis } from "../../../test/harness.js";
import { gatewayEnv, startGateway, type ErrorBody } from "./gateway-env.js";
import { rawExchange } from "./raw-http.js";
import { startStubUpstream, type StubUpstream } from "./stub-upstream.js";

const redis = useRedis();
let catalog: StubUpstream;
let orders: StubUpstream;
let gateway: RunningService;

beforeAll(async () => {
  catalog = await startStubUpstream();
  orders = await startStubUpstream();
  gateway = await startGateway(gatewayEnv(redis().url, { catalog: catalog.url, orders: orders.url }));
});
afterAll(async () => {
  await gateway?.stop();
  await Promise.all([catalog?.stop(), orders?.stop()]);
});

/** Sends `method target HTTP/1.1` as a proxy-style client would, on a raw socket so the target is not rewritten. */
const send = (target: string, method = "GET", host = "gateway.internal") =>
  rawExchange(gateway.url, `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

const seenCounts = () => ({ catalog: catalog.seen.length, orders: orders.seen.length });

describe("absolute-form request targets (RFC 9112 3.2.2)", () => {
  test("when the request line carries an absolute URL, then the upstream gets the path below the prefix and the query, byte for byte", async () => {
    const cases = [
      ["http://edge.example/api/catalog/products/a%20b?x=1&y=%2F", catalog, "/products/a%20b?x=1&y=%2F"],
      ["http://edge.example:8080/api/catalog/products", catalog, "/products"],
      ["HTTPS://[::1]:8443/api/orders?page=2", orders, "/?page=2"],
      ["http://a/api/orders/orders/o-1", orders, "/orders/o-1"],
    ] as const;
    for (const [target, upstream, path] of cases) {
      const before = upstream.seen.length;
      const answer = await send(target);
      expect(answer.statusLine, target).toMatch(/^HTTP\/1\.1 200/);
      expect(upstream.seen.length, target).toBe(before + 1);
      expect(upstream.seen.at(-1)!.url, target).toBe(path);
    }
  });

  test("when the request line carries an absolute URL, then its authority, not the Host header, is the forwarded host", async () => {
    await send("http://edge.example:8080/api/catalog/products", "GET", "somewhere.else");
    expect(catalog.seen.at(-1)!.headers["x-forwarded-host"]).toBe("edge.example:8080");
  });

  test("when an absolute URL names an internal path or climbs out, then 404 or 400 and no upstream sees it", async () => {
    const before = seenCounts();
    for (const target of ["http://a/api/catalog/metrics", "http://edge.example/api/orders/%6c%69%76%65%7a"]) {
      const answer = await send(target);
      expect(answer.statusLine, target).toMatch(/^HTTP\/1\.1 404/);
      expect((JSON.parse(answer.body) as ErrorBody).error.code, target).toBe("ROUTE_NOT_FOUND");
    }
    const climbing = await send("http://edge.example/api/catalog/../orders/x");
    expect(climbing.statusLine).toMatch(/^HTTP\/1\.1 400/);
    expect((JSON.parse(climbing.body) as ErrorBody).error.code).toBe("BAD_PATH");
    const refused = await send("http://edge.example/api/catalog/products", "DELETE");
    expect(refused.statusLine).toMatch(/^HTTP\/1\.1 405/);
    expect(seenCounts()).toEqual(before);
  });

  test("when an absolute URL has no usable host or scheme, then 400 with the reason and no upstream sees it", async () => {
    const before = seenCounts();
    for (const target of [
      "http:///api/catalog/products",
      "http://user@edge.example/api/catalog/products",
      "ftp://edge.example/api/catalog/products",
      // express would route this as /api/catalog/metrics; forwarded raw, catalog would read it as /metrics.
      "http://edge.example/api/catalog\\metrics",
    ]) {
      const answer = await send(target);
      expect(answer.statusLine, target).toMatch(/^HTTP\/1\.1 400/);
      expect((JSON.parse(answer.body) as ErrorBody).error.code, target).toBe("BAD_REQUEST_TARGET");
    }
    expect(seenCounts()).toEqual(before);
  });
});
