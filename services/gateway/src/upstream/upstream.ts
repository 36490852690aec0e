import CircuitBreaker from "opossum";
import { Gauge, type Registry } from "prom-client";
import { UpstreamClient, type UpstreamCall, type UpstreamResponse } from "./client.js";
import { RetryBudget } from "./retry-budget.js";

/**
 * The reason a call's signal is aborted with: its downstream client went away (not the upstream's fault), or the
 * request deadline passed. An Error, never a Symbol: undici hands the reason on as the request's error, and the
 * OpenTelemetry undici instrumentation records it with a template string, which throws on a Symbol inside the abort
 * listener and took the whole gateway down whenever a call was aborted before its answer began (a partition).
 */
export class CallAborted extends Error {
  constructor(readonly why: "client gone" | "deadline passed") {
    super(`upstream call aborted: ${why}`);
    this.name = "CallAborted";
  }
}

/** True if `signal` was aborted for that reason. */
export const abortedFor = (signal: AbortSignal, why: CallAborted["why"]): boolean =>
  signal.reason instanceof CallAborted && signal.reason.why === why;

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

/** What one upstream attempt came to, handed to the breaker once it says something about the upstream. */
type Outcome = { ok: true; response: UpstreamResponse } | { ok: false; error: unknown };

const circuitOpen = () => Object.assign(new Error("Breaker is open"), { code: "EOPENBREAKER" });

/**
 * One upstream service: its connection pool, its circuit breaker and its retry budget.
 *
 * A call whose client hung up says nothing about the upstream, so it must count as neither success nor failure.
 * opossum 9 cannot express that: it counts every fire in the error rate's denominator, emits `success` for an
 * error its errorFilter filters (which closes a half-open circuit), and a fire that never settles keeps a
 * half-open circuit rejecting forever. So the call runs outside opossum, gated here the way opossum gates (open:
 * reject; half-open: one trial at a time), and only a finished outcome is fired into the breaker, which keeps the
 * rolling window, the thresholds and the reset timer. A trial whose client left leaves the circuit half-open.
 */
export class Upstream {
  readonly client: UpstreamClient;
  readonly breaker: CircuitBreaker<[Outcome], UpstreamResponse>;
  readonly budget: RetryBudget;
  readonly resetMs: number;
  private trialInFlight = false;

  constructor(
    readonly name: string,
    baseUrl: string,
    opts: UpstreamOptions,
  ) {
    this.client = new UpstreamClient(name, baseUrl);
    this.resetMs = opts.circuitResetMs;
    this.budget = new RetryBudget(opts.retryBudgetPercent);
    this.breaker = new CircuitBreaker(
      async (outcome: Outcome) => {
        if (outcome.ok) return outcome.response;
        throw outcome.error;
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
      },
    );
  }

  /**
   * One attempt: rejects with code EOPENBREAKER while the circuit is open (or half-open with its trial under
   * way), else calls the upstream; a 5xx rejects with UpstreamStatusError. The outcome is counted by the breaker
   * unless the call was aborted because its client went away.
   */
  async attempt(call: UpstreamCall): Promise<UpstreamResponse> {
    const trial = this.admit();
    let outcome: Outcome;
    try {
      const response = await this.client.send(call);
      outcome =
        response.status >= 500
          ? { ok: false, error: new UpstreamStatusError(response) }
          : { ok: true, response };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      if (trial) this.trialInFlight = false;
    }
    const clientLeft = !outcome.ok && abortedFor(call.signal, "client gone");
    // Awaited, so the circuit's new state is in place before the client hears the answer; a circuit that opened
    // meanwhile rejects the report, which is then not needed.
    if (!clientLeft) await this.breaker.fire(outcome).catch(() => undefined);
    if (outcome.ok) return outcome.response;
    throw outcome.error;
  }

  /** True if this call is the half-open circuit's trial; throws EOPENBREAKER if the circuit takes no call now. */
  private admit(): boolean {
    if (this.breaker.closed) return false;
    // pendingClose: half-open and no outcome fired yet since it half-opened.
    if (this.breaker.pendingClose && !this.trialInFlight) {
      this.trialInFlight = true;
      return true;
    }
    throw circuitOpen();
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
