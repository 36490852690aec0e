import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";
import type { Logger } from "pino";

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      id: string;
      log: Logger;
    }
  }
}

const validId = /^[A-Za-z0-9._:-]{1,128}$/;
// Probes and scrapes arrive every few seconds from every kubelet and Prometheus: no access line for them.
const unlogged = new Set(["/livez", "/readyz", "/metrics"]);

/**
 * Binds a request id (x-request-id in and out) and a child logger to every request, and writes one access
 * log line per response (none for /livez, /readyz and /metrics). Hand-written rather than pino-http to keep per-request work to one child logger.
 */
export function requestContext(logger: Logger, headers: Record<string, string>): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers["x-request-id"];
    req.id = typeof incoming === "string" && validId.test(incoming) ? incoming : randomUUID();
    req.log = logger.child({ reqId: req.id });
    res.setHeader("x-request-id", req.id);
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    if (logger.isLevelEnabled("info") && !unlogged.has(req.url)) {
      const started = process.hrtime.bigint();
      res.once("finish", () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        req.log.info(
          { method: req.method, url: req.originalUrl, status: res.statusCode, ms: Math.round(ms * 10) / 10 },
          "request",
        );
      });
    }
    next();
  };
}
