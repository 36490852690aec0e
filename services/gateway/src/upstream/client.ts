import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { Pool } from "undici";

export interface UpstreamCall {
  method: string;
  /** Path and query below the upstream base URL, starting with "/". */
  path: string;
  headers: OutgoingHttpHeaders;
  body: Buffer | undefined;
  /** Aborts the call: the reason tells a deadline from a client that went away. */
  signal: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Streamed to the client as it arrives; must be consumed or destroyed. */
  body: Readable;
}

/**
 * One upstream origin over undici's connection pool, so sockets are reused per upstream and a slow upstream cannot
 * exhaust another's pool. undici rather than node:http's client: the same proxied request costs the gateway about
 * half the CPU (npm run bench profiles it; node:http builds a ClientRequest, an agent queue entry and a parser per
 * request), and the response still streams.
 */
export class UpstreamClient {
  private readonly pool: Pool;
  private readonly basePath: string;

  constructor(
    readonly name: string,
    baseUrl: string,
    opts: { maxSockets?: number } = {},
  ) {
    const url = new URL(baseUrl);
    // The request deadline (the call's signal) bounds every call, so undici's own 300 s timeouts never decide.
    this.pool = new Pool(url.origin, { connections: opts.maxSockets ?? 256 });
    this.basePath = url.pathname.replace(/\/+$/, "");
  }

  async send(call: UpstreamCall): Promise<UpstreamResponse> {
    try {
      const res = await this.pool.request({
        method: call.method as "GET",
        path: this.basePath + call.path,
        headers: call.headers as Record<string, string | string[]>,
        body: call.body ?? null,
        signal: call.signal,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      // undici names a connection the upstream closed or reset before answering UND_ERR_SOCKET; the gateway's
      // retries and its 502 reasons speak Node's socket codes.
      if ((err as { code?: unknown } | null)?.code === "UND_ERR_SOCKET")
        throw Object.assign(
          new Error(`${this.name} closed the connection before answering`, { cause: err }),
          {
            code: "ECONNRESET",
          },
        );
      throw err;
    }
  }

  /** Closes pooled sockets; in-flight calls fail (their signals also abort them). */
  close(): void {
    this.pool.destroy().catch(() => undefined);
  }
}
