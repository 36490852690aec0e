import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ruleGroups } from "../../infra/components/monitoring.js";
import {
  COLORS,
  mirrorPlan,
  type Blueprint,
  type Color,
  type Region,
  type Service,
} from "../../infra/model/index.js";
import {
  ferretdbUrl,
  startKafka,
  startMirrorMaker,
  startMongo,
  startNginx,
  startPostgres,
  startAlertmanager,
  startJaeger,
  startPrometheus,
  startRedis,
  type RunningNginx,
  type RunningPostgres,
} from "../lib/servers/index.js";
import { failoverOrder } from "./dns-config.js";
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
  /** Whether Jaeger runs and the services send it their spans. */
  tracing: boolean;
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

export async function launchKafka({ bp, ports, stateDir }: LaunchContext, region: Region): Promise<Launched> {
  const dir = join(stateDir, region.name, "kafka");
  // Every region's cluster has the model's topics (the services create their dead-letter topics themselves).
  const topics = bp.data.kafka.topics.map((t) => ({ name: t.name, partitions: t.partitions }));
  const server = await startKafka({
    host: region.loopbackAddress,
    port: ports.kafka,
    dir,
    topics,
    // The other regions (MirrorMaker) reach it on the region's peer address: the link the partition drill cuts.
    peer: { host: region.peerAddress, port: ports.kafkaPeer },
  });
  const { pid, host, port, url } = server;
  return {
    rec: dataRec("kafka", region, { pid, host, port, url }, join(dir, "kafka.log")),
    handle: server,
  };
}

/** MirrorMaker 2 of a non-primary region, copying the primary's topics in (undefined for the primary region). */
export async function launchMirrorMaker(
  { bp, ports, stateDir }: LaunchContext,
  region: Region,
): Promise<Launched | undefined> {
  const plan = mirrorPlan(bp, region);
  if (!plan) return undefined;
  const dir = join(stateDir, region.name, "mirrormaker");
  // Its own region's cluster on the region's address, every other one on its peer address (across the link).
  const clusters = Object.fromEntries(
    bp.regions.map(
      (r) =>
        [
          r.name,
          r.name === region.name
            ? `${r.loopbackAddress}:${ports.kafka}`
            : `${r.peerAddress}:${ports.kafkaPeer}`,
        ] as const,
    ),
  );
  const server = await startMirrorMaker({ dir, clusters, plan });
  const { pid, host, port, url } = server;
  return {
    rec: dataRec("mirrormaker", region, { pid, host, port, url }, join(dir, "mirrormaker.log")),
    handle: server,
  };
}

/**
 * The region's PostgreSQL under its FerretDB: the primary region's is the primary, with synchronous replication to
 * the others (the analog of `w: majority` with both regions voting); every other region's is a streaming standby of
 * the current primary. A data dir that exists is started as it is (primary, standby or rejoined).
 */
export async function launchPostgres(
  { bp, ports, stateDir }: LaunchContext,
  region: Region,
  /** A standby of that region's; null: the primary, whatever the model says; undefined: the model's role. */
  standbyOf?: Region | null,
): Promise<Launched & { server: RunningPostgres }> {
  const dir = join(stateDir, region.name, "postgres");
  const upstream =
    standbyOf === null ? undefined : (standbyOf ?? (region.primary ? undefined : bp.primaryRegion));
  const server = await startPostgres({
    host: region.loopbackAddress,
    port: ports.postgres,
    dir,
    // Also on the peer address, which the other regions (their FerretDB, their standby) use.
    alsoListenOn: [region.peerAddress],
    ...(upstream ? { standbyOf: { host: upstream.peerAddress, port: ports.postgres } } : {}),
    synchronousStandby: !upstream && bp.regions.length > 1,
  });
  const { pid, host, port, url } = server;
  return {
    rec: dataRec("postgres", region, { pid, host, port, url }, join(dir, "postgres.log")),
    handle: server,
    server,
  };
}

/**
 * The region's FerretDB. It reaches whichever region's PostgreSQL is writable (a multi-host URL with
 * `target_session_attrs=read-write`, in failover order), the way a MongoDB driver follows the replica set's primary
 * across regions.
 */
export async function launchMongo({ bp, ports, stateDir }: LaunchContext, region: Region): Promise<Launched> {
  const dir = join(stateDir, region.name, "ferretdb");
  // Its own region's PostgreSQL on the region's address, the others' on their peer addresses (across the link).
  const hosts = failoverOrder(bp).map((r) => ({
    host: r.name === region.name ? r.loopbackAddress : r.peerAddress,
    port: ports.postgres,
  }));
  const server = await startMongo({
    host: region.loopbackAddress,
    port: ports.mongo,
    dir,
    postgresqlUrl: ferretdbUrl(hosts),
  });
  const { pid, host, port, url } = server;
  return {
    rec: dataRec("mongo", region, { pid, host, port, url }, join(dir, "ferretdb.log")),
    handle: server,
  };
}

/** ferretdb-<region>, kafka-<region>, ...: the record of one data-tier process of a region. */
function dataRec(
  role: "kafka" | "mirrormaker" | "postgres" | "mongo",
  region: Region,
  at: { pid: number; host: string; port: number; url: string },
  log: string,
): ProcessRecord {
  const prefix = role === "mongo" ? "ferretdb" : role;
  return { name: `${prefix}-${region.name}`, role, ...at, log, region: region.name };
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

/**
 * Prometheus scraping every service port the model gives (every color in every region: a color not running is a
 * target that is down), with the stack's own rule groups (infra/components/monitoring.ts), as on the clusters.
 */
export async function launchPrometheus({ bp, ports, stateDir }: LaunchContext): Promise<Launched> {
  const dir = join(stateDir, "prometheus");
  const server = await startPrometheus({
    host: DNS_HOST,
    port: ports.prometheus,
    dir,
    config: prometheusConfig(bp, ports, `${DNS_HOST}:${ports.alertmanager}`),
    rules: {
      // The drills time the availability alerts to the second; the SLO groups' long windows are costlier to
      // evaluate and need no more than one evaluation per scrape.
      groups: ruleGroups(bp).map((g) =>
        g.name === "availability" ? { ...g, interval: `${EVALUATION_INTERVAL_SECONDS}s` } : g,
      ),
    },
  });
  return {
    rec: {
      name: "prometheus",
      role: "prometheus",
      pid: server.pid,
      host: server.host,
      port: server.port,
      url: server.url,
      log: join(dir, "prometheus.log"),
    },
    handle: server,
  };
}

/** Alertmanager on 127.0.0.1: Prometheus sends it every alert; it groups them and notifies nobody (alertmanagerConfig). */
export async function launchAlertmanager({ ports, stateDir }: LaunchContext): Promise<Launched> {
  const dir = join(stateDir, "alertmanager");
  const server = await startAlertmanager({
    host: DNS_HOST,
    port: ports.alertmanager,
    dir,
    config: alertmanagerConfig(),
  });
  return {
    rec: {
      name: "alertmanager",
      role: "alertmanager",
      pid: server.pid,
      host: server.host,
      port: server.port,
      url: server.url,
      log: join(dir, "alertmanager.log"),
    },
    handle: server,
  };
}

/**
 * alertmanager.yml of the local environment: one group per alert, service and region, sent to a receiver with no
 * integration (nobody is paged on a laptop; a fork adds its pager or chat here). The drills read what arrived from
 * its API. group_wait is short so an alert shows within a second of Prometheus sending it.
 */
export function alertmanagerConfig(): Record<string, unknown> {
  return {
    route: {
      receiver: "local",
      group_by: ["alertname", "service", "region"],
      group_wait: "1s",
      group_interval: "5s",
      repeat_interval: "4h",
    },
    receivers: [{ name: "local" }],
  };
}

/** How often the local Prometheus evaluates the availability rules: each second, so the drills time them closely. */
export const EVALUATION_INTERVAL_SECONDS = 1;

/**
 * prometheus.yml of the local environment: the services' ports from the model, each target labelled service, region
 * and color as the clusters' ServiceMonitors label theirs (`up` carries them), scraped and evaluated at the model's
 * interval (the availability group each second, launchPrometheus).
 */
export function prometheusConfig(
  bp: Blueprint,
  ports: LocalPorts,
  alertmanager?: string,
): Record<string, unknown> {
  const static_configs = bp.regions.flatMap((r) =>
    COLORS.flatMap((color) =>
      bp.services.map((s) => ({
        targets: [`${r.loopbackAddress}:${ports.service(s.name, color, r.name)}`],
        labels: { service: s.name, region: r.name, color },
      })),
    ),
  );
  return {
    global: {
      scrape_interval: `${bp.metrics.scrapeIntervalSeconds}s`,
      // The readiness checks and the consumer lag read run at each scrape, each bounded to 1 s.
      scrape_timeout: "4s",
      evaluation_interval: `${bp.metrics.scrapeIntervalSeconds}s`,
    },
    // The services' own service/region/color win (equal here anyway): without honor_labels every series would
    // also get exported_service, exported_region and exported_color (the ServiceMonitors set honorLabels too).
    scrape_configs: [{ job_name: "services", metrics_path: "/metrics", honor_labels: true, static_configs }],
    ...(alertmanager
      ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [alertmanager] }] }] } }
      : {}),
  };
}

/** Jaeger on 127.0.0.1, traces in memory: every service's spans (OTLP/HTTP), read back through its query API. */
export async function launchJaeger({ ports, stateDir }: LaunchContext): Promise<Launched> {
  const dir = join(stateDir, "jaeger");
  const server = await startJaeger({
    host: DNS_HOST,
    otlpPort: ports.jaegerOtlp,
    queryPort: ports.jaegerQuery,
    queryGrpcPort: ports.jaegerQueryGrpc,
    dir,
  });
  return {
    rec: {
      name: "jaeger",
      role: "tracing",
      pid: server.pid,
      host: server.host,
      port: server.port,
      url: server.url,
      log: join(dir, "jaeger.log"),
    },
    handle: server,
  };
}

/** The OTLP base URL the services send spans to, when tracing is on. */
export const otlpEndpoint = ({ ports, tracing }: LaunchContext) =>
  tracing ? `http://${DNS_HOST}:${ports.jaegerOtlp}` : undefined;

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
  /** Node's own flags before the entry point, e.g. the benchmark's --cpu-prof. */
  nodeArgs?: string[];
}

/** Spawns `node <entry>` with the environment from the model's serviceEnv; `listening` resolves once /livez answers 200. */
export function spawnService(ctx: LaunchContext, s: ServiceLaunch): Launched & { listening: Promise<void> } {
  const { bp, ports, stateDir } = ctx;
  const endpoint = otlpEndpoint(ctx);
  const env = serviceEnv(
    s.service,
    s.region,
    s.color,
    s.version,
    ports,
    s.data,
    s.faults,
    // The file every applyRouting rewrites (state.ts writeActiveColor).
    activeColorFile(stateDir),
    endpoint ? { otlpEndpoint: endpoint, sampleRatio: bp.platform.tracing.sampleRatio } : undefined,
  );
  const name = `${s.service.name}-${s.color}-${s.region.name}`;
  const dir = join(stateDir, s.region.name, "services");
  mkdirSync(dir, { recursive: true });
  const proc = spawnTracked({
    tool: name,
    command: process.execPath,
    args: [...(s.nodeArgs ?? []), s.entry],
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
