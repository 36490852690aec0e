import type { AddressInfo } from "node:net";
import express, { type Express, type RequestHandler } from "express";
import { errorHandler, notFoundHandler } from "./error-handler.js";
import { faultInjection, noFaults, type Faults } from "./faults.js";
import type { Health } from "./health.js";
import type { DrainTimeline, Lifecycle } from "./lifecycle.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { requestContext } from "./request-context.js";

export interface AppParts {
  logger: Logger;
  health: Health;
  metrics: Metrics;
  /** Sent on every response, e.g. x-service-version and x-color. */
  headers: Record<string, string>;
  bodyLimit?: string;
  /** Parse JSON bodies (limit `bodyLimit`); false leaves the body unread, for a proxy that forwards it untouched. @default true */
  parseJson?: boolean;
  /** Deliberate faults for application routes (rehearsals of a bad release); none by default. */
  faults?: Faults;
}

/** While draining, every response asks the client to close its keep-alive socket after reading it. */
function closeWhileDraining(health: Health): RequestHandler {
  return (_req, res, next) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: typeof res, ...args: Parameters<typeof writeHead>) {
      if (health.draining && !this.headersSent) this.setHeader("connection", "close");
      return writeHead.apply(this, args);
    } as typeof writeHead;
    next();
  };
}

/**
 * An express app with the kit's middleware in order: request id + logger, metrics, drain header, /livez
 * /readyz /metrics, injected faults if configured, JSON body limit (unless `parseJson` is false); then `mount` adds the service's routes; then 404 and the central error handler.
 */
export function createApp(parts: AppParts, mount: (app: Express) => void): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use(requestContext(parts.logger, parts.headers));
  app.use(parts.metrics.middleware());
  app.use(closeWhileDraining(parts.health));
  app.get("/livez", parts.health.livez());
  app.get("/readyz", parts.health.readyz());
  app.get("/metrics", parts.metrics.handler());
  const faults = faultInjection(parts.faults ?? noFaults);
  if (faults) app.use(faults);
  if (parts.parseJson !== false) app.use(express.json({ limit: parts.bodyLimit ?? "64kb", strict: true }));
  mount(app);
  app.use(notFoundHandler);
  app.use(errorHandler(parts.logger, parts.metrics.errors));
  return app;
}

export interface RunningService {
  url: string;
  port: number;
  stop(): Promise<DrainTimeline>;
}

/** Listens and returns `{url, port, stop()}`; `stop()` runs the lifecycle's graceful drain. */
export async function listen(
  app: Express,
  host: string,
  port: number,
  lifecycle: Lifecycle,
): Promise<RunningService> {
  const server = app.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  // Longer than typical load balancer idle timeouts (60 s), so the LB, not the pod, closes idle sockets.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const address = server.address() as AddressInfo;
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return { url: `http://${urlHost}:${address.port}`, port: address.port, stop: () => lifecycle.stop(server) };
}
