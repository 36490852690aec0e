/** The one error type services throw; `operational` errors are expected (bad input, missing data, dependency down). */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly operational: boolean;
  readonly details: unknown;

  constructor(
    status: number,
    code: string,
    message: string,
    opts: { operational?: boolean; cause?: unknown; details?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "AppError";
    this.status = status;
    this.code = code;
    this.operational = opts.operational ?? status < 500;
    this.details = opts.details;
  }

  static badRequest(code: string, message: string, details?: unknown): AppError {
    return new AppError(400, code, message, { details });
  }

  static notFound(message: string): AppError {
    return new AppError(404, "NOT_FOUND", message);
  }

  /** A dependency is unavailable: the request may be retried; nothing is wrong with the code. */
  static unavailable(message: string, cause?: unknown): AppError {
    return new AppError(503, "DEPENDENCY_UNAVAILABLE", message, { operational: true, cause });
  }
}
