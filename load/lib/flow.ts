import http from "k6/http";
import type { Params, RefinedResponse, ResponseType } from "k6/http";
import { check, fail, sleep } from "k6";
import exec from "k6/execution";
import { target, type Targets } from "./targets.ts";

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

/** What setup() hands every VU: the catalog's SKUs, and orders to read before a VU has created its own. */
export interface SetupData {
  skus: string[];
  orderIds: string[];
  /** From the model (capacity.writes): "none" keeps the mix read-only, so a gate changes no business data. */
  writes: "orders" | "none";
}

const LIST_ATTEMPTS = 10;

/**
 * setup(): fail fast when the edge does not answer, then read the SKUs the mix reads and orders from the catalog
 * through the target. Catalog writes are internal (the gateway does not proxy them): the environment seeds its
 * products (`npm run local` at `up`; a cloud stack's own data), so an empty catalog fails here, saying so.
 */
export function prepare(writes: Targets["writes"]): SetupData {
  const { baseUrl, host } = target();
  const ready = http.get(`${baseUrl}/readyz`, params("GET /readyz"));
  if (ready.status !== 200) {
    fail(
      `target ${baseUrl} (Host ${host ?? "-"}) is not ready: /readyz answered ${ready.status} ${ready.error}`,
    );
  }
  // The GET is idempotent, so 5xx answers are retried, and a 429 after its Retry-After (a run just before this one,
  // such as the breakpoint ramp, may have spent this client's rate limit): reading the list must not decide the
  // gate, the scenario does.
  let r = http.get(`${baseUrl}/api/catalog/products`, params("GET /products"));
  for (
    let attempt = 1;
    attempt < LIST_ATTEMPTS && (r.status === 0 || r.status === 429 || r.status >= 500);
    attempt++
  ) {
    sleep(r.status === 429 ? Math.min(Number(r.headers["Retry-After"]) || 1, 5) : 0.1);
    r = http.get(`${baseUrl}/api/catalog/products`, params("GET /products"));
  }
  if (r.status !== 200)
    fail(
      `listing products at ${baseUrl}/api/catalog/products failed: ${r.status} ${String(r.body).slice(0, 200)}`,
    );
  const items = (r.json("items") ?? []) as { sku?: unknown; stock?: unknown }[];
  const skus = items
    .filter((p) => typeof p.sku === "string" && (typeof p.stock !== "number" || p.stock > 0))
    .map((p) => String(p.sku));
  if (skus.length === 0)
    fail(
      `the catalog at ${baseUrl} (Host ${host ?? "-"}) has no products in stock: seed it first (the local environment does at \`up\`; on a cloud stack, PUT /products/:sku to the catalog service inside the cluster)`,
    );
  const data: SetupData = { skus, orderIds: [], writes };
  if (data.writes === "orders") for (let i = 0; i < 3; i++) createOrder(data);
  return { ...data, orderIds: [...created] };
}

// Per-VU memory of the orders it created, so GET order reads a real id.
const created: string[] = [];

const pick = (skus: string[]) => skus[Math.floor(Math.random() * skus.length)];

export function getProduct(data: SetupData): Res {
  const sku = pick(data.skus);
  const r = http.get(`${target().baseUrl}/api/catalog/products/${sku}`, params("GET /products/:sku"));
  check(r, { "product 200": (x) => x.status === 200, ...releaseChecks() });
  return r;
}

export function listProducts(): void {
  const r = http.get(`${target().baseUrl}/api/catalog/products`, params("GET /products"));
  check(r, { "products 200": (x) => x.status === 200, ...releaseChecks() });
}

export function createOrder(data: SetupData): void {
  const key = `k6-${Date.now()}-${Math.random().toString(36).slice(2, 10)}${Math.random().toString(36).slice(2, 10)}`;
  const sku = pick(data.skus);
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

export function getOrder(data: SetupData): void {
  const seeded = data.orderIds;
  const id =
    created[created.length - 1] ?? seeded[exec.scenario.iterationInTest % Math.max(1, seeded.length)];
  if (!id) return void createOrder(data);
  const r = http.get(`${target().baseUrl}/api/orders/orders/${id}`, params("GET /orders/:id"));
  check(r, {
    "order 200": (x) => x.status === 200,
    "order status is known": (x) => x.status === 200 && ORDER_STATUSES.includes(String(x.json("status"))),
    ...releaseChecks(),
  });
}

/**
 * One request per iteration, so the arrival rate is the request rate. A shop's browse-to-buy mix: 60% product,
 * 20% list, 10% create order, 10% read order; read-only (`writes: none`): 80% product, 20% list.
 */
export function mixedRequest(data: SetupData): void {
  // The test-wide iteration number: arrival-rate executors spread iterations over many VUs, so __ITER stays small.
  const slot = exec.scenario.iterationInTest % 10;
  if (data.writes === "none") return slot < 8 ? void getProduct(data) : listProducts();
  if (slot < 6) void getProduct(data);
  else if (slot < 8) listProducts();
  else if (slot === 8) createOrder(data);
  else getOrder(data);
}
