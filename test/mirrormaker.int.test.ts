import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Kafka, logLevel, type Admin } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mirrorPlan, type MirrorPlan } from "../infra/model/index.js";
import { testBlueprint } from "../infra/model/test-blueprints.js";
import { startKafka, startMirrorMaker, type RunningServer } from "../scripts/lib/servers/index.js";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

// Two regions as the model has them: eu-west is the primary, us-east mirrors from it.
const blueprint = testBlueprint({ regions: 2, environment: "dev" }, {}, "mirrormaker-int");
const plan: MirrorPlan = mirrorPlan(blueprint, blueprint.regions[1]!)!;
const topic = blueprint.data.kafka.topics[0]!;
const MESSAGES = 60;
// Generous: on a busy 2-core machine a record is usually mirrored well within a second.
const MAX_MIRROR_LATENCY_MS = 15_000;

function client(brokers: string): Kafka {
  return new Kafka({ clientId: "mirrormaker-int", brokers: [brokers], logLevel: logLevel.NOTHING });
}

async function withAdmin<T>(brokers: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Committed offsets of a group on the topic, "partition:offset" sorted, "" for partitions without a commit. */
async function groupOffsets(brokers: string, groupId: string): Promise<string[]> {
  const [result] = await withAdmin(brokers, (admin) => admin.fetchOffsets({ groupId, topics: [topic.name] }));
  return (result?.partitions ?? [])
    .filter((p) => p.offset !== "-1")
    .map((p) => `${p.partition}:${p.offset}`)
    .sort();
}

describe("mirrormaker 2 from the primary region", () => {
  const dir = mkdtempSync(join(tmpdir(), "blueprint-mm2-int-"));
  const started: RunningServer[] = [];
  let source = "";
  let target = "";

  beforeAll(async () => {
    // Both clusters have the model's topics, as the local environment's do.
    const topics = [{ name: topic.name, partitions: topic.partitions }];
    const brokers = await Promise.allSettled([
      startKafka({ dir: join(dir, plan.source), topics }),
      startKafka({ dir: join(dir, plan.target), topics }),
    ]);
    for (const b of brokers) if (b.status === "fulfilled") started.push(b.value);
    for (const b of brokers) if (b.status === "rejected") throw b.reason;
    [source, target] = started.map((s) => s.url) as [string, string];
    const startedAt = Date.now();
    started.push(
      await startMirrorMaker({
        dir: join(dir, "mirrormaker"),
        clusters: { [plan.source]: source, [plan.target]: target },
        plan,
      }),
    );
    console.log(
      `mirrormaker 2 ${plan.source}->${plan.target} replicating after ${Date.now() - startedAt} ms`,
    );
  });

  afterAll(async () => {
    // MirrorMaker first, so it does not log the brokers going away; every one is stopped even if another fails.
    for (const server of started.reverse()) await server.stop().catch(() => undefined);
    if (process.env.BLUEPRINT_KEEP_SERVER_DIRS !== "1") rmSync(dir, { recursive: true, force: true });
  });

  it("when keyed messages are produced on the primary, then every one arrives on the other region under the same topic name, partition by partition", async () => {
    const received = new Map<string, { partition: number; latencyMs: number }>();
    const consumer = client(target).consumer({ groupId: "mirror-check", maxWaitTimeInMs: 200 });
    const producer = client(source).producer();
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: topic.name, fromBeginning: true });
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
      const all = new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message, partition }) => {
            const { sentAt } = JSON.parse(message.value!.toString()) as { sentAt: number };
            received.set(message.key!.toString(), { partition, latencyMs: Date.now() - sentAt });
            if (received.size === MESSAGES) resolve();
          },
        });
      });
      await joined;

      await producer.connect();
      const sentAt = Date.now();
      const sent = await producer.send({
        topic: topic.name,
        acks: -1,
        messages: Array.from({ length: MESSAGES }, (_, i) => ({
          key: `order-${i}`,
          value: JSON.stringify({ orderId: `order-${i}`, sentAt }),
        })),
      });
      const sourcePartitions = await withAdmin(source, (admin) => admin.fetchTopicOffsets(topic.name));
      const timeout = sleep(MAX_MIRROR_LATENCY_MS * 2, "timeout");
      const outcome = await Promise.race([all.then(() => "all" as const), timeout]);
      const targetTopics = await withAdmin(target, (admin) => admin.listTopics());
      expect(targetTopics).not.toContain(`${plan.source}.${topic.name}`);
      expect(outcome, `received ${received.size} of ${MESSAGES} on ${plan.target}/${topic.name}`).toBe("all");

      const latencies = [...received.values()].map((r) => r.latencyMs).sort((a, b) => a - b);
      const p50 = latencies[Math.floor(latencies.length / 2)]!;
      const max = latencies.at(-1)!;
      console.log(`mirror latency (produce -> visible on ${plan.target}): p50 ${p50} ms, max ${max} ms`);
      expect(max).toBeLessThan(MAX_MIRROR_LATENCY_MS);
      expect(sent.every((r) => r.errorCode === 0)).toBe(true);
      // MirrorMaker keeps each record's partition: a key's order holds in every region.
      const targetPartitions = await withAdmin(target, (admin) => admin.fetchTopicOffsets(topic.name));
      expect(targetPartitions.map((p) => `${p.partition}:${p.high}`).sort()).toEqual(
        sourcePartitions.map((p) => `${p.partition}:${p.high}`).sort(),
      );
    } finally {
      await producer.disconnect();
      await consumer.disconnect();
    }
  });

  it("when a group consumed on the primary, then its offsets show up on the other region within the plan's intervals", async () => {
    const groupId = "orders-projector";
    const consumer = client(source).consumer({ groupId, maxWaitTimeInMs: 200 });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: topic.name, fromBeginning: true });
      let count = 0;
      const all = new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async () => {
            if (++count === MESSAGES) resolve();
          },
        });
      });
      await all;
    } finally {
      // Disconnecting commits what was consumed and leaves the group (a synced group must be inactive on the target).
      await consumer.disconnect();
    }
    const committed = await groupOffsets(source, groupId);
    expect(committed.length).toBeGreaterThan(0);

    const i = plan.intervals;
    const budgetMs =
      (i.refreshGroupsSeconds + i.emitCheckpointsSeconds + i.syncGroupOffsetsSeconds) * 1_000 +
      i.offsetFlushMs +
      10_000;
    const startedAt = Date.now();
    let translated: string[] = [];
    while (Date.now() - startedAt < budgetMs) {
      translated = await groupOffsets(target, groupId);
      if (translated.join() === committed.join()) break;
      await sleep(500);
    }
    console.log(
      `group offsets translated to ${plan.target} after ${Date.now() - startedAt} ms (budget ${budgetMs} ms)`,
    );
    // Same offsets: the target's partitions hold exactly the source's records, and syncs are flushed at commit.
    expect(translated).toEqual(committed);
  });
});
