import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";
import type { Counter } from "prom-client";
import { AppError } from "./errors.js";

// body-parser error types that are the client's fault, mapped to a reason the client can act on.
const bodyErrors: Record<string, { status: number; code: string; message: (e: Error) => string }> = {
  "entity.parse.failed": {
    status: 400,
    code: "MALFORMED_JSON",
    message: (e) => `request body is not valid JSON: ${e.message}`,
  },
  "entity.too.large": {
    status: 413,
    code: "BODY_TOO_LARGE",
    message: () => "request body exceeds the size limit",
  },
  "encoding.unsupported": { status: 415, code: "UNSUPPORTED_ENCODING", message: (e) => e.message },
  "charset.unsupported": { status: 415, code: "UNSUPPORTED_CHARSET", message: (e) => e.message },
  "request.aborted": {
    status: 400,
    code: "REQUEST_ABORTED",
    message: () => "request was aborted by the client",
  },
  "request.size.invalid": {
    status: 400,
    code: "BODY_SIZE_MISMATCH",
    message: () => "request size did not match Content-Length",
  },
};

// Driver errors that mean "the database is unreachable", not "the code is wrong": the client may retry.
const unavailable =
  /^(Mongo(ServerSelection|Network|NetworkTimeout|NotConnected|TopologyClosed)Error|MaxRetriesPerRequestError)$/;

// Server answers that mean "no writable primary just now" (an election, a step-down, a shutdown, a host the server
// cannot reach): HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress, PrimarySteppedDown,
// ExceededTimeLimit, SocketException, NotWritablePrimary, InterruptedAtShutdown, InterruptedDueToReplStateChange,
// NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
const noPrimaryCodes = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

/** A database error the client may retry: the driver cannot reach it, or the server has no writable primary. */
export function isDependencyDown(err: Error): boolean {
  if (unavailable.test(err.name)) return true;
  if (err.name !== "MongoServerError") return false;
  const { code } = err as { code?: unknown };
  if (typeof code === "number" && noPrimaryCodes.has(code)) return true;
  // FerretDB answers InternalError (1) "failed to connect to ..." while no PostgreSQL behind it accepts writes.
  return code === 1 && err.message.includes("failed to connect");
}

/** Normalises anything thrown into an AppError; unknown errors become a non-operational 500. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof Error) {
    if (err.name === "LockUnavailableError") return AppError.unavailable(err.message, err);
    if (isDependencyDown(err))
      return AppError.unavailable(`a dependency is unavailable (${err.name}); retry later`, err);
    const type = (err as { type?: string }).type;
    const known = type ? bodyErrors[type] : undefined;
    if (known) return new AppError(known.status, known.code, known.message(err), { cause: err });
    const status =
      (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500)
      return new AppError(status, "BAD_REQUEST", err.message, { cause: err });
  }
  return new AppError(500, "INTERNAL", "internal error", { operational: false, cause: err });
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError(404, "ROUTE_NOT_FOUND", `no route for ${req.method} ${req.path}`));
};

/** Central handler: logs, counts and answers with `{error: {code, message, details?}}`. */
export function errorHandler(
  logger: Logger,
  errorsTotal: Counter<"code" | "operational">,
): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const appError = toAppError(err);
    errorsTotal.inc({ code: appError.code, operational: String(appError.operational) });
    const log = req.log ?? logger;
    if (!appError.operational) log.error({ err }, "unexpected error");
    else if (appError.status >= 500) log.warn({ err: appError }, appError.message);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body: { code: string; message: string; details?: unknown } = {
      code: appError.code,
      message: appError.message,
    };
    if (appError.details !== undefined) body.details = appError.details;
    // A dependency is down: the client may retry, and should not hammer it.
    if (appError.status === 503 && !res.getHeader("retry-after")) res.setHeader("retry-after", "1");
    res.status(appError.status).json({ error: body });
  };
}
