import { request, type Agent } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { isAlive } from "./state.js";

/** Sends the signal to the process group the PID leads (falls back to the PID alone). */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // Every process here leads its own group (spawned detached): the group also holds nginx workers.
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * SIGTERM (or `signal`), wait up to timeoutMs, then SIGKILL; resolves once the PID is gone. Works from any shell.
 */
export async function stopPid(
  pid: number,
  timeoutMs = 10_000,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<void> {
  if (!isAlive(pid)) return;
  signalGroup(pid, signal);
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) signalGroup(pid, "SIGKILL");
  for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(20);
  if (isAlive(pid)) throw new Error(`process ${pid} survived SIGKILL — check 'ps -o pid,stat,cmd -p ${pid}'`);
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET with an optional Host header (fetch cannot set Host); status 0 when nothing answers within timeoutMs. */
export function httpGet(
  url: string,
  opts: { host?: string; timeoutMs?: number; agent?: Agent | false } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const failed = { status: 0, headers: {}, body: "" };
    const headers = opts.host ? { host: opts.host } : {};
    const req = request(
      url,
      { headers, timeout: opts.timeoutMs ?? 1_000, agent: opts.agent ?? false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", () => resolve(failed));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(failed));
    req.end();
  });
}

export async function httpStatus(
  url: string,
  opts: { host?: string; timeoutMs?: number } = {},
): Promise<number> {
  return (await httpGet(url, opts)).status;
}

/** Polls until check() is true; throws `what` with the last detail after timeoutMs. */
export async function pollUntil(
  what: string,
  check: () => Promise<boolean | string>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let detail = "";
  while (Date.now() < deadline) {
    const result = await check();
    if (result === true) return;
    if (typeof result === "string") detail = result;
    await sleep(intervalMs);
  }
  throw new Error(
    `${what}: not reached within ${(timeoutMs / 1000).toFixed(0)} s${detail ? ` (${detail})` : ""}`,
  );
}

/** Like Promise.all, but waits for every promise, so nothing is still starting when the caller cleans up. */
export async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find(
    (r): r is PromiseRejectedResult => r.status === "rejected",
  );
  if (failed) throw failed.reason;
}
