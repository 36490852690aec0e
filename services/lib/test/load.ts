import { Agent } from "undici";

export interface LoadResult {
  ok: number;
  failed: number;
  failures: string[];
  /** When the emulated load balancer first saw /readyz answer 503 (epoch ms). */
  unreadySeenAt: number | undefined;
  /** What the prober saw first: a 503 body or a transport error. */
  unreadyReason: string | undefined;
}

/**
 * Bounded keep-alive load against a loopback URL that behaves like a load balancer: a prober polls /readyz and
 * new requests stop once it answers 503 (requests already sent finish). Counts every failed request.
 */
export async function runLoad(opts: {
  baseUrl: string;
  request: (i: number) => { path: string; init?: RequestInit };
  clients: number;
  durationMs: number;
  probeEveryMs?: number;
  okStatus?: (status: number) => boolean;
}): Promise<LoadResult> {
  const dispatcher = new Agent({ connections: opts.clients, keepAliveTimeout: 30_000, pipelining: 1 });
  const result: LoadResult = {
    ok: 0,
    failed: 0,
    failures: [],
    unreadySeenAt: undefined,
    unreadyReason: undefined,
  };
  const unready = (reason: string) => {
    if (result.unreadySeenAt !== undefined) return;
    result.unreadySeenAt = Date.now();
    result.unreadyReason = reason;
  };
  const until = Date.now() + opts.durationMs;
  const probe = setInterval(() => {
    // Like a Kubernetes readiness probe with timeoutSeconds: 2.
    fetch(`${opts.baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) })
      .then(async (res) => {
        const body = await res.text();
        if (res.status !== 200) unready(`${res.status} ${body}`);
      })
      .catch((err: Error) => unready(String(err.cause ?? err)));
  }, opts.probeEveryMs ?? 25);
  let counter = 0;
  const client = async () => {
    while (Date.now() < until && result.unreadySeenAt === undefined) {
      const { path, init } = opts.request(counter++);
      try {
        const res = await fetch(`${opts.baseUrl}${path}`, { ...init, dispatcher } as RequestInit);
        await res.arrayBuffer();
        if ((opts.okStatus ?? ((s) => s < 500))(res.status)) result.ok += 1;
        else {
          result.failed += 1;
          result.failures.push(`status ${res.status}`);
        }
      } catch (err) {
        result.failed += 1;
        result.failures.push(String((err as Error).cause ?? err));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.clients }, client));
  } finally {
    clearInterval(probe);
    await dispatcher.close();
  }
  return result;
}
