import type { RequestHandler } from "express";
import { AppError } from "./errors.js";

/**
 * Deliberate faults for rehearsing a bad release (FAULT_ERROR_RATE, FAULT_DELAY_MS, FAULT_PATH); off in normal runs.
 */
export interface Faults {
  /** Share of requests, 0..1, answered with 500 FAULT_INJECTED. */
  errorRate: number;
  /** Added to every request before it is handled, in milliseconds. */
  delayMs: number;
  /** Only requests whose path matches are hit; undefined: every application request. */
  path?: RegExp | undefined;
}

export const noFaults: Faults = { errorRate: 0, delayMs: 0 };

/** The faults a service's config asks for. */
export const faultsOf = (config: {
  faultErrorRate: number;
  faultDelayMs: number;
  faultPath?: RegExp | undefined;
}): Faults => ({ errorRate: config.faultErrorRate, delayMs: config.faultDelayMs, path: config.faultPath });

/**
 * Middleware injecting the configured faults into application routes (mounted after /livez /readyz /metrics, so
 * a bad release still passes its probes, as real bad releases do, and only the gates can catch it). The failures
 * are spread evenly, not drawn: of every n hit requests, round(n × errorRate) fail, so a rehearsal's outcome does not
 * depend on luck. Returns undefined when no fault is configured, so a normal release pays nothing per request.
 */
export function faultInjection(faults: Faults): RequestHandler | undefined {
  const { errorRate, delayMs, path } = faults;
  if (errorRate <= 0 && delayMs <= 0) return undefined;
  let hit = 0;
  // Request n fails when n × errorRate crosses a whole number (the epsilon keeps 10 × 0.3 at 3).
  const due = () => {
    hit += 1;
    return Math.floor(hit * errorRate + 1e-9) > Math.floor((hit - 1) * errorRate + 1e-9);
  };
  const fail = (next: (err?: unknown) => void) => {
    if (errorRate > 0 && due())
      next(
        new AppError(
          500,
          "FAULT_INJECTED",
          "fault injected by FAULT_ERROR_RATE (a deliberately bad release)",
          {
            operational: true,
          },
        ),
      );
    else next();
  };
  return (req, _res, next) => {
    if (path && !path.test(req.path)) return next();
    if (delayMs > 0) setTimeout(fail, delayMs, next);
    else fail(next);
  };
}
