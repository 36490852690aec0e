import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { freePort, startMongo, startNginx, startRedis, stopAll } from "../scripts/lib/servers/index.js";
import { pidAlive } from "./harness.js";

const fixture = fileURLToPath(new URL("./fixtures/start-redis-then-exit.ts", import.meta.url));

/** Runs the fixture in a separate Node process and resolves with the Redis PID it reports. */
async function childWithRedis(mode: "exit" | "wait") {
  const child = spawn(process.execPath, ["--import", "tsx", fixture, mode], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = (await once(child.stdout, "data")) as [Buffer];
  const { pid } = JSON.parse(line.toString()) as { pid: number };
  return { child, redisPid: pid };
}

async function eventuallyGone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await sleep(50);
  }
  return false;
}

describe("server start failures", () => {
  it("when the port is already taken, then startRedis throws naming redis and the port", async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    try {
      await expect(startRedis({ port })).rejects.toThrow(`redis: 127.0.0.1:${port} is already in use`);
      await expect(startMongo({ port })).rejects.toThrow(`ferretdb: 127.0.0.1:${port} is already in use`);
    } finally {
      blocker.close();
    }
  });

  it("when nginx cannot parse its config, then the error names nginx, the log file and the offending line", async () => {
    const port = await freePort();
    const config = `events {}\nhttp { server { listen 127.0.0.1:${port}; no_such_directive on; } }\n`;
    const dir = mkdtempSync(join(tmpdir(), "blueprint-nginx-failure-"));
    try {
      const failure = startNginx({ config, dir });
      await expect(failure).rejects.toThrow(
        `nginx failed to start: process exited (exit code 1) before it answered. Log: ${dir}/nginx.log`,
      );
      await expect(failure).rejects.toThrow(/unknown directive "no_such_directive"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("when the config has no listen directive, then startNginx says the harness needs one", async () => {
    await expect(startNginx({ config: "events {}\nhttp {}\n" })).rejects.toThrow(
      /nginx: the config has no `listen host:port;` directive/,
    );
  });
});

describe("process cleanup", () => {
  it("when stopAll() runs, then every server this module started is gone", async () => {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    await stopAll();
    expect([pidAlive(a.pid), pidAlive(b.pid)]).toEqual([false, false]);
  });

  it("when the host process exits without stopping, then its servers are killed with it", async () => {
    const { child, redisPid } = await childWithRedis("exit");
    await once(child, "exit");
    expect(await eventuallyGone(redisPid)).toBe(true);
  });

  it("when the host process gets SIGTERM, then its servers are stopped and it exits 143", async () => {
    const { child, redisPid } = await childWithRedis("wait");
    expect(pidAlive(redisPid)).toBe(true);
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(143);
    expect(await eventuallyGone(redisPid)).toBe(true);
  });
});
