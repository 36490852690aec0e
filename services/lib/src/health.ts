import type { RequestHandler } from "express";

export interface HealthCheck {
  name: string;
  check: () => Promise<unknown>;
  /** Non-critical checks are reported in /readyz but never make it 503 (e.g. Kafka behind an outbox). */
  critical: boolean;
  /**
   * Whether the check means anything on this instance right now (a consumer gated off by the color switch has
   * nothing to check): one that does not always passes, and is left out of readiness_check_up.
   */
  applies: () => boolean;
}

export interface ReadinessReport {
  ready: boolean;
  reason?: string;
  checks: Record<string, "ok" | string>;
  /** State that is not a pass/fail check, e.g. whether this color's consumers run. */
  details?: Record<string, unknown>;
}

function withTimeout<T>(promise: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Liveness is the process; readiness is the registered dependency checks plus the draining flag. */
export class Health {
  private readonly checks: HealthCheck[] = [];
  private drainingSince: number | undefined;
  private readonly details = new Map<string, () => unknown>();

  constructor(private readonly timeoutMs = 1000) {}

  addCheck(
    name: string,
    check: () => Promise<unknown>,
    opts: { critical?: boolean; applies?: () => boolean } = {},
  ): void {
    this.checks.push({ name, check, critical: opts.critical ?? true, applies: opts.applies ?? (() => true) });
  }

  /** Adds `name` to the `details` of every readiness report; `read` must be cheap and synchronous. */
  addDetail(name: string, read: () => unknown): void {
    this.details.set(name, read);
  }

  startDraining(): void {
    this.drainingSince ??= Date.now();
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** Every check run once, in parallel, each within the timeout: "ok" or why it failed. */
  async runChecks(): Promise<(readonly [HealthCheck, "ok" | string])[]> {
    return Promise.all(
      this.checks.map(async (c) => {
        try {
          await withTimeout(Promise.resolve().then(c.check), this.timeoutMs, c.name);
          return [c, "ok"] as const;
        } catch (err) {
          return [c, err instanceof Error ? err.message : String(err)] as const;
        }
      }),
    );
  }

  async readiness(): Promise<ReadinessReport> {
    const results = await this.runChecks();
    const checks = Object.fromEntries(results.map(([c, r]) => [c.name, r]));
    const extra =
      this.details.size > 0
        ? { details: Object.fromEntries([...this.details].map(([name, read]) => [name, read()])) }
        : {};
    if (this.draining) return { ready: false, reason: "draining: shutting down", checks, ...extra };
    const failed = results.find(([c, r]) => c.critical && r !== "ok");
    return failed
      ? { ready: false, reason: `${failed[0].name}: ${failed[1]}`, checks, ...extra }
      : { ready: true, checks, ...extra };
  }

  livez(): RequestHandler {
    return (_req, res) => {
      res.json({ status: "alive" });
    };
  }

  readyz(): RequestHandler {
    return async (_req, res) => {
      if (this.draining) {
        res.status(503).json({ status: "unready", reason: "draining: shutting down" });
        return;
      }
      const report = await this.readiness();
      // A dependency is down: probes and load balancers are told to look again in a second.
      if (!report.ready) res.setHeader("retry-after", "1");
      res.status(report.ready ? 200 : 503).json({ status: report.ready ? "ready" : "unready", ...report });
    };
  }
}
