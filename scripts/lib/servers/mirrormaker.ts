import { existsSync, openSync, readSync, closeSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  mirrorCheckpointConfig,
  mirrorSourceConfig,
  mirrorWorkerConfig,
  type MirrorConfig,
  type MirrorPlan,
} from "../../../infra/model/index.js";
import { KAFKA_LOG4J2 } from "./kafka.js";
import { KAFKA_LIBS, KAFKA_VERSION } from "./paths.js";
import { freePort } from "./ports.js";
import { prepareDir, runningServer, spawnTracked, waitUntilReady, type RunningServer } from "./process.js";

export interface MirrorMakerOptions {
  /** Working dir: mm2.properties, log4j2.properties and mirrormaker.log (created if missing). */
  dir: string;
  /** Cluster alias (region name) -> bootstrap "host:port"; must hold the plan's source and target. */
  clusters: Record<string, string>;
  plan: MirrorPlan;
}

// As kafka.ts: small heap, serial GC, C1 only. MirrorMaker runs a Connect worker, a little more than a broker needs.
const JVM_OPTS = [
  "-Xms128m",
  "-Xmx384m",
  "-XX:+UseSerialGC",
  "-XX:TieredStopAtLevel=1",
  "-Djava.awt.headless=true",
];

// One broker per cluster locally: every topic MirrorMaker creates has one replica.
const LOCAL_REPLICATION_FACTOR = 1;
const READY_TIMEOUT_MS = 90_000;

function lines(prefix: string, config: MirrorConfig): string[] {
  return Object.entries(config).map(([key, value]) => `${prefix}${key}=${value}`);
}

/**
 * MirrorMaker 2's dedicated-mode config for the plan's one direction, with the same connector settings as the
 * clusters' KafkaMirrorMaker2 (mirror-plan.ts names them once); only replication factors and tasks are local.
 */
export function mirrorMakerProperties(
  plan: MirrorPlan,
  clusters: Record<string, string>,
  rest: { host: string; port: number },
): string {
  const { source, target } = plan;
  for (const alias of [source, target]) {
    if (!clusters[alias])
      throw new Error(
        `mirrormaker: no bootstrap address for cluster "${alias}" (have: ${Object.keys(clusters).join(", ") || "none"})`,
      );
  }
  const flow = `${source}->${target}.`;
  return [
    `clusters=${source}, ${target}`,
    `${source}.bootstrap.servers=${clusters[source]}`,
    `${target}.bootstrap.servers=${clusters[target]}`,
    `${flow}enabled=true`,
    `${target}->${source}.enabled=false`,
    // The clusters run no heartbeat connector; without this, dedicated mode emits heartbeats for every pair.
    "emit.heartbeats.enabled=false",
    // Its connector still creates the (then empty) heartbeats topic on start, and logs an ERROR if it cannot.
    `${flow}heartbeats.topic.replication.factor=${LOCAL_REPLICATION_FACTOR}`,
    `${flow}topics=${plan.topicsPattern}`,
    `${flow}groups=${plan.groupsPattern}`,
    // One task per connector on a 2-core machine; the clusters size theirs (sourceTasksMax, checkpointTasksMax).
    `${flow}tasks.max=1`,
    ...lines(flow, mirrorSourceConfig(plan, LOCAL_REPLICATION_FACTOR)),
    ...lines(flow, mirrorCheckpointConfig(plan, LOCAL_REPLICATION_FACTOR)),
    // Worker settings are read from the target cluster's prefix (Strimzi: the target cluster's config).
    ...lines(`${target}.`, mirrorWorkerConfig(plan, LOCAL_REPLICATION_FACTOR)),
    // Kafka's own connectors ship ServiceLoader manifests: skip the ~7 s reflective scan of the classpath (read once
    // at the top level while MirrorMaker starts, once from the target's worker config per herder).
    "plugin.discovery=service_load",
    `${target}.plugin.discovery=service_load`,
    "dedicated.mode.enable.internal.rest=true",
    `listeners=http://${rest.host}:${rest.port}`,
    "",
  ].join("\n");
}

/** The log written since `from` (a restart on the same dir appends to the old log). */
function logSince(logFile: string, from: number): string {
  const size = statSync(logFile).size;
  if (size <= from) return "";
  const fd = openSync(logFile, "r");
  try {
    const buffer = Buffer.alloc(size - from);
    readSync(fd, buffer, 0, buffer.length, from);
    return buffer.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Starts MirrorMaker 2 in dedicated mode (org.apache.kafka.connect.mirror.MirrorMaker) for the plan's direction,
 * with internal REST on a free port of the target's host; resolves once a MirrorSourceConnector task replicates
 * topic-partitions source->target (its start line in the log).
 */
export async function startMirrorMaker(opts: MirrorMakerOptions): Promise<RunningServer> {
  const { plan } = opts;
  if (!existsSync(join(KAFKA_LIBS, `connect-mirror-${KAFKA_VERSION}.jar`)))
    throw new Error(
      `kafka ${KAFKA_VERSION} MirrorMaker jars not found in ${KAFKA_LIBS}: run 'npm run setup'`,
    );
  const targetBootstrap = opts.clusters[plan.target];
  const host = targetBootstrap ? targetBootstrap.slice(0, targetBootstrap.lastIndexOf(":")) : "127.0.0.1";
  const port = await freePort(host);
  const properties = mirrorMakerProperties(plan, opts.clusters, { host, port });
  const { dir, owned } = prepareDir("mirrormaker", opts.dir);
  const propsFile = join(dir, "mm2.properties");
  const log4jFile = join(dir, "log4j2.properties");
  writeFileSync(propsFile, properties);
  writeFileSync(log4jFile, KAFKA_LOG4J2);
  const logFile = join(dir, "mirrormaker.log");
  const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
  const proc = spawnTracked({
    tool: "mirrormaker",
    command: "java",
    args: [
      ...JVM_OPTS,
      `-Dlog4j2.configurationFile=${log4jFile}`,
      "-cp",
      join(KAFKA_LIBS, "*"),
      "org.apache.kafka.connect.mirror.MirrorMaker",
      // The file first: --clusters takes one or more values and would swallow it.
      propsFile,
      "--clusters",
      plan.target,
    ],
    dir,
  });
  // MirrorSourceTask.start logs "<thread> replicating <n> topic-partitions <source>-><target>: [...]".
  const running = new RegExp(
    `replicating [1-9]\\d* topic-partitions ${escapeRegExp(plan.source)}->${escapeRegExp(plan.target)}:`,
  );
  await waitUntilReady(proc, async () => running.test(logSince(logFile, logStart)), READY_TIMEOUT_MS);
  return runningServer(proc, {
    host,
    port,
    url: `http://${host}:${port}`,
    dir,
    ownsDir: owned,
    stopTimeoutMs: 15_000,
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
