import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import https from "node:https";

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
  body: IncomingMessage;
}

/**
 * One upstream origin over node:http with its own keep-alive agent, so sockets are reused per upstream and a
 * slow upstream cannot exhaust another's pool. node:http rather than fetch: per-origin agents need no extra
 * dependency on Node 20, and the response streams without web-stream conversion.
 */
export class UpstreamClient {
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly origin: { protocol: string; hostname: string; port: string };
  private readonly basePath: string;

  constructor(
    readonly name: string,
    baseUrl: string,
    opts: { maxSockets?: number } = {},
  ) {
    const url = new URL(baseUrl);
    const secure = url.protocol === "https:";
    const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 256, scheduling: "lifo" as const };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.request = secure ? https.request : http.request;
    this.origin = { protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ""), port: url.port };
    this.basePath = url.pathname.replace(/\/+$/, "");
  }

  send(call: UpstreamCall): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      const req = this.request(
        {
          ...this.origin,
          method: call.method,
          path: this.basePath + call.path,
          headers: call.headers,
          agent: this.agent,
          signal: call.signal,
        },
        (res) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: res }),
      );
      req.once("error", reject);
      req.end(call.body);
    });
  }

  /** Closes pooled sockets; in-flight calls are aborted by their signals. */
  close(): void {
    this.agent.destroy();
  }
}
