import { createServer } from "node:net";

/** A port the OS considers free on host right now (bind to 0, read, release). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() =>
        port > 0 ? resolve(port) : reject(new Error(`freePort: no port assigned on ${host}`)),
      );
    });
  });
}

/** True when nothing is listening on host:port (we can bind it ourselves). */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws "<tool>: host:port is already in use" so a taken port fails before the tool starts. */
export async function assertPortFree(tool: string, host: string, port: number): Promise<void> {
  if (!(await isPortFree(host, port))) {
    throw new Error(
      `${tool}: ${host}:${port} is already in use; pass another port or omit it to get a free one`,
    );
  }
}
