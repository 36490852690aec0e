import {
  commonConfig,
  drainRule,
  key,
  loadConfig,
  redisConfig,
  z,
  type ConfigOf,
} from "@blueprint/service-kit";

const httpUrl = z
  .string()
  .regex(/^https?:\/\/[^\s/]+(\/[^\s?#]*)?$/, "must be an http:// or https:// URL without query")
  .transform((s) => s.replace(/\/+$/, ""));
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const spec = {
  ...commonConfig(8080),
  ...redisConfig(),
  catalogUrl: key("CATALOG_URL", httpUrl, {
    doc: "the catalog base URL of the same color",
    example: "http://127.0.0.1:8081",
  }),
  ordersUrl: key("ORDERS_URL", httpUrl, {
    doc: "the orders base URL of the same color",
    example: "http://127.0.0.1:8082",
  }),
  upstreamTimeoutMs: key("UPSTREAM_TIMEOUT_MS", int(1, 120_000), {
    doc: "the deadline for one proxied request including retries, in milliseconds (1-120000)",
    default: "2000",
  }),
  headersTimeoutMs: key("HEADERS_TIMEOUT_MS", int(100, 120_000), {
    doc: "how long a client may take to send its request headers before the gateway closes the socket (slowloris), in milliseconds",
    default: "66000",
  }),
  requestTimeoutMs: key("REQUEST_TIMEOUT_MS", int(100, 600_000), {
    doc: "how long a client may take to send a whole request, body included, before the gateway closes the socket (slow POST), in milliseconds",
    default: "300000",
  }),
  rateLimitPerSecond: key("RATE_LIMIT_PER_SECOND", int(1, 1_000_000), {
    doc: "the requests per second allowed per client across all gateway instances",
    default: "200",
  }),
  trustProxy: key(
    "TRUST_PROXY",
    z
      .string()
      .regex(/^[0-9a-fA-F.:/, a-z]+$/, "must be false, or addresses, CIDRs and names separated by commas")
      .transform((s) => (s.trim() === "false" ? false : s.split(",").map((p) => p.trim()))),
    {
      doc: "the edge proxies whose X-Forwarded-For is believed (express 'trust proxy' list: addresses, CIDRs, loopback, uniquelocal; false = socket address only)",
      default: "loopback, linklocal, uniquelocal",
    },
  ),
  bodyLimitBytes: key("BODY_LIMIT_BYTES", int(0, 10 * 1024 * 1024), {
    doc: "the largest request body forwarded, in bytes (larger ones get 413)",
    default: "65536",
  }),
  maxRetries: key("UPSTREAM_MAX_RETRIES", int(0, 5), {
    doc: "retries per idempotent request on connection errors, 502 and 503 (0-5)",
    default: "2",
  }),
  retryBudgetPercent: key("RETRY_BUDGET_PERCENT", int(0, 100), {
    doc: "retries allowed as a percentage of recent requests per upstream (0-100)",
    default: "10",
  }),
  circuitErrorPercent: key("CIRCUIT_ERROR_PERCENT", int(1, 100), {
    doc: "the failure percentage in the rolling window that opens a circuit (100 never opens it)",
    default: "50",
  }),
  circuitVolume: key("CIRCUIT_VOLUME_THRESHOLD", int(1, 10_000), {
    doc: "the requests in the rolling window before a circuit may open",
    default: "10",
  }),
  circuitResetMs: key("CIRCUIT_RESET_MS", int(10, 600_000), {
    doc: "how long an open circuit fails fast before one trial request (half-open), in milliseconds",
    default: "5000",
  }),
};

export type GatewayConfig = ConfigOf<typeof spec>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig(spec, env, [drainRule]);
}
