import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What a stand-in upstream saw, so tests can count and inspect the requests that really arrived. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type StubBehaviour = (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void;

/**
 * A named stand-in for catalog or orders: a real node:http server on 127.0.0.1, port 0, whose behaviour a
 * test swaps at will. By default it echoes the request as JSON.
 */
export interface StubUpstream {
  url: string;
  seen: SeenRequest[];
  /** Requests whose caller closed the connection before an answer was written. */
  readonly hungUp: number;
  behave(behaviour: StubBehaviour): void;
  stop(): Promise<void>;
}

export const echo: StubBehaviour = (_req, res, seen) => {
  res.setHeader("content-type", "application/json");
  res.setHeader("x-upstream", "stub");
  res.end(JSON.stringify(seen));
};

export const status =
  (code: number, body: object = { error: `stub ${code}` }): StubBehaviour =>
  (_req, res) => {
    res.statusCode = code;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(body));
  };

/** Never answers within `ms`; the timer is dropped when the caller hangs up, so nothing outlives the test. */
export const slow =
  (ms: number): StubBehaviour =>
  (req, res) => {
    const timer = setTimeout(() => res.end("late"), ms);
    req.socket.once("close", () => clearTimeout(timer));
  };

/** Drops the connection without an answer, as a crashing process does. */
export const reset: StubBehaviour = (req) => req.socket.destroy();

export async function startStubUpstream(initial: StubBehaviour = echo): Promise<StubUpstream> {
  let behaviour = initial;
  const seen: SeenRequest[] = [];
  let hungUp = 0;
  const server = http.createServer((req, res) => {
    res.once("close", () => {
      if (!res.writableFinished) hungUp++;
    });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const record = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(record);
      behaviour(req, res, record);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    get hungUp() {
      return hungUp;
    },
    behave: (next) => {
      behaviour = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
