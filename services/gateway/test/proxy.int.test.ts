import type { RunningService } from "@blueprint/service-kit";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { freePort } from "../../../scripts/lib/servers/index.js";
import { useRedis } from "../../../test/harness.js";
import { gatewayEnv, startGateway, type ErrorBody } from "./gateway-env.js";
import { rawRequest, rawStatusLine } from "./raw-http.js";
import { echo, startStubUpstream, type SeenRequest, type StubUpstream } from "./stub-upstream.js";

const redis = useRedis();
let catalog: StubUpstream;
let orders: StubUpstream;
let gateway: RunningService;
let orphan: RunningService;

beforeAll(async () => {
  catalog = await startStubUpstream();
  orders = await startStubUpstream();
  const env = gatewayEnv(
    redis().url,
    { catalog: catalog.url, orders: orders.url },
    { COLOR: "green", SERVICE_VERSION: "1.4.2" },
  );
  gateway = await startGateway(env);
  // An orders URL where nothing listens: connection refused.
  orphan = await startGateway({ ...env, ORDERS_URL: `http://127.0.0.1:${await freePort()}` });
});
afterAll(async () => {
  await Promise.all([gateway?.stop(), orphan?.stop()]);
  await Promise.all([catalog?.stop(), orders?.stop()]);
});

const lastSeen = (upstream: StubUpstream): SeenRequest => upstream.seen.at(-1)!;

describe("proxying", () => {
  test("when a request has an x-request-id, then the upstream gets it and the response returns it", async () => {
    const res = await fetch(`${gateway.url}/api/catalog/products`, {
      headers: { "x-request-id": "req-abc.123" },
    });
    expect(res.headers.get("x-request-id")).toBe("req-abc.123");
    expect(lastSeen(catalog).headers["x-request-id"]).toBe("req-abc.123");
  });

  test("when a request has no or an unusable request id, then one is generated and sent both ways", async () => {
    const res = await fetch(`${gateway.url}/api/catalog/products`, {
      headers: { "x-request-id": "bad id with spaces" },
    });
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(lastSeen(catalog).headers["x-request-id"]).toBe(id);
  });

  test("when proxying, then the gateway's color goes upstream and its own version and color come back", async () => {
    catalog.behave((req, res, seen) => {
      res.setHeader("x-color", "blue");
      res.setHeader("x-service-version", "9.9.9");
      echo(req, res, seen);
    });
    const res = await fetch(`${gateway.url}/api/catalog/products`);
    expect(lastSeen(catalog).headers["x-color"]).toBe("green");
    expect(res.headers.get("x-color")).toBe("green");
    expect(res.headers.get("x-service-version")).toBe("1.4.2");
    catalog.behave(echo);
  });

  test("when a POST with a query and body is proxied, then method, stripped path, query, body, status and headers pass", async () => {
    orders.behave((_req, res) => {
      res.statusCode = 201;
      res.setHeader("content-type", "application/json");
      res.setHeader("location", "/orders/a%20b");
      res.setHeader("set-cookie", ["a=1", "b=2"]);
      res.end('{"created":true}');
    });
    const body = JSON.stringify({ customerId: "c-1", items: [{ sku: "s-1", quantity: 1 }] });
    const res = await fetch(`${gateway.url}/api/orders/orders?dry=1&x=%2F`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-custom": "kept" },
      body,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe("/orders/a%20b");
    expect(res.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await res.json()).toEqual({ created: true });
    const seen = lastSeen(orders);
    expect(seen).toMatchObject({ method: "POST", url: "/orders?dry=1&x=%2F", body });
    expect(seen.headers).toMatchObject({
      "x-custom": "kept",
      "content-type": "application/json",
      "content-length": String(body.length),
    });
    expect(seen.headers["x-forwarded-for"]).toBe("127.0.0.1");
    orders.behave(echo);
  });

  test("when the client sends hop-by-hop headers, then the upstream never sees them", async () => {
    const res = await rawRequest(gateway.url, {
      path: "/api/orders/orders/o-1",
      headers: {
        connection: "keep-alive, x-hop",
        "x-hop": "secret",
        te: "trailers",
        "keep-alive": "timeout=5",
        "x-e2e": "yes",
      },
    });
    expect(res.status).toBe(200);
    const seen = lastSeen(orders).headers;
    expect(seen["x-hop"]).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen["keep-alive"]).toBeUndefined();
    expect(seen["x-e2e"]).toBe("yes");
    expect(seen.host).toBe(new URL(orders.url).host);
  });

  test("when orders gets malformed JSON, then it reaches orders untouched and orders' 400 is relayed", async () => {
    orders.behave((_req, res, seen) => {
      res.statusCode = 400;
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          error: { code: "MALFORMED_JSON", message: `cannot parse ${seen.body.length} bytes` },
        }),
      );
    });
    const res = await fetch(`${gateway.url}/api/orders/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "k-1" },
      body: '{"customerId": "c-1", items: [',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.message).toBe("cannot parse 30 bytes");
    expect(lastSeen(orders).body).toBe('{"customerId": "c-1", items: [');
    orders.behave(echo);
  });

  test("when the upstream sends a large body, then it is streamed through intact", async () => {
    const big = "x".repeat(2 * 1024 * 1024);
    catalog.behave((_req, res) => res.end(big));
    const res = await fetch(`${gateway.url}/api/catalog/export`);
    expect((await res.text()).length).toBe(big.length);
    catalog.behave(echo);
  });

  test("when catalog dies in the middle of a body, then the client sees a broken response at once, not a hang", async () => {
    catalog.behave((req, res) => {
      res.writeHead(200, { "content-length": "100000" });
      res.write("partial");
      setTimeout(() => req.socket.destroy(), 20);
    });
    const started = performance.now();
    const res = await fetch(`${gateway.url}/api/catalog/export`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(1000);
    catalog.behave(echo);
  });

  test("when orders refuses connections, then the client gets 502 naming orders and the reason", async () => {
    const res = await fetch(`${orphan.url}/api/orders/orders/o-1`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as ErrorBody).error).toEqual({
      code: "UPSTREAM_UNAVAILABLE",
      message: "orders: connection failed (ECONNREFUSED)",
      details: { upstream: "orders", reason: "connection failed (ECONNREFUSED)" },
    });
  });
});

describe("exposure: only the public methods and paths of each upstream", () => {
  test("when a method an upstream does not expose is sent, then 405 with Allow and a reason, and the upstream sees nothing", async () => {
    const cases = [
      { method: "PUT", path: "/api/catalog/products/p-1", allow: "GET, HEAD", upstream: "catalog" },
      { method: "POST", path: "/api/catalog/products", allow: "GET, HEAD", upstream: "catalog" },
      { method: "DELETE", path: "/api/catalog/products/p-1", allow: "GET, HEAD", upstream: "catalog" },
      { method: "PATCH", path: "/api/catalog", allow: "GET, HEAD", upstream: "catalog" },
      { method: "OPTIONS", path: "/api/catalog/products", allow: "GET, HEAD", upstream: "catalog" },
      { method: "PUT", path: "/api/orders/orders/o-1", allow: "GET, POST", upstream: "orders" },
      { method: "DELETE", path: "/api/orders/orders/o-1", allow: "GET, POST", upstream: "orders" },
      { method: "HEAD", path: "/api/orders/orders/o-1", allow: "GET, POST", upstream: "orders" },
    ];
    const before = { catalog: catalog.seen.length, orders: orders.seen.length };
    for (const c of cases) {
      const body = c.method === "HEAD" || c.method === "OPTIONS" ? undefined : '{"stock":1000}';
      const res = await rawRequest(gateway.url, {
        method: c.method,
        path: c.path,
        headers: body ? { "content-type": "application/json", "content-length": body.length } : {},
        body,
      });
      expect(res.status, `${c.method} ${c.path}`).toBe(405);
      expect(res.headers.allow, `${c.method} ${c.path}`).toBe(c.allow);
      if (c.method === "HEAD") continue;
      expect(JSON.parse(res.body), `${c.method} ${c.path}`).toEqual({
        error: {
          code: "METHOD_NOT_ALLOWED",
          message: `${c.upstream}: ${c.method} is not allowed through the gateway (allowed: ${c.allow})`,
          details: { upstream: c.upstream, reason: "method not allowed", allowed: c.allow.split(", ") },
        },
      });
    }
    expect({ catalog: catalog.seen.length, orders: orders.seen.length }).toEqual(before);
  });

  test("when an upstream's /metrics, /livez or /readyz is asked for through the gateway, then 404 and the upstream sees nothing", async () => {
    const before = { catalog: catalog.seen.length, orders: orders.seen.length };
    const paths = [
      "/api/catalog/metrics",
      "/api/catalog/readyz",
      "/api/catalog/livez",
      "/api/orders/metrics",
      "/api/orders/readyz?full=1",
      "/api/orders/livez/",
      "/api/catalog/METRICS",
      "/api/catalog//readyz",
      "/api/catalog/%6Detrics",
      "/api/orders/%6c%69%76%65%7a",
    ];
    for (const path of paths) {
      const res = await rawRequest(gateway.url, { path });
      expect(res.status, path).toBe(404);
      expect((JSON.parse(res.body) as ErrorBody).error.code, path).toBe("ROUTE_NOT_FOUND");
    }
    const post = await rawRequest(gateway.url, { method: "POST", path: "/api/orders/metrics" });
    expect(post.status).toBe(404);
    expect({ catalog: catalog.seen.length, orders: orders.seen.length }).toEqual(before);
  });

  test("when a path only starts like an internal one, then it is proxied", async () => {
    const res = await fetch(`${gateway.url}/api/catalog/metrics-report`);
    expect(res.status).toBe(200);
    expect(lastSeen(catalog).url).toBe("/metrics-report");
    const head = await fetch(`${gateway.url}/api/catalog/products`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(lastSeen(catalog).method).toBe("HEAD");
  });
});

describe("bad input gets 4xx with a reason, never 5xx", () => {
  test("when the path is not routed, then 404 names it", async () => {
    for (const path of ["/", "/api", "/api/payments/x", "/etc/passwd", "/api/catalogue"]) {
      const res = await fetch(gateway.url + path);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as ErrorBody).error.code).toBe("ROUTE_NOT_FOUND");
    }
  });

  test("when the path climbs out with dot segments, then 400 and the upstream sees nothing", async () => {
    const before = catalog.seen.length;
    for (const path of ["/api/catalog/../orders/x", "/api/catalog/%2e%2e/admin", "/api/catalog/./products"]) {
      const res = await rawRequest(gateway.url, { path });
      expect(res.status, path).toBe(400);
      expect((JSON.parse(res.body) as ErrorBody).error.code).toBe("BAD_PATH");
    }
    expect(catalog.seen.length).toBe(before);
  });

  test("when the path or request line is garbage, then the answer is 4xx", async () => {
    for (const path of ["/api/catalog/%", "/api/catalog/%zz%00", "/api/orders/%E0%A4%A"]) {
      const res = await rawRequest(gateway.url, { path });
      expect(res.status, path).toBeLessThan(500);
    }
    expect(await rawStatusLine(gateway.url, "GET /api/catalog/\x01\x02 HTTP/1.1\r\nHost: x\r\n\r\n")).toMatch(
      /^HTTP\/1\.1 400/,
    );
    expect(await rawStatusLine(gateway.url, "BREW /api/catalog HTCPCP/1.0\r\n\r\n")).toMatch(
      /^HTTP\/1\.1 400/,
    );
  });

  test("when the headers are huge, then 431", async () => {
    const res = await rawRequest(gateway.url, {
      path: "/api/catalog/products",
      headers: { "x-big": "a".repeat(64 * 1024) },
    });
    expect(res.status).toBe(431);
  });

  test("when the body is larger than the limit, then 413 with a reason and the upstream sees nothing", async () => {
    const before = orders.seen.length;
    const res = await fetch(`${gateway.url}/api/orders/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pad: "p".repeat(100 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.code).toBe("BODY_TOO_LARGE");
    const chunked = await rawRequest(gateway.url, {
      method: "POST",
      path: "/api/orders/orders",
      headers: { "transfer-encoding": "chunked" },
      body: Buffer.alloc(200 * 1024, 1),
    });
    expect(chunked.status).toBe(413);
    expect(orders.seen.length).toBe(before);
  });

  test("when the body is compressed, then 415 says the encoding is not supported", async () => {
    const res = await fetch(`${gateway.url}/api/orders/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: "not really gzip",
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as ErrorBody).error.code).toBe("UNSUPPORTED_ENCODING");
  });
});
