import http from "node:http";
import net from "node:net";

/** A request through node:http, for headers fetch refuses to send (Connection, TE) and raw paths it would normalise. */
export function rawRequest(
  url: string,
  opts: { method?: string; path: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { hostname, port, method: opts.method ?? "GET", path: opts.path, headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** Writes bytes on a fresh TCP connection and returns the answer's status line and body (the answer must close). */
export function rawExchange(url: string, bytes: string): Promise<{ statusLine: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    // write, not end: a half-closed socket makes node drop a request whose answer is still on its way.
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (answer += d));
    socket.on("close", () => {
      const split = answer.indexOf("\r\n\r\n");
      resolve({
        statusLine: answer.split("\r\n")[0] ?? "",
        body: split === -1 ? "" : answer.slice(split + 4),
      });
    });
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy(new Error("no answer within 5 s")));
  });
}

/** Writes bytes on a fresh TCP connection and returns the status line of the answer. */
export async function rawStatusLine(url: string, bytes: string): Promise<string> {
  return (await rawExchange(url, bytes)).statusLine;
}
