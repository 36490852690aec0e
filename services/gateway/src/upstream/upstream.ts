import CircuitBreaker from "opossum";
import { Gauge, type Registry } from "prom-client";
import { UpstreamClient, type UpstreamCall, type UpstreamResponse } from "./client.js";
import { RetryBudget } from "./retry-budget.js";

/** The reason a call's signal is aborted with when the downstream client went away (not the upstream's fault). */
export const clientGone = Symbol("client gone");
/** The reason a call's signal is aborted with when the request deadline passed. */
export const deadlinePassed = Symbol("deadline passed");

/** An upstream 5xx: counted as a breaker failure, yet its response is still relayed if not retried. */
export class UpstreamStatusError extends Error {
  constructor(readonly response: UpstreamResponse) {
    super(`upstream answered ${response.status}`);
    this.name = "UpstreamStatusError";
  }
}

export interface UpstreamOptions {
  retryBudgetPercent: number;
  circuitErrorPercent: number;
  circuitVolume: number;
  circuitResetMs: number;
}

/** One upstream service: its connection pool, its circuit breaker and its retry budget. */
export class Upstream {
  readonly client: UpstreamClient;
  readonly breaker: CircuitBreaker<[UpstreamCall], UpstreamResponse>;
  readonly budget: RetryBudget;
  readonly resetMs: number;

  constructor(
    readonly name: string,
    baseUrl: string,
    opts: UpstreamOptions,
  ) {
    this.client = new UpstreamClient(name, baseUrl);
    this.resetMs = opts.circuitResetMs;
    this.budget = new RetryBudget(opts.retryBudgetPercent);
    this.breaker = new CircuitBreaker(
      async (call: UpstreamCall) => {
        const response = await this.client.send(call);
        if (response.status >= 500) throw new UpstreamStatusError(response);
        return response;
      },
      {
        name,
        // The request deadline aborts the call itself (opossum's timeout would leave the socket running).
        timeout: false,
        errorThresholdPercentage: opts.circuitErrorPercent,
        volumeThreshold: opts.circuitVolume,
        resetTimeout: opts.circuitResetMs,
        rollingCountTimeout: 10_000,
        rollingCountBuckets: 10,
        // A client that hung up says nothing about the upstream. opossum passes the call's args after the error,
        // which @types/opossum 8 does not declare.
        errorFilter: ((_err: unknown, call: UpstreamCall) => call.signal.reason === clientGone) as (
          err: unknown,
        ) => boolean,
      },
    );
  }

  /** 0 closed, 1 half-open (one trial request), 2 open (failing fast). */
  get state(): 0 | 1 | 2 {
    if (this.breaker.opened) return 2;
    return this.breaker.halfOpen ? 1 : 0;
  }

  close(): void {
    this.breaker.shutdown();
    this.client.close();
  }
}

/** Exposes every breaker's state at scrape time, so no event wiring can drift from the real state. */
export function registerCircuitGauge(registry: Registry, upstreams: Upstream[]): void {
  new Gauge({
    name: "gateway_circuit_state",
    help: "Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open",
    labelNames: ["upstream"],
    registers: [registry],
    collect() {
      for (const u of upstreams) this.set({ upstream: u.name }, u.state);
    },
  });
}
