import type { Request, RequestHandler } from "express";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** A registry per service instance, so two instances in one test process never share counters. */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<"method" | "route" | "status">;
  readonly duration: Histogram<"method" | "route" | "status">;
  readonly errors: Counter<"code" | "operational">;

  constructor(defaultLabels: Record<string, string>) {
    this.registry.setDefaultLabels(defaultLabels);
    collectDefaultMetrics({ register: this.registry });
    this.requests = this.counter("http_requests_total", "HTTP requests by matched route", [
      "method",
      "route",
      "status",
    ]);
    this.duration = new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration by matched route",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.errors = this.counter("http_errors_total", "Errors answered by the central handler", [
      "code",
      "operational",
    ]);
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /**
   * A gauge read when Prometheus scrapes. A read that fails keeps the last value: a scrape must still answer while
   * the store behind the gauge is down (the readiness checks report that).
   */
  gauge(name: string, help: string, read: () => Promise<number>): Gauge {
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        try {
          this.set(await read());
        } catch {
          // kept
        }
      },
    });
  }

  /**
   * A gauge with labels, its series replaced by what `read` returns at each scrape (a series it leaves out is
   * dropped); a read that fails keeps the last ones.
   */
  labelledGauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: () => Promise<{ labels: Record<L, string>; value: number }[]>,
  ): Gauge<L> {
    return new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        try {
          const series = await read();
          this.reset();
          for (const { labels, value } of series) this.set(labels, value);
        } catch {
          // kept
        }
      },
    });
  }

  /** Records every response under its route pattern (never the raw URL, which would explode cardinality). */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const end = this.duration.startTimer();
      res.once("finish", () => {
        const labels = { method: req.method, route: routeOf(req), status: String(res.statusCode) };
        this.requests.inc(labels);
        end(labels);
      });
      next();
    };
  }

  handler(): RequestHandler {
    return async (_req, res) => {
      res.setHeader("content-type", this.registry.contentType);
      res.end(await this.registry.metrics());
    };
  }
}

function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === "string" ? `${req.baseUrl}${path}` : "unmatched";
}
