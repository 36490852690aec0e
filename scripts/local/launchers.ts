import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Blueprint, Color, Region, Service } from "../../infra/model/index.js";
import { startKafka, startMongo, startNginx, startRedis, type RunningNginx } from "../lib/servers/index.js";
import { spawnTracked, waitUntilReady } from "../lib/servers/process.js";
import { DNS_HOST, startPowerDns } from "./dns-server.js";
import { edgeConfigFile } from "./edge.js";
import type { LocalPorts } from "./ports.js";
import { httpStatus, pollUntil } from "./processes.js";
import { serviceEnv, type DataUrls, type Faults } from "./service-env.js";
import { activeColorFile, isAlive, type ProcessRecord } from "./state.js";

// One function per process kind: start it (with the harness of scripts/lib/servers) and describe it for state.json.

export type Stoppable = { stop(): Promise<void> };
export interface Launched {
  rec: ProcessRecord;
  handle: Stoppable;
}
export interface LaunchContext {
  bp: Blueprint;
  ports: LocalPorts;
  stateDir: string;
}

export async function launchRedis({ ports, stateDir }: LaunchContext, region: Region): Promise<Launched> {
  const dir = join(stateDir, region.name, "redis");
  const server = await startRedis({ host: region.loopbackAddress, port: ports.redis, dir });
  const rec: ProcessRecord = {
    name: `redis-${region.name}`,
    role: "redis",
    pid: server.pid,
    host: server.host,
    port: server.port,
    url: server.url,
    log: join(dir, "redis.log"),
    region: region.name,
  };
  return { rec, handle: server };
}

export async function launchKafka({ bp, ports, stateDir }: LaunchContext): Promise<Launched> {
  const dir = join(stateDir, "kafka");
  const topics = bp.data.kafka.topics.map((t) => ({ name: t.name, partitions: t.partitions }));
  const server = await startKafka({ host: "127.0.0.1", port: ports.kafka, dir, topics });
  const { pid, host, port, url } = server;
  return {
    rec: { name: "kafka", role: "kafka", pid, host, port, url, log: join(dir, "kafka.log") },
    handle: server,
  };
}

export async function launchMongo({ ports, stateDir }: LaunchContext): Promise<Launched> {
  const dir = join(stateDir, "ferretdb");
  const server = await startMongo({ host: "127.0.0.1", port: ports.mongo, dir });
  const { pid, host, port, url } = server;
  return {
    rec: { name: "ferretdb", role: "mongo", pid, host, port, url, log: join(dir, "ferretdb.log") },
    handle: server,
  };
}

export async function launchDns({ bp, ports, stateDir }: LaunchContext): Promise<Launched> {
  const proc = await startPowerDns(bp, ports, join(stateDir, "dns"));
  const url = `dns://${DNS_HOST}:${ports.dns}`;
  return {
    rec: {
      name: "pdns",
      role: "dns",
      pid: proc.pid,
      host: DNS_HOST,
      port: ports.dns,
      url,
      log: proc.logFile,
    },
    handle: proc,
  };
}

export const edgeDir = (stateDir: string, region: string) => join(stateDir, region, "edge");

export async function launchEdge(
  { ports, stateDir }: LaunchContext,
  region: Region,
  config: string,
): Promise<Launched & { edge: RunningNginx }> {
  const dir = edgeDir(stateDir, region.name);
  const edge = await startNginx({ config, dir });
  const rec: ProcessRecord = {
    name: `edge-${region.name}`,
    role: "edge",
    pid: edge.pid,
    host: region.loopbackAddress,
    port: ports.edge,
    url: edge.url,
    log: join(dir, "access.log"),
    region: region.name,
    config: edgeConfigFile(dir),
  };
  return { rec, handle: edge, edge };
}

export interface ServiceLaunch {
  service: Service;
  region: Region;
  color: Color;
  version: string;
  entry: string;
  data: DataUrls;
  faults?: Faults;
}

/** Spawns `node <entry>` with the environment from the model's serviceEnv; `listening` resolves once /livez answers 200. */
export function spawnService(
  { ports, stateDir }: LaunchContext,
  s: ServiceLaunch,
): Launched & { listening: Promise<void> } {
  // The file every applyRouting rewrites (state.ts writeActiveColor).
  const env = serviceEnv(
    s.service,
    s.region,
    s.color,
    s.version,
    ports,
    s.data,
    s.faults,
    activeColorFile(stateDir),
  );
  const name = `${s.service.name}-${s.color}-${s.region.name}`;
  const dir = join(stateDir, s.region.name, "services");
  mkdirSync(dir, { recursive: true });
  const proc = spawnTracked({
    tool: name,
    command: process.execPath,
    args: [s.entry],
    dir,
    logName: `${name}.log`,
    env,
  });
  const url = `http://${s.region.loopbackAddress}:${env.PORT}`;
  const rec: ProcessRecord = {
    name,
    role: "service",
    pid: proc.pid,
    host: s.region.loopbackAddress,
    port: Number(env.PORT),
    url,
    log: proc.logFile,
    region: s.region.name,
    color: s.color,
    service: s.service.name,
    version: s.version,
  };
  const listening = waitUntilReady(proc, async () => (await httpStatus(`${url}/livez`)) === 200, 30_000);
  return { rec, handle: { stop: () => proc.stop((s.service.drainSeconds + 5) * 1000) }, listening };
}

/** Polls a service's /readyz until 200; fails at once, naming the log, if the process exits. */
export function waitReadyz(rec: ProcessRecord, timeoutMs: number): Promise<void> {
  const check = async () => {
    if (!isAlive(rec.pid)) throw new Error(`${rec.name} (pid ${rec.pid}) exited — see ${rec.log}`);
    const status = await httpStatus(`${rec.url}/readyz`);
    return status === 200 || `last status ${status || "no answer"}, log ${rec.log}`;
  };
  return pollUntil(`${rec.name} /readyz 200`, check, timeoutMs, 200);
}
