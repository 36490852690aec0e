import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import express, { type Express, type RequestHandler } from "express";
import { errorHandler, notFoundHandler } from "./error-handler.js";
import { AppError } from "./errors.js";
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

/** HTTP/1.1 requires Host (RFC 9112, section 3.2): 400 with the reason, as every other refusal. */
const requireHost: RequestHandler = (req, _res, next) => {
  if (req.httpVersion === "1.1" && req.headers.host === undefined)
    next(new AppError(400, "HOST_REQUIRED", "an HTTP/1.1 request must have a Host header"));
  else next();
};

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
  app.use(requireHost);
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

export interface ListenOptions {
  /**
   * How long a client may take to send a request's headers before the socket is closed (slowloris), in ms.
   * @default 66000, longer than the keep-alive timeout, as load balancers expect
   */
  headersTimeoutMs?: number;
  /** How long a client may take to send a whole request, body included (slow POST), in ms. @default 300000 (Node's) */
  requestTimeoutMs?: number;
}

// What Node's default clientError handler answers, but with the kit's error body, so even a request that is not
// HTTP learns why it was refused.
function clientErrorAnswer(err: NodeJS.ErrnoException): { status: number; code: string; message: string } {
  if (err.code === "HPE_HEADER_OVERFLOW")
    return { status: 431, code: "HEADERS_TOO_LARGE", message: "request headers exceed the size limit" };
  if (err.code === "CONNECT_NOT_SUPPORTED")
    return {
      status: 405,
      code: "METHOD_NOT_ALLOWED",
      message: "CONNECT is not supported: this server is not a proxy",
    };
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT")
    return {
      status: 408,
      code: "REQUEST_TIMEOUT",
      message: "the request was not received within the time limit",
    };
  const reason = (err as { reason?: string }).reason ?? err.message;
  return {
    status: 400,
    code: "MALFORMED_HTTP",
    message: `the request is not valid HTTP/1.1: ${reason} (${err.code})`,
  };
}

/** Answers a request Node could not parse (or that timed out) with `{error: {code, message}}`, then closes. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // Like Node's default: answer only if nothing was written on this connection yet, and never on a reset.
  if (err.code !== "ECONNRESET" && socket.writable && (socket as Socket).bytesWritten === 0) {
    const { status, code, message } = clientErrorAnswer(err);
    const body = JSON.stringify({ error: { code, message } });
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Listens and returns `{url, port, stop()}`; `stop()` runs the lifecycle's graceful drain. */
export async function listen(
  app: Express,
  host: string,
  port: number,
  lifecycle: Lifecycle,
  opts: ListenOptions = {},
): Promise<RunningService> {
  const headersTimeout = opts.headersTimeoutMs ?? 66_000;
  const requestTimeout = Math.max(headersTimeout, opts.requestTimeoutMs ?? 300_000);
  // Node checks both deadlines every connectionsCheckingInterval: often enough that they hold within ~25 %.
  const connectionsCheckingInterval = Math.min(
    30_000,
    Math.max(50, Math.min(headersTimeout, requestTimeout) / 4),
  );
  // requireHostHeader false: Node's own refusal is a bare 400; requireHost (createApp) answers it with a reason.
  const server = http.createServer(
    { headersTimeout, requestTimeout, connectionsCheckingInterval, requireHostHeader: false },
    app,
  );
  server.on("clientError", answerClientError);
  // Without a listener Node drops a CONNECT without a word; these services tunnel nothing.
  server.on("connect", (_req: http.IncomingMessage, socket: Duplex) =>
    answerClientError(Object.assign(new Error("CONNECT"), { code: "CONNECT_NOT_SUPPORTED" }), socket),
  );
  server.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  // Longer than typical load balancer idle timeouts (60 s), so the LB, not the pod, closes idle sockets.
  server.keepAliveTimeout = 65_000;
  const address = server.address() as AddressInfo;
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return { url: `http://${urlHost}:${address.port}`, port: address.port, stop: () => lifecycle.stop(server) };
}
