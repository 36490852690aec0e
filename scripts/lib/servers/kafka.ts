import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { assertPortFree, freePort } from "./ports.js";
import { KAFKA_LIBS, KAFKA_VERSION } from "./paths.js";
import {
  prepareDir,
  runningServer,
  spawnTracked,
  startFailure,
  waitUntilReady,
  type RunningServer,
} from "./process.js";

export interface KafkaOptions {
  host?: string;
  port?: number;
  dir?: string;
  topics?: { name: string; partitions: number }[];
  /**
   * A second client listener (`PEER`), advertised as itself: the address other regions reach this cluster on
   * (MirrorMaker's source), so cutting that address cuts only the link between regions.
   */
  peer?: { host: string; port: number };
}

// Small heap, serial GC and C1-only JIT: a single test broker starts in ~4 s and stays under ~600 MB.
const JVM_OPTS = [
  "-Xms128m",
  "-Xmx512m",
  "-XX:+UseSerialGC",
  "-XX:TieredStopAtLevel=1",
  "-Djava.awt.headless=true",
];

function serverProperties(
  host: string,
  port: number,
  controllerPort: number,
  dataDir: string,
  peer?: { host: string; port: number },
): string {
  const peerListener = peer ? `,PEER://${peer.host}:${peer.port}` : "";
  return [
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@${host}:${controllerPort}`,
    `listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}${peerListener}`,
    `advertised.listeners=PLAINTEXT://${host}:${port}${peerListener}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PEER:PLAINTEXT",
    `log.dirs=${dataDir}`,
    "num.partitions=1",
    // Topics are created explicitly (by the harness or the service), never by a typo in a producer.
    "auto.create.topics.enable=false",
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=3",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=3",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    "num.network.threads=2",
    "num.io.threads=2",
    "log.flush.interval.ms=1000",
    "",
  ].join("\n");
}

/** log4j2 config of the Kafka JVMs (broker, MirrorMaker): console, INFO, without the config dumps. */
export const KAFKA_LOG4J2 = [
  "rootLogger.level=INFO",
  "rootLogger.appenderRef.stdout.ref=STDOUT",
  "appender.stdout.type=Console",
  "appender.stdout.name=STDOUT",
  "appender.stdout.layout.type=PatternLayout",
  "appender.stdout.layout.pattern=[%d] %p %m (%c)%n",
  // Every broker, client and connector logs its whole config at INFO; keep the log readable.
  "logger.config.name=org.apache.kafka.common.config.AbstractConfig",
  "logger.config.level=WARN",
  "",
].join("\n");

function kafkaClient(broker: string): Kafka {
  return new Kafka({
    clientId: "blueprint-harness",
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
}

async function answersMetadata(broker: string): Promise<boolean> {
  const admin = kafkaClient(broker).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } finally {
    await admin.disconnect();
  }
}

async function createTopics(broker: string, topics: { name: string; partitions: number }[]): Promise<void> {
  const kafka = new Kafka({ clientId: "blueprint-harness", brokers: [broker], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({ topic: t.name, numPartitions: t.partitions, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Starts a single-node Kafka (KRaft, combined broker+controller) on the machine's Java, from the jars
 * scripts/setup/setup.sh cached; resolves once it serves metadata and the given topics have leaders.
 */
export async function startKafka(opts: KafkaOptions = {}): Promise<RunningServer & { brokers: string[] }> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort(host));
  await assertPortFree("kafka", host, port);
  let controllerPort = await freePort(host);
  while (controllerPort === port) controllerPort = await freePort(host);
  if (!existsSync(KAFKA_LIBS))
    throw new Error(`kafka ${KAFKA_VERSION} jars not found in ${KAFKA_LIBS}: run 'npm run setup'`);
  const { dir, owned } = prepareDir("kafka", opts.dir);
  const propsFile = join(dir, "server.properties");
  const log4jFile = join(dir, "log4j2.properties");
  if (opts.peer) await assertPortFree("kafka (peer listener)", opts.peer.host, opts.peer.port);
  writeFileSync(propsFile, serverProperties(host, port, controllerPort, join(dir, "data"), opts.peer));
  writeFileSync(log4jFile, KAFKA_LOG4J2);
  const javaArgs = [...JVM_OPTS, `-Dlog4j2.configurationFile=${log4jFile}`, "-cp", join(KAFKA_LIBS, "*")];
  // The = form because a base64url id may start with "-", which argparse would read as an option.
  // Restarting on an existing dir must keep its cluster id, or the format step refuses the dir.
  const metaFile = join(dir, "data", "meta.properties");
  const existingId = existsSync(metaFile)
    ? /^cluster\.id=(.+)$/m.exec(readFileSync(metaFile, "utf8"))?.[1]
    : undefined;
  const clusterId = existingId ?? randomBytes(16).toString("base64url");
  const logFile = join(dir, "kafka.log");
  try {
    const { stdout } = await promisify(execFile)(
      "java",
      [
        ...javaArgs,
        "kafka.tools.StorageTool",
        "format",
        `--cluster-id=${clusterId}`,
        "-c",
        propsFile,
        "--ignore-formatted",
      ],
      { cwd: dir, timeout: 60_000 },
    );
    writeFileSync(join(dir, "format.log"), stdout);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    writeFileSync(logFile, `storage format failed:\n${detail}\n`);
    throw startFailure("kafka", "storage format (kafka.tools.StorageTool) failed", logFile);
  }
  const proc = spawnTracked({
    tool: "kafka",
    command: "java",
    args: [...javaArgs, "kafka.Kafka", propsFile],
    dir,
  });
  const broker = `${host}:${port}`;
  await waitUntilReady(proc, () => answersMetadata(broker), 60_000);
  const server = runningServer(proc, { host, port, url: broker, dir, ownsDir: owned, stopTimeoutMs: 15_000 });
  if (opts.topics && opts.topics.length > 0) {
    try {
      await createTopics(broker, opts.topics);
    } catch (error) {
      // Stop the process but keep the dir, so the log named in the error still exists.
      await proc.stop();
      const detail = error instanceof Error ? error.message : String(error);
      throw new Error(
        `kafka: creating topics ${opts.topics.map((t) => t.name).join(", ")} failed: ${detail}. Log: ${logFile}`,
      );
    }
  }
  return { ...server, brokers: [broker] };
}
