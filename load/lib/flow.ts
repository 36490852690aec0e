import http from "k6/http";
import type { Params, RefinedResponse, ResponseType } from "k6/http";
import { check, fail, sleep } from "k6";
import exec from "k6/execution";
import { target } from "./targets.ts";

export const SKUS = ["k6-sku-1", "k6-sku-2", "k6-sku-3", "k6-sku-4", "k6-sku-5"];
const ORDER_STATUSES = ["PENDING", "CONFIRMED", "CANCELLED"];

type Res = RefinedResponse<ResponseType | undefined>;

function params(name: string, extra: Record<string, string> = {}): Params {
  const { host } = target();
  const headers: Record<string, string> = { "content-type": "application/json", ...extra };
  if (host) headers.Host = host;
  return { headers, tags: { name }, timeout: "10s" };
}

/** Every response of the release under test carries its color and version (EXPECT_COLOR / EXPECT_VERSION). */
function releaseChecks(): Record<string, (r: Res) => boolean> {
  const out: Record<string, (r: Res) => boolean> = {};
  if (__ENV.EXPECT_COLOR)
    out["x-color is the expected color"] = (r) => r.headers["X-Color"] === __ENV.EXPECT_COLOR;
  if (__ENV.EXPECT_VERSION)
    out["x-service-version is the expected version"] = (r) =>
      r.headers["X-Service-Version"] === __ENV.EXPECT_VERSION;
  return out;
}

/** What setup() hands every VU: orders to read before a VU has created its own. */
export interface SetupData {
  orderIds: string[];
}

const SEED_ATTEMPTS = 10;

/** setup(): fail fast when the edge does not answer, then upsert the products the mix reads and orders. */
export function prepare(): SetupData {
  const { baseUrl } = target();
  const ready = http.get(`${baseUrl}/readyz`, params("GET /readyz"));
  if (ready.status !== 200) {
    fail(
      `target ${baseUrl} (Host ${target().host ?? "-"}) is not ready: /readyz answered ${ready.status} ${ready.error}`,
    );
  }
  for (const sku of SKUS) {
    const body = JSON.stringify({ name: `Load test ${sku}`, priceCents: 1000, stock: 10_000_000 });
    // The PUT is idempotent, so 5xx answers are retried: seeding must not decide the gate, the scenario does.
    let r = http.put(`${baseUrl}/api/catalog/products/${sku}`, body, params("PUT /products/:sku"));
    for (let attempt = 1; attempt < SEED_ATTEMPTS && (r.status === 0 || r.status >= 500); attempt++) {
      sleep(0.1);
      r = http.put(`${baseUrl}/api/catalog/products/${sku}`, body, params("PUT /products/:sku"));
    }
    if (r.status !== 200 && r.status !== 201)
      fail(`seeding ${sku} failed: ${r.status} ${String(r.body).slice(0, 200)}`);
  }
  for (let i = 0; i < 3; i++) createOrder();
  return { orderIds: [...created] };
}

// Per-VU memory of the orders it created, so GET order reads a real id.
const created: string[] = [];

export function getProduct(): Res {
  const sku = SKUS[Math.floor(Math.random() * SKUS.length)];
  const r = http.get(`${target().baseUrl}/api/catalog/products/${sku}`, params("GET /products/:sku"));
  check(r, { "product 200": (x) => x.status === 200, ...releaseChecks() });
  return r;
}

export function listProducts(): void {
  const r = http.get(`${target().baseUrl}/api/catalog/products`, params("GET /products"));
  check(r, { "products 200": (x) => x.status === 200, ...releaseChecks() });
}

export function createOrder(): void {
  const key = `k6-${Date.now()}-${Math.random().toString(36).slice(2, 10)}${Math.random().toString(36).slice(2, 10)}`;
  const sku = SKUS[Math.floor(Math.random() * SKUS.length)];
  const body = JSON.stringify({ customerId: `k6-customer-${__VU}`, items: [{ sku, quantity: 1 }] });
  const r = http.post(
    `${target().baseUrl}/api/orders/orders`,
    body,
    params("POST /orders", { "Idempotency-Key": key }),
  );
  const ok = check(r, {
    "order 201": (x) => x.status === 201,
    "order has an id": (x) => x.status === 201 && typeof x.json("id") === "string",
    ...releaseChecks(),
  });
  if (ok) created.push(String(r.json("id")));
  if (created.length > 50) created.shift();
}

export function getOrder(data?: SetupData): void {
  const seeded = data?.orderIds ?? [];
  const id =
    created[created.length - 1] ?? seeded[exec.scenario.iterationInTest % Math.max(1, seeded.length)];
  if (!id) return void createOrder();
  const r = http.get(`${target().baseUrl}/api/orders/orders/${id}`, params("GET /orders/:id"));
  check(r, {
    "order 200": (x) => x.status === 200,
    "order status is known": (x) => x.status === 200 && ORDER_STATUSES.includes(String(x.json("status"))),
    ...releaseChecks(),
  });
}

/**
 * One request per iteration, so the arrival rate is the request rate. A shop's browse-to-buy mix: 60% product,
 * 20% list, 10% create order, 10% read order.
 */
export function mixedRequest(data?: SetupData): void {
  // The test-wide iteration number: arrival-rate executors spread iterations over many VUs, so __ITER stays small.
  const slot = exec.scenario.iterationInTest % 10;
  if (slot < 6) void getProduct();
  else if (slot < 8) listProducts();
  else if (slot === 8) createOrder();
  else getOrder(data);
}
