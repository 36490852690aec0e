import { Router, type Request, type Response } from "express";
import { z } from "zod";
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from "zod-openapi";
import { AppError } from "./errors.js";
import { parseInput, validateBody, validateQuery } from "./validate.js";

/** Every 4xx and 5xx the kit's error handler writes: a code a program can branch on and a reason a person can read. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string().min(1),
    message: z.string().min(1),
    details: z.unknown().optional(),
  }),
});

export interface ApiResponse {
  description: string;
  schema?: z.ZodType;
  headers?: z.ZodObject;
  /** OpenAPI links: which operation can follow this answer, with which parameters taken from it. */
  links?: Record<string, { operationId: string; parameters: Record<string, string> }>;
}

type Schema = z.ZodType | undefined;
type Out<S extends Schema> = S extends z.ZodType ? z.output<S> : undefined;

/**
 * One route, declared once: express validates its input with these schemas, and the OpenAPI document is
 * generated from the same schemas. `headers` documents headers the handler checks with the same schemas.
 */
export interface ApiRoute<P extends Schema = Schema, Q extends Schema = Schema, B extends Schema = Schema> {
  operationId: string;
  method: "get" | "put" | "post";
  /** Express syntax: `/products/:sku`. */
  path: string;
  summary: string;
  params?: P;
  query?: Q;
  body?: B;
  headers?: z.ZodObject;
  responses: Record<number, ApiResponse>;
  handler(input: { params: Out<P>; query: Out<Q>; body: Out<B> }, req: Request, res: Response): Promise<void>;
}

/** Keeps each route's handler typed by its own schemas while routes of different shapes share one array. */
export function defineRoute<P extends Schema, Q extends Schema, B extends Schema>(
  route: ApiRoute<P, Q, B>,
): ApiRoute {
  return route as unknown as ApiRoute;
}

/** The methods a path answers, for `Allow`: GET brings HEAD, as express answers HEAD with the GET route. */
function allowedMethods(routes: readonly ApiRoute[], path: string): string {
  const methods = routes.filter((r) => r.path === path).map((r) => r.method.toUpperCase());
  return (methods.includes("GET") ? [...methods, "HEAD"] : methods).join(", ");
}

/**
 * A router with every route: query, then body, then path parameters validated (400 with the reason), then the
 * handler. Another method on a known path is 405 with `Allow`, not 404: the resource exists.
 */
export function apiRouter(routes: readonly ApiRoute[]): Router {
  const router = Router();
  for (const route of routes) {
    const checks = [
      ...(route.query ? [validateQuery(route.query)] : []),
      ...(route.body ? [validateBody(route.body)] : []),
    ];
    router[route.method](route.path, ...checks, async (req, res) => {
      const params = route.params ? parseInput(route.params, req.params, "params") : undefined;
      const query: unknown = route.query ? res.locals.query : undefined;
      const body: unknown = route.body ? req.body : undefined;
      await route.handler({ params, query, body } as never, req, res);
    });
  }
  for (const path of new Set(routes.map((r) => r.path))) {
    const allow = allowedMethods(routes, path);
    router.all(path, (req, res) => {
      res.setHeader("allow", allow);
      // OPTIONS asks exactly this; express answered it on its own before this handler existed.
      if (req.method === "OPTIONS") {
        res.status(204).end();
        return;
      }
      throw new AppError(
        405,
        "METHOD_NOT_ALLOWED",
        `${req.method} is not allowed on ${req.path} (allowed: ${allow})`,
      );
    });
  }
  return router;
}

/** `/products/:sku` → `/products/{sku}`. */
export const openApiPath = (path: string): string => path.replace(/:(\w+)/g, "{$1}");

function operation(route: ApiRoute): ZodOpenApiOperationObject {
  const responses: ZodOpenApiOperationObject["responses"] = {};
  for (const [status, r] of Object.entries(route.responses)) {
    const schema = r.schema ?? (Number(status) >= 400 ? errorBodySchema : undefined);
    responses[status as `${1 | 2 | 3 | 4 | 5}${string}`] = {
      description: r.description,
      ...(schema ? { content: { "application/json": { schema } } } : {}),
      ...(r.headers ? { headers: r.headers } : {}),
      ...(r.links ? { links: r.links } : {}),
    };
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    requestParams: {
      ...(route.params ? { path: route.params as z.ZodObject } : {}),
      ...(route.query ? { query: route.query as z.ZodObject } : {}),
      ...(route.headers ? { header: route.headers } : {}),
    },
    ...(route.body
      ? { requestBody: { required: true, content: { "application/json": { schema: route.body } } } }
      : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of a service's routes, from the schemas its router validates with. */
export function openApiDocument(
  info: { title: string; version: string; description?: string },
  routes: readonly ApiRoute[],
): Record<string, unknown> {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    const item = (paths[openApiPath(route.path)] ??= {});
    item[route.method] = operation(route);
  }
  return createDocument({ openapi: "3.1.0", info, paths }) as unknown as Record<string, unknown>;
}

/** An OpenAPI response object for an error answer, for documents composed outside zod-openapi (the gateway's). */
export function errorResponseObject(description: string): Record<string, unknown> {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(errorBodySchema, { io: "output" });
  return { description, content: { "application/json": { schema } } };
}
