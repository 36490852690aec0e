import { connect } from "node:net";

/**
 * Opens a TCP connection, writes payload (if any) and resolves with what the server sent back
 * within timeoutMs; rejects on connection errors.
 */
export function tcpExchange(
  host: string,
  port: number,
  payload: string | undefined,
  timeoutMs = 1_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = "";
    const finish = (error?: Error) => {
      socket.destroy();
      if (error) reject(error);
      else resolve(received);
    };
    socket.setTimeout(timeoutMs, () => finish());
    socket.once("error", finish);
    socket.once("connect", () => {
      if (payload === undefined) finish();
      else socket.write(payload);
    });
    socket.on("data", (chunk) => {
      received += chunk.toString("utf8");
      if (received.includes("\n")) finish();
    });
  });
}

/** True once host:port accepts TCP connections. */
export async function acceptsConnections(host: string, port: number): Promise<boolean> {
  await tcpExchange(host, port, undefined);
  return true;
}
