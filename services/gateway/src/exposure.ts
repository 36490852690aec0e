import { AppError } from "@blueprint/service-kit";
import type { RequestHandler } from "express";
import { originPath } from "./request-target.js";

/** One public route prefix of the gateway: which upstream it reaches and with which methods. */
export interface ExposedRoute {
  upstream: "catalog" | "orders";
  prefix: string;
  methods: readonly string[];
}

/**
 * Everything the edge may reach through the gateway. Catalog writes (PUT /products/:sku) are internal only:
 * the local environment and operators call catalog directly.
 */
export const exposedRoutes: readonly ExposedRoute[] = [
  { upstream: "catalog", prefix: "/api/catalog", methods: ["GET", "HEAD"] },
  { upstream: "orders", prefix: "/api/orders", methods: ["GET", "POST"] },
];

/** Operational endpoints every upstream has; they answer the cluster (probes, Prometheus), never the internet. */
export const internalPaths: ReadonlySet<string> = new Set(["metrics", "livez", "readyz"]);

/**
 * The first path segment below `prefix`, percent-decoded and lowercased, because express upstreams match
 * routes case-insensitively, ignore a trailing slash, and a client may encode letters.
 */
export function firstSegment(rawUrl: string, prefix: string): string {
  const end = rawUrl.indexOf("?");
  let rest = rawUrl.slice(prefix.length, end === -1 ? undefined : end);
  if (rest.includes("%")) {
    try {
      rest = decodeURIComponent(rest);
    } catch {
      // Undecodable: the upstream cannot route it to an internal path either; the proxy passes it on.
    }
  }
  let start = 0;
  while (rest[start] === "/") start++;
  const slash = rest.indexOf("/", start);
  return rest.slice(start, slash === -1 ? undefined : slash).toLowerCase();
}

/**
 * Enforces one exposed route before the body is read: internal upstream paths are 404 (they do not exist
 * here), other methods are 405 with `Allow`. A Set lookup and one short string scan per request.
 */
export function enforceExposure(route: ExposedRoute): RequestHandler {
  const methods = new Set(route.methods);
  const allow = route.methods.join(", ");
  return (req, res, next) => {
    if (internalPaths.has(firstSegment(originPath(req.url), route.prefix))) {
      next(new AppError(404, "ROUTE_NOT_FOUND", `no route for ${req.method} ${req.path}`));
      return;
    }
    if (methods.has(req.method)) {
      next();
      return;
    }
    res.setHeader("allow", allow);
    next(
      new AppError(
        405,
        "METHOD_NOT_ALLOWED",
        `${route.upstream}: ${req.method} is not allowed through the gateway (allowed: ${allow})`,
        { details: { upstream: route.upstream, reason: "method not allowed", allowed: route.methods } },
      ),
    );
  };
}
