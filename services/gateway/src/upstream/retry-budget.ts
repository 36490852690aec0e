/**
 * A token bucket that lets retries be at most `percent` of recent requests (the gRPC/Finagle retry budget):
 * every request earns percent/100 of a token, every retry spends one, so in an outage the upstream sees at
 * most (1 + percent/100) times the offered load instead of (1 + maxRetries) times.
 */
export class RetryBudget {
  private tokens: number;
  private readonly earn: number;

  /** `capacity` bounds the burst of retries after a quiet period; it defaults to the retries earned by 100 requests. */
  constructor(
    percent: number,
    private readonly capacity = Math.ceil(percent),
  ) {
    this.earn = percent / 100;
    this.tokens = capacity;
  }

  onRequest(): void {
    this.tokens = Math.min(this.capacity, this.tokens + this.earn);
  }

  /** Spends one token if there is one; false means the retry must not happen. */
  tryRetry(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  get available(): number {
    return Math.floor(this.tokens);
  }
}

/** Full-jitter exponential backoff: uniform in [0, min(capMs, baseMs * 2^retry)], so retrying clients spread out. */
export function backoffMs(
  retry: number,
  baseMs = 20,
  capMs = 250,
  random: () => number = Math.random,
): number {
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** retry));
}

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

/** Only requests that cannot duplicate an effect are retried: safe methods, or any request with an Idempotency-Key. */
export function isIdempotent(
  method: string,
  headers: Record<string, string | string[] | undefined>,
): boolean {
  return safeMethods.has(method) || typeof headers["idempotency-key"] === "string";
}
