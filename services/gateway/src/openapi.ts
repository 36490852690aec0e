import { AppError, errorResponseObject } from "@blueprint/service-kit";
import type { RequestHandler } from "express";
import { internalPaths, type ExposedRoute } from "./exposure.js";

/** The parts of an OpenAPI 3.1 document the composition reads; everything else is carried over untouched. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths?: Record<string, Record<string, unknown>>;
  components?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

interface Operation {
  operationId?: string;
  responses?: Record<string, { links?: Record<string, { operationId?: string }> }>;
}

const methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"] as const;

// What the gateway itself answers on every public operation, besides what the upstream does.
const gatewayResponses: Record<string, Record<string, unknown>> = {
  "429": errorResponseObject("rate limited (per client, across gateway instances); retry after Retry-After"),
  "502": errorResponseObject("the upstream failed or answered badly"),
  "503": errorResponseObject("the upstream is unavailable (circuit open) or a dependency of it is down"),
  "504": errorResponseObject("the upstream did not answer within the gateway's deadline"),
};

/**
 * The public API as the edge serves it: each exposed route's upstream paths under its prefix, only the methods
 * the gateway lets through, never the upstreams' internal paths, links only to operations still in the document.
 */
export function publicDocument(
  services: Record<ExposedRoute["upstream"], OpenApiDocument>,
  routes: readonly ExposedRoute[],
  info: OpenApiDocument["info"],
): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  const components: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const service = services[route.upstream];
    for (const [path, item] of Object.entries(service.paths ?? {})) {
      if (internalPaths.has(path.split("/")[1]?.toLowerCase() ?? "")) continue;
      const allowed = Object.fromEntries(
        Object.entries(item).filter(
          ([key]) =>
            !(methods as readonly string[]).includes(key) || route.methods.includes(key.toUpperCase()),
        ),
      );
      if (!methods.some((m) => m in allowed)) continue;
      paths[route.prefix + path] = structuredClone(allowed);
    }
    for (const [kind, entries] of Object.entries(service.components ?? {}))
      for (const [name, value] of Object.entries(entries)) {
        const into = (components[kind] ??= {});
        if (name in into && JSON.stringify(into[name]) !== JSON.stringify(value))
          throw new Error(`components.${kind}.${name} differs between upstreams`);
        into[name] = value;
      }
  }
  const operations = Object.values(paths).flatMap((item) =>
    methods.flatMap((m) => (item[m] ? [item[m] as Operation] : [])),
  );
  const ids = new Set(operations.map((op) => op.operationId));
  for (const op of operations) {
    op.responses ??= {};
    for (const response of Object.values(op.responses))
      for (const [name, link] of Object.entries(response.links ?? {}))
        if (!ids.has(link.operationId)) delete response.links![name];
    for (const [status, response] of Object.entries(gatewayResponses))
      op.responses[status] ??= structuredClone(response) as never;
  }
  return {
    openapi: "3.1.0",
    info,
    paths,
    ...(Object.keys(components).length > 0 ? { components } : {}),
  };
}

/** GET /openapi.json: the upstreams' documents, fetched now (same color), composed into the public one. */
export function publicDocumentHandler(
  upstreams: Record<ExposedRoute["upstream"], string>,
  routes: readonly ExposedRoute[],
  opts: { timeoutMs: number; version: string },
): RequestHandler {
  return async (_req, res) => {
    const fetchDoc = async (name: ExposedRoute["upstream"]): Promise<OpenApiDocument> => {
      try {
        const answer = await fetch(`${upstreams[name]}/openapi.json`, {
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
        if (!answer.ok) throw new Error(`status ${answer.status}`);
        return (await answer.json()) as OpenApiDocument;
      } catch (err) {
        throw AppError.unavailable(`${name}: its OpenAPI document could not be read`, err);
      }
    };
    const [catalog, orders] = await Promise.all([fetchDoc("catalog"), fetchDoc("orders")]);
    res.json(
      publicDocument({ catalog, orders }, routes, {
        title: "public API (through the gateway)",
        version: opts.version,
      }),
    );
  };
}
