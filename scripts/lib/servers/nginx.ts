import { execFile } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { assertPortFree } from "./ports.js";
import { findBinary } from "./paths.js";
import { prepareDir, runningServer, spawnTracked, waitUntilReady, type RunningServer } from "./process.js";
import { acceptsConnections } from "./probes.js";

export interface NginxOptions {
  /** A complete nginx.conf (events + http blocks). Must not set daemon, pid or master_process: the harness does. */
  config: string;
  dir?: string;
}

export interface RunningNginx extends RunningServer {
  /** Validates the config (nginx -t), swaps it in with SIGHUP and waits until workers with the new config serve. */
  reload(config: string): Promise<void>;
}

interface ListenAddress {
  host: string;
  port: number;
}

/** The addresses of every `listen` directive; a bare port or `*` means all interfaces, probed on loopback. */
export function parseListen(config: string): ListenAddress[] {
  const found: ListenAddress[] = [];
  for (const match of config.matchAll(/(?:^|[{;])\s*listen\s+([^\s;]+)/gm)) {
    const value = match[1] ?? "";
    const ipv6 = /^\[(.+)\]:(\d+)$/.exec(value);
    const hostPort = /^([^:]+):(\d+)$/.exec(value);
    if (ipv6) found.push({ host: ipv6[1] ?? "::1", port: Number(ipv6[2]) });
    else if (hostPort)
      found.push({
        host: hostPort[1] === "*" ? "127.0.0.1" : (hostPort[1] ?? ""),
        port: Number(hostPort[2]),
      });
    else if (/^\d+$/.test(value)) found.push({ host: "127.0.0.1", port: Number(value) });
  }
  return found;
}

/** Points logs and temp files into dir (unless the config sets them), so nginx never writes to /var as root. */
export function withLocalPaths(config: string, dir: string): string {
  const directives = [
    ["access_log", `access_log ${join(dir, "access.log")};`],
    ["client_body_temp_path", `client_body_temp_path ${join(dir, "client_body")};`],
    ["proxy_temp_path", `proxy_temp_path ${join(dir, "proxy")};`],
    ["fastcgi_temp_path", `fastcgi_temp_path ${join(dir, "fastcgi")};`],
    ["uwsgi_temp_path", `uwsgi_temp_path ${join(dir, "uwsgi")};`],
    ["scgi_temp_path", `scgi_temp_path ${join(dir, "scgi")};`],
  ]
    .filter(([name]) => !new RegExp(`\\b${name}\\b`).test(config))
    .map(([, line]) => `  ${line}`);
  if (directives.length === 0) return config;
  return config.replace(/\bhttp\s*\{/, (open) => `${open}\n${directives.join("\n")}\n`);
}

function workerPids(masterPid: number): number[] {
  try {
    const text = readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, "utf8");
    return text.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Starts nginx in the foreground with its own prefix dir; resolves once every `listen` address accepts connections. */
export async function startNginx(opts: NginxOptions): Promise<RunningNginx> {
  const listen = parseListen(opts.config);
  const first = listen[0];
  if (!first)
    throw new Error(
      "nginx: the config has no `listen host:port;` directive; the harness needs it to probe readiness",
    );
  for (const address of listen) await assertPortFree("nginx", address.host, address.port);
  const binary = findBinary("nginx");
  const { dir, owned } = prepareDir("nginx", opts.dir);
  // Workers run as an unprivileged user when the master is root; they must reach the temp dirs inside dir.
  chmodSync(dir, 0o755);
  const confFile = join(dir, "nginx.conf");
  const logFile = join(dir, "nginx.log");
  const baseArgs = [
    "-p",
    `${dir}/`,
    "-c",
    confFile,
    "-e",
    logFile,
    "-g",
    `daemon off; master_process on; pid ${join(dir, "nginx.pid")};`,
  ];
  writeFileSync(confFile, withLocalPaths(opts.config, dir));
  const proc = spawnTracked({ tool: "nginx", command: binary, args: baseArgs, dir });
  await waitUntilReady(
    proc,
    async () => (await Promise.all(listen.map((a) => acceptsConnections(a.host, a.port)))).every(Boolean),
    15_000,
  );
  const server = runningServer(proc, {
    host: first.host,
    port: first.port,
    url: `http://${first.host}:${first.port}`,
    dir,
    ownsDir: owned,
  });

  async function reload(config: string): Promise<void> {
    const previous = readFileSync(confFile, "utf8");
    writeFileSync(confFile, withLocalPaths(config, dir));
    try {
      await promisify(execFile)(binary, ["-t", "-q", ...baseArgs], { cwd: dir, timeout: 15_000 });
    } catch (error) {
      writeFileSync(confFile, previous);
      const stderr = (error as { stderr?: string }).stderr?.trim() ?? String(error);
      throw new Error(
        `nginx: reload rejected, the new config is invalid (the old one keeps serving):\n${stderr}`,
      );
    }
    const before = new Set(workerPids(proc.pid));
    process.kill(proc.pid, "SIGHUP");
    // New workers mean the new config is live for new connections; old ones drain in-flight requests.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const now = workerPids(proc.pid);
      const fresh = now.filter((pid) => !before.has(pid));
      if (fresh.length > 0 && now.every((pid) => !before.has(pid))) return;
      if (fresh.length > 0 && Date.now() > deadline - 5_000) return;
      await sleep(50);
    }
    throw new Error(`nginx: reload sent but no new worker started within 10 s. Log: ${logFile}`);
  }

  return { ...server, reload };
}
