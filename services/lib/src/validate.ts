import type { RequestHandler } from "express";
import type { z } from "zod";
import { AppError } from "./errors.js";

/** Finds the first key that MongoDB could read as an operator or a path (`$gt`, `a.b`), at any depth. */
export function findOperatorKey(input: unknown): string | undefined {
  const stack: unknown[] = [input];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || typeof value !== "object") continue;
    if (Array.isArray(value)) {
      stack.push(...value);
      continue;
    }
    for (const [k, v] of Object.entries(value)) {
      if (k.startsWith("$") || k.includes(".")) return k;
      stack.push(v);
    }
  }
  return undefined;
}

export interface FieldIssue {
  field: string;
  message: string;
}

/** Parses with a zod schema after rejecting operator keys; throws a 400 AppError listing every bad field. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  where: "body" | "query" | "params",
): z.output<S> {
  const operator = findOperatorKey(input);
  if (operator !== undefined)
    throw AppError.badRequest(
      "FORBIDDEN_KEY",
      `${where} contains the key "${operator}": keys may not start with "$" or contain "."`,
    );
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const details: FieldIssue[] = parsed.error.issues.map((i) => {
    const path = i.code === "unrecognized_keys" ? [...i.path, i.keys.join(",")] : i.path;
    return { field: path.length > 0 ? path.join(".") : "(root)", message: i.message };
  });
  throw AppError.badRequest(
    "VALIDATION_FAILED",
    `invalid ${where}: ${details.map((d) => `${d.field}: ${d.message}`).join("; ")}`,
    details,
  );
}

/** Express middleware: `req.body` becomes the parsed value. Use strict objects so unknown fields are rejected. */
export function validateBody<S extends z.ZodType>(schema: S): RequestHandler {
  return (req, _res, next) => {
    if (req.body === undefined && !req.is("application/json"))
      throw new AppError(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "expected a JSON body with Content-Type: application/json",
      );
    req.body = parseInput(schema, req.body, "body");
    next();
  };
}

/** Validates the query string; the parsed value is stored in `res.locals.query` (req.query is read-only in express 5). */
export function validateQuery<S extends z.ZodType>(schema: S): RequestHandler {
  return (req, res, next) => {
    // qs-style nesting (`a[$gt]=`) is what becomes operators in frameworks that expand it; refuse it outright.
    const nested = Object.keys(req.query).find((k) => k.includes("[") || k.includes("]"));
    if (nested !== undefined)
      throw AppError.badRequest(
        "FORBIDDEN_KEY",
        `query contains the key "${nested}": nested query syntax is not accepted`,
      );
    res.locals.query = parseInput(schema, req.query, "query");
    next();
  };
}
